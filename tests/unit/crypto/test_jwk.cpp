#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/sha.h>

#include <algorithm>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::error_queue_empty;

// RFC 7638 section 3.1: the example RSA key and its thumbprint.
const char kRfc7638N[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPeb"
    "WKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368Q"
    "QMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2"
    "NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
const char kRfc7638E[] = "AQAB";
const char kRfc7638Thumbprint[] = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

std::vector<std::string> sorted_keys(const Json& j) {
    std::vector<std::string> k = j.keys();
    std::sort(k.begin(), k.end());
    return k;
}

// An RSA public key from base64url n and e, built with OSSL_PARAM_BLD / EVP_PKEY_fromdata.
PKey rsa_public_key(const std::string& n_b64, const std::string& e_b64) {
    const std::string n = base64url_decode(n_b64), e = base64url_decode(e_b64);
    BignumPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n.data()),
                             static_cast<int>(n.size()), nullptr));
    BignumPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e.data()),
                             static_cast<int>(e.size()), nullptr));
    OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n.get());
    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e.get());
    OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
    PKeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
    EVP_PKEY* key = nullptr;
    EXPECT_EQ(EVP_PKEY_fromdata_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params), 1);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return PKey(key);
}

// The uncompressed public point 04 || X || Y of an EC key, from OpenSSL directly.
std::string encoded_point(EVP_PKEY* key) {
    unsigned char buf[200];
    size_t len = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf,
                                              sizeof buf, &len),
              1);
    return std::string(reinterpret_cast<char*>(buf), len);
}

TEST(Jwk, Rfc7638ExampleThumbprint) {
    PKey key = rsa_public_key(kRfc7638N, kRfc7638E);
    ASSERT_NE(key, nullptr);
    EXPECT_EQ(key_type_of(key.get()), KeyType::rsa2048);
    EXPECT_EQ(jwk(key.get()).dump(),
              std::string("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"") + kRfc7638N + "\"}");
    EXPECT_EQ(jwk_thumbprint(key.get()), kRfc7638Thumbprint);
    EXPECT_TRUE(error_queue_empty());
}

TEST(Jwk, RsaMembersAreMinimalBigEndian) {
    for (KeyType t : {KeyType::rsa2048, KeyType::rsa3072, KeyType::rsa4096}) {
        EVP_PKEY* key = cached_key(t);
        Json j = jwk(key);
        EXPECT_EQ(sorted_keys(j), (std::vector<std::string>{"e", "kty", "n"}));
        EXPECT_EQ(j.str("kty"), "RSA");
        EXPECT_EQ(j.str("e"), "AQAB");  // 65537, no leading zero byte
        const std::string n = base64url_decode(j.str("n"));
        EXPECT_EQ(n.size() * 8, static_cast<size_t>(EVP_PKEY_get_bits(key)));
        EXPECT_NE(n[0], '\0');
        // Rebuilding the key from the JWK gives the same public key.
        PKey back = rsa_public_key(j.str("n"), j.str("e"));
        EXPECT_EQ(EVP_PKEY_eq(back.get(), key), 1);
    }
}

TEST(Jwk, EcMembersMatchThePublicPoint) {
    for (KeyType t : {KeyType::ecdsa_p256, KeyType::ecdsa_p384}) {
        EVP_PKEY* key = cached_key(t);
        const size_t width = t == KeyType::ecdsa_p256 ? 32 : 48;
        Json j = jwk(key);
        EXPECT_EQ(sorted_keys(j), (std::vector<std::string>{"crv", "kty", "x", "y"}));
        EXPECT_EQ(j.str("kty"), "EC");
        EXPECT_EQ(j.str("crv"), t == KeyType::ecdsa_p256 ? "P-256" : "P-384");
        const std::string x = base64url_decode(j.str("x")), y = base64url_decode(j.str("y"));
        ASSERT_EQ(x.size(), width);
        ASSERT_EQ(y.size(), width);
        EXPECT_EQ(encoded_point(key), "\x04" + x + y);
    }
}

TEST(Jwk, EcCoordinatesAreLeftPadded) {
    // Find a P-256 key whose x coordinate has a leading zero byte (1 in 256 keys).
    for (int i = 0; i < 20000; ++i) {
        PKey key = generate_key(KeyType::ecdsa_p256);
        const std::string point = encoded_point(key.get());
        if (point[1] != '\0') continue;
        const std::string x = base64url_decode(jwk(key.get()).str("x"));
        ASSERT_EQ(x.size(), 32u);
        EXPECT_EQ(x, point.substr(1, 32));
        return;
    }
    FAIL() << "no key with a short x coordinate found";
}

TEST(Jwk, ThumbprintIsSha256OfCanonicalJwk) {
    for (KeyType t : {KeyType::ecdsa_p256, KeyType::ecdsa_p384, KeyType::rsa2048}) {
        EVP_PKEY* key = cached_key(t);
        const std::string canonical = jwk(key).dump();
        EXPECT_EQ(canonical.find(' '), std::string::npos);
        unsigned char md[32];
        SHA256(reinterpret_cast<const unsigned char*>(canonical.data()), canonical.size(), md);
        EXPECT_EQ(jwk_thumbprint(key),
                  base64url_encode(std::string(reinterpret_cast<char*>(md), 32)));
        // The thumbprint depends only on the public part.
        PKey pub = testing::public_only(key);
        EXPECT_EQ(jwk_thumbprint(pub.get()), jwk_thumbprint(key));
    }
}

TEST(Jwk, JwsAlgorithmPerKeyType) {
    EXPECT_STREQ(jws_alg(cached_key(KeyType::ecdsa_p256)), "ES256");
    EXPECT_STREQ(jws_alg(cached_key(KeyType::ecdsa_p384)), "ES384");
    EXPECT_STREQ(jws_alg(cached_key(KeyType::rsa2048)), "RS256");
    EXPECT_STREQ(jws_alg(cached_key(KeyType::rsa3072)), "RS256");
    EXPECT_STREQ(jws_alg(cached_key(KeyType::rsa4096)), "RS256");
}

TEST(Jwk, UnsupportedKeysThrowInvalid) {
    PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    ASSERT_NE(ed, nullptr);
    for (auto fn : {+[](EVP_PKEY* k) { jwk(k); }, +[](EVP_PKEY* k) { jwk_thumbprint(k); },
                    +[](EVP_PKEY* k) { jws_alg(k); }}) {
        try {
            fn(ed.get());
            ADD_FAILURE() << "accepted Ed25519";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid);
        }
        EXPECT_TRUE(error_queue_empty());
    }
}

}  // namespace
}  // namespace acme::crypto
