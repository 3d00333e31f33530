#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::all_key_types;
using testing::cached_key;
using testing::error_queue_empty;

// Signs with `signer` and verifies with `verifier`: proves both hold the same key pair.
bool same_key_pair(EVP_PKEY* signer, EVP_PKEY* verifier) {
    const std::string msg = "key pair check";
    MdCtxPtr s(EVP_MD_CTX_new());
    size_t len = 0;
    if (EVP_DigestSignInit(s.get(), nullptr, EVP_sha256(), nullptr, signer) != 1) return false;
    if (EVP_DigestSign(s.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(msg.data()),
                       msg.size()) != 1)
        return false;
    std::string sig(len, '\0');
    if (EVP_DigestSign(s.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) != 1)
        return false;
    MdCtxPtr v(EVP_MD_CTX_new());
    if (EVP_DigestVerifyInit(v.get(), nullptr, EVP_sha256(), nullptr, verifier) != 1) return false;
    return EVP_DigestVerify(v.get(), reinterpret_cast<const unsigned char*>(sig.data()), len,
                            reinterpret_cast<const unsigned char*>(msg.data()), msg.size()) == 1;
}

// A certificate PEM made with OpenSSL directly.
std::string test_cert_pem(EVP_PKEY* key) {
    testing::CertSpec spec;
    spec.cn = "combined.example";
    X509Ptr cert = testing::make_cert(spec, key, nullptr, key);
    BioPtr bio(BIO_new(BIO_s_mem()));
    EXPECT_EQ(PEM_write_bio_X509(bio.get(), cert.get()), 1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<size_t>(n));
}

TEST(KeyType, NamesRoundTrip) {
    EXPECT_STREQ(key_type_name(KeyType::ecdsa_p256), "ecdsa-p256");
    EXPECT_STREQ(key_type_name(KeyType::ecdsa_p384), "ecdsa-p384");
    EXPECT_STREQ(key_type_name(KeyType::rsa2048), "rsa-2048");
    EXPECT_STREQ(key_type_name(KeyType::rsa3072), "rsa-3072");
    EXPECT_STREQ(key_type_name(KeyType::rsa4096), "rsa-4096");
    for (KeyType t : all_key_types()) EXPECT_EQ(parse_key_type(key_type_name(t)), t);
}

TEST(KeyType, IsRsa) {
    EXPECT_FALSE(is_rsa(KeyType::ecdsa_p256));
    EXPECT_FALSE(is_rsa(KeyType::ecdsa_p384));
    EXPECT_TRUE(is_rsa(KeyType::rsa2048));
    EXPECT_TRUE(is_rsa(KeyType::rsa3072));
    EXPECT_TRUE(is_rsa(KeyType::rsa4096));
}

TEST(KeyType, ParseRejectsOtherSpellingsNamingTheValueAndTheChoices) {
    for (const char* bad : {"", "rsa", "RSA-2048", "ecdsa-p521", "ecdsa_p256", "rsa-2048 "}) {
        try {
            parse_key_type(bad);
            FAIL() << "accepted '" << bad << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid);
            const std::string msg = e.what();
            EXPECT_NE(msg.find("'" + std::string(bad) + "'"), std::string::npos) << msg;
            for (KeyType t : all_key_types())
                EXPECT_NE(msg.find(key_type_name(t)), std::string::npos) << msg;
        }
    }
}

class KeyByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(KeyByType, GeneratedKeyHasTheRightShape) {
    const KeyType t = GetParam();
    EVP_PKEY* key = cached_key(t);
    EXPECT_EQ(key_type_of(key), t);
    switch (t) {
        case KeyType::ecdsa_p256:
            EXPECT_EQ(EVP_PKEY_get_bits(key), 256);
            break;
        case KeyType::ecdsa_p384:
            EXPECT_EQ(EVP_PKEY_get_bits(key), 384);
            break;
        case KeyType::rsa2048:
            EXPECT_EQ(EVP_PKEY_get_bits(key), 2048);
            break;
        case KeyType::rsa3072:
            EXPECT_EQ(EVP_PKEY_get_bits(key), 3072);
            break;
        case KeyType::rsa4096:
            EXPECT_EQ(EVP_PKEY_get_bits(key), 4096);
            break;
    }
    if (is_rsa(t)) {
        BIGNUM* e = nullptr;
        ASSERT_EQ(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_E, &e), 1);
        BignumPtr owned(e);
        EXPECT_EQ(BN_get_word(e), 65537u);
    } else {
        EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST_P(KeyByType, PrivateKeyPemRoundTrip) {
    EVP_PKEY* key = cached_key(GetParam());
    const std::string pem = private_key_to_pem(key);
    EXPECT_EQ(pem.rfind("-----BEGIN PRIVATE KEY-----\n", 0), 0u) << "not PKCS#8";
    EXPECT_EQ(pem.find("ENCRYPTED"), std::string::npos);
    PKey back = private_key_from_pem(pem);
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(back.get(), key), 1);
    EXPECT_EQ(key_type_of(back.get()), GetParam());
    // The private half came back too: it signs what the original verifies.
    EXPECT_TRUE(same_key_pair(back.get(), key));
    EXPECT_EQ(private_key_to_pem(back.get()), pem);
    EXPECT_TRUE(error_queue_empty());
}

TEST_P(KeyByType, PublicKeyPem) {
    EVP_PKEY* key = cached_key(GetParam());
    const std::string pem = public_key_to_pem(key);
    EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
    BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    PKey pub(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
    ASSERT_NE(pub, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(pub.get(), key), 1);
    EXPECT_EQ(key_type_of(pub.get()), GetParam());
    EXPECT_TRUE(error_queue_empty());
}

INSTANTIATE_TEST_SUITE_P(AllTypes, KeyByType, ::testing::ValuesIn(testing::all_key_types()),
                         testing::KeyParamName());

TEST(Key, GeneratesFreshKeys) {
    PKey a = generate_key(KeyType::ecdsa_p256);
    PKey b = generate_key(KeyType::ecdsa_p256);
    EXPECT_NE(EVP_PKEY_eq(a.get(), b.get()), 1);
}

TEST(Key, FindsTheKeyAfterCertificatesInACombinedFile) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    const std::string cert_pem = test_cert_pem(key);
    const std::string pem = cert_pem + private_key_to_pem(key) + cert_pem;
    PKey back = private_key_from_pem(pem);
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(EVP_PKEY_eq(back.get(), key), 1);
    EXPECT_TRUE(same_key_pair(back.get(), key));
    EXPECT_TRUE(error_queue_empty());
}

TEST(Key, ReadsTraditionalEcKeyPem) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p384);
    BioPtr bio(BIO_new(BIO_s_mem()));
    ASSERT_EQ(
        PEM_write_bio_PrivateKey_traditional(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr),
        1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    const std::string pem(data, static_cast<size_t>(n));
    ASSERT_EQ(pem.rfind("-----BEGIN EC PRIVATE KEY-----", 0), 0u);
    PKey back = private_key_from_pem(pem);
    EXPECT_EQ(EVP_PKEY_eq(back.get(), key), 1);
}

void expect_bad_pem(const std::string& pem) {
    try {
        private_key_from_pem(pem);
        ADD_FAILURE() << "accepted: " << pem.substr(0, 60);
    } catch (const Error& e) {
        EXPECT_TRUE(e.status() == Status::invalid || e.status() == Status::crypto) << e.what();
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST(Key, RejectsGarbageAndKeylessPem) {
    expect_bad_pem("");
    expect_bad_pem("garbage");
    expect_bad_pem("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n");
    expect_bad_pem("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n");
    expect_bad_pem(test_cert_pem(cached_key(KeyType::ecdsa_p256)));
    expect_bad_pem(public_key_to_pem(cached_key(KeyType::ecdsa_p256)));
}

TEST(Key, RejectsAnEncryptedKeyWithoutPrompting) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    BioPtr bio(BIO_new(BIO_s_mem()));
    const char pass[] = "secret";
    ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key, EVP_aes_256_cbc(), pass,
                                            sizeof pass - 1, nullptr, nullptr),
              1);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio.get(), &data);
    const std::string pem(data, static_cast<size_t>(n));
    ASSERT_NE(pem.find("ENCRYPTED PRIVATE KEY"), std::string::npos);
    expect_bad_pem(pem);
}

void expect_unsupported(EVP_PKEY* key) {
    try {
        key_type_of(key);
        ADD_FAILURE() << "accepted an unsupported key";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
        EXPECT_NE(std::string(e.what()).find("unsupported"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST(Key, KeyTypeOfRejectsUnsupportedKeys) {
    PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    ASSERT_NE(ed, nullptr);
    expect_unsupported(ed.get());
    PKey p521(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521"));
    ASSERT_NE(p521, nullptr);
    expect_unsupported(p521.get());
    PKey rsa1024(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(1024)));
    ASSERT_NE(rsa1024, nullptr);
    expect_unsupported(rsa1024.get());
    EXPECT_THROW(key_type_of(nullptr), Error);
    // An unsupported key still round-trips through PEM (only typed operations refuse it).
    EXPECT_NO_THROW(private_key_from_pem(private_key_to_pem(ed.get())));
}

}  // namespace
}  // namespace acme::crypto
