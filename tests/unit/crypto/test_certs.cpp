#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <openssl/sha.h>

#include <ctime>
#include <functional>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::error_queue_empty;

// (type, value bytes) of every SAN, read with OpenSSL directly.
std::vector<std::pair<int, std::string>> sans_of(X509* x) {
    std::vector<std::pair<int, std::string>> out;
    auto* gens =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); ++i) {
        int type = 0;
        auto* v = static_cast<ASN1_STRING*>(
            GENERAL_NAME_get0_value(sk_GENERAL_NAME_value(gens, i), &type));
        out.emplace_back(type, std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(v)),
                                           static_cast<size_t>(ASN1_STRING_length(v))));
    }
    GENERAL_NAMES_free(gens);
    return out;
}

std::string cn_of(const X509_NAME* name) {
    char buf[256] = {0};
    X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof buf);
    return buf;
}

int64_t unix_time(const ASN1_TIME* t) {
    struct tm tm {};
    EXPECT_EQ(ASN1_TIME_to_tm(t, &tm), 1);
    return static_cast<int64_t>(timegm(&tm));
}

std::string ip_bytes(int af, const char* text) {
    unsigned char buf[16];
    EXPECT_EQ(inet_pton(af, text, buf), 1);
    return std::string(reinterpret_cast<char*>(buf), af == AF_INET ? 4 : 16);
}

class SelfSignedByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(SelfSignedByType, IsAServerCertificateForTheNames) {
    const KeyType t = GetParam();
    EVP_PKEY* key = cached_key(t);
    const int64_t before = time(nullptr);
    X509Ptr x = make_self_signed(key, {"example.org", "www.example.org", "192.0.2.5"}, 86400);
    const int64_t after = time(nullptr);
    ASSERT_NE(x, nullptr);
    EXPECT_TRUE(error_queue_empty());

    EXPECT_EQ(X509_get_version(x.get()), X509_VERSION_3);
    EXPECT_EQ(cn_of(X509_get_subject_name(x.get())), "acme fallback example.org");
    EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(x.get()), X509_get_issuer_name(x.get())), 0);
    EXPECT_EQ(X509_verify(x.get(), key), 1);
    EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(x.get()), key), 1);
    EXPECT_EQ(sans_of(x.get()), (std::vector<std::pair<int, std::string>>{
                                    {GEN_DNS, "example.org"},
                                    {GEN_DNS, "www.example.org"},
                                    {GEN_IPADD, ip_bytes(AF_INET, "192.0.2.5")}}));

    const int64_t nb = unix_time(X509_get0_notBefore(x.get()));
    const int64_t na = unix_time(X509_get0_notAfter(x.get()));
    EXPECT_GE(nb, before - 3600);
    EXPECT_LE(nb, after - 3600);
    EXPECT_GE(na, before + 86400);
    EXPECT_LE(na, after + 86400);

    // basicConstraints CA:FALSE, critical.
    int crit = -1;
    auto* bc = static_cast<BASIC_CONSTRAINTS*>(
        X509_get_ext_d2i(x.get(), NID_basic_constraints, &crit, nullptr));
    ASSERT_NE(bc, nullptr);
    EXPECT_EQ(bc->ca, 0);
    EXPECT_EQ(crit, 1);
    BASIC_CONSTRAINTS_free(bc);
    // keyUsage: digitalSignature, plus keyEncipherment for RSA only.
    const uint32_t ku = X509_get_key_usage(x.get());
    EXPECT_TRUE(ku & KU_DIGITAL_SIGNATURE);
    EXPECT_EQ((ku & KU_KEY_ENCIPHERMENT) != 0, is_rsa(t));
    EXPECT_FALSE(ku & KU_KEY_CERT_SIGN);
    // extendedKeyUsage: serverAuth.
    EXPECT_EQ(X509_get_extended_key_usage(x.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
    EXPECT_EQ(X509_check_purpose(x.get(), X509_PURPOSE_SSL_SERVER, 0), 1);

    // Serial: 16 random bytes, positive.
    const ASN1_INTEGER* serial = X509_get0_serialNumber(x.get());
    EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // not V_ASN1_NEG_INTEGER
    EXPECT_EQ(ASN1_STRING_length(serial), 16);

    // The crypto API's own view agrees.
    EXPECT_TRUE(cert_matches_key(x.get(), key));
    EXPECT_TRUE(cert_covers_names(x.get(), {"example.org", "www.example.org", "192.0.2.5"}));
    EXPECT_FALSE(cert_info(x.get()).is_ca);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, SelfSignedByType, ::testing::ValuesIn(testing::all_key_types()),
                         testing::KeyParamName());

TEST(SelfSigned, SerialsDiffer) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    X509Ptr a = make_self_signed(key, {"a.example"}, 3600);
    X509Ptr b = make_self_signed(key, {"a.example"}, 3600);
    EXPECT_NE(ASN1_INTEGER_cmp(X509_get0_serialNumber(a.get()), X509_get0_serialNumber(b.get())),
              0);
}

TEST(SelfSigned, LongFirstNameIsTruncatedInTheCn) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    const std::string name = std::string(63, 'a') + ".example";
    X509Ptr x = make_self_signed(key, {name}, 3600);
    const std::string cn = cn_of(X509_get_subject_name(x.get()));
    EXPECT_EQ(cn.size(), 64u);
    EXPECT_EQ(cn, ("acme fallback " + name).substr(0, 64));
    EXPECT_EQ(sans_of(x.get()).at(0).second, name);  // the SAN keeps the whole name
}

TEST(SelfSigned, RejectsBadInput) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    for (auto fn : std::vector<std::function<void()>>{
             [&] { make_self_signed(key, {}, 3600); },
             [&] { make_self_signed(key, {"a.example"}, 0); },
             [&] { make_self_signed(key, {"a.example"}, -5); },
             [&] {
                 make_self_signed(key, {"a.example", ""}, 3600);
             },
             [&] {
                 PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
                 make_self_signed(ed.get(), {"a.example"}, 3600);
             }}) {
        try {
            fn();
            ADD_FAILURE() << "accepted bad input";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid) << e.what();
        }
        EXPECT_TRUE(error_queue_empty());
    }
}

// ---- tls-alpn-01 ----

const char kKeyAuth[] =
    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";

// The id-pe-acmeIdentifier extension of `x`, found by OID.
X509_EXTENSION* acme_identifier_ext(X509* x) {
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    int idx = X509_get_ext_by_OBJ(x, oid, -1);
    EXPECT_EQ(X509_get_ext_by_OBJ(x, oid, idx), -1) << "extension present twice";
    ASN1_OBJECT_free(oid);
    return idx < 0 ? nullptr : X509_get_ext(x, idx);
}

class TlsAlpnByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(TlsAlpnByType, CarriesTheCriticalAcmeIdentifierExtension) {
    EVP_PKEY* key = cached_key(GetParam());
    X509Ptr x = make_tls_alpn_cert(key, "example.org", kKeyAuth);
    ASSERT_NE(x, nullptr);
    EXPECT_TRUE(error_queue_empty());
    EXPECT_EQ(X509_verify(x.get(), key), 1);

    X509_EXTENSION* ext = acme_identifier_ext(x.get());
    ASSERT_NE(ext, nullptr);
    EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const std::string value(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                            static_cast<size_t>(ASN1_STRING_length(data)));
    unsigned char md[32];
    SHA256(reinterpret_cast<const unsigned char*>(kKeyAuth), sizeof kKeyAuth - 1, md);
    EXPECT_EQ(value, std::string("\x04\x20", 2) + std::string(reinterpret_cast<char*>(md), 32));

    EXPECT_EQ(sans_of(x.get()),
              (std::vector<std::pair<int, std::string>>{{GEN_DNS, "example.org"}}));
    EXPECT_TRUE(cert_matches_key(x.get(), key));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, TlsAlpnByType, ::testing::ValuesIn(testing::all_key_types()),
                         testing::KeyParamName());

TEST(TlsAlpn, IpIdentifiersBecomeIpAddressSans) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    X509Ptr v4 = make_tls_alpn_cert(key, "192.0.2.44", kKeyAuth);
    EXPECT_EQ(
        sans_of(v4.get()),
        (std::vector<std::pair<int, std::string>>{{GEN_IPADD, ip_bytes(AF_INET, "192.0.2.44")}}));
    X509Ptr v6 = make_tls_alpn_cert(key, "2001:db8::44", kKeyAuth);
    EXPECT_EQ(sans_of(v6.get()), (std::vector<std::pair<int, std::string>>{
                                     {GEN_IPADD, ip_bytes(AF_INET6, "2001:db8::44")}}));
    EXPECT_NE(acme_identifier_ext(v6.get()), nullptr);
}

TEST(TlsAlpn, DifferentKeyAuthorizationsGiveDifferentValues) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    X509Ptr a = make_tls_alpn_cert(key, "example.org", "token.a");
    X509Ptr b = make_tls_alpn_cert(key, "example.org", "token.b");
    EXPECT_NE(ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(acme_identifier_ext(a.get())),
                                    X509_EXTENSION_get_data(acme_identifier_ext(b.get()))),
              0);
}

TEST(TlsAlpn, RejectsBadInput) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    EXPECT_THROW(make_tls_alpn_cert(key, "", kKeyAuth), Error);
    EXPECT_THROW(make_tls_alpn_cert(key, "example.org", ""), Error);
    EXPECT_THROW(make_tls_alpn_cert(nullptr, "example.org", kKeyAuth), Error);
    EXPECT_TRUE(error_queue_empty());
}

}  // namespace
}  // namespace acme::crypto
