#include "crypto/ossl.h"

#include <gtest/gtest.h>
#include <openssl/err.h>

#include "crypto_test_util.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::error_queue_empty;

TEST(Ossl, FailOpensslCollectsAndClearsTheErrorQueue) {
    ERR_clear_error();
    const unsigned char garbage[] = {0x30, 0x03, 0x01, 0x02, 0x03};
    const unsigned char* p = garbage;
    ASSERT_EQ(d2i_X509(nullptr, &p, sizeof garbage), nullptr);
    ASSERT_FALSE(error_queue_empty());
    try {
        fail_openssl("test: parse thing");
        FAIL() << "fail_openssl returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::crypto);
        const std::string msg = e.what();
        EXPECT_EQ(msg.rfind("test: parse thing: ", 0), 0u) << msg;
        EXPECT_NE(msg.find("error:"), std::string::npos) << msg;  // ERR_error_string_n text
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST(Ossl, FailOpensslWithAnEmptyQueueStillSaysWhat) {
    ERR_clear_error();
    try {
        fail_openssl("test: nothing queued");
        FAIL() << "fail_openssl returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::crypto);
        EXPECT_EQ(std::string(e.what()), "test: nothing queued: unknown OpenSSL error");
    }
}

TEST(Ossl, ShareKeepsAKeyAlive) {
    PKey original = generate_key(KeyType::ecdsa_p256);
    EVP_PKEY* raw = original.get();
    PKey shared = share(raw);
    ASSERT_EQ(shared.get(), raw);
    original.reset();
    // Still a usable key after the first owner let go.
    EXPECT_EQ(EVP_PKEY_get_bits(shared.get()), 256);
    EXPECT_EQ(key_type_of(shared.get()), KeyType::ecdsa_p256);
}

TEST(Ossl, ShareKeepsACertificateAlive) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    testing::CertSpec spec;
    spec.cn = "share.example";
    X509Ptr original = testing::make_cert(spec, key, nullptr, key);
    X509* raw = original.get();
    X509Ptr shared = share(raw);
    ASSERT_EQ(shared.get(), raw);
    original.reset();
    char cn[64] = {0};
    X509_NAME_get_text_by_NID(X509_get_subject_name(shared.get()), NID_commonName, cn, sizeof cn);
    EXPECT_STREQ(cn, "share.example");
}

TEST(Ossl, ShareOfNullIsEmpty) {
    EXPECT_EQ(share(static_cast<EVP_PKEY*>(nullptr)), nullptr);
    EXPECT_EQ(share(static_cast<X509*>(nullptr)), nullptr);
}

}  // namespace
}  // namespace acme::crypto
