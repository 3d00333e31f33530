#include <gtest/gtest.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "crypto/crypto.h"
#include "crypto_test_util.h"
#include "util/base64.h"
#include "util/error.h"

namespace acme::crypto {
namespace {

using testing::cached_key;
using testing::error_queue_empty;

// Independent verification of a JWS signature with OpenSSL EVP: r||s is converted to DER with
// ECDSA_SIG here, not by the code under test.
bool openssl_verify(EVP_PKEY* key, KeyType t, const std::string& input, const std::string& sig) {
    std::string der = sig;
    if (!is_rsa(t)) {
        const size_t width = t == KeyType::ecdsa_p256 ? 32 : 48;
        if (sig.size() != 2 * width) return false;
        const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
        ECDSA_SIG* es = ECDSA_SIG_new();
        ECDSA_SIG_set0(es, BN_bin2bn(p, static_cast<int>(width), nullptr),
                       BN_bin2bn(p + width, static_cast<int>(width), nullptr));
        unsigned char* out = nullptr;
        int len = i2d_ECDSA_SIG(es, &out);
        der.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
        OPENSSL_free(out);
        ECDSA_SIG_free(es);
    }
    MdCtxPtr ctx(EVP_MD_CTX_new());
    const EVP_MD* md = t == KeyType::ecdsa_p384 ? EVP_sha384() : EVP_sha256();
    if (EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, key) != 1) return false;
    if (is_rsa(t)) {
        // RS256 is PKCS#1 v1.5 (the default), stated explicitly here.
        EVP_PKEY_CTX* pctx = EVP_MD_CTX_get_pkey_ctx(ctx.get());
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1) return false;
    }
    int rc =
        EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der.data()), der.size(),
                         reinterpret_cast<const unsigned char*>(input.data()), input.size());
    ERR_clear_error();
    return rc == 1;
}

std::vector<std::string> sorted_keys(const Json& j) {
    std::vector<std::string> k = j.keys();
    std::sort(k.begin(), k.end());
    return k;
}

Json sample_header() {
    Json h = Json::object();
    h.set("nonce", "bm9uY2U");
    h.set("url", "https://ca.example/acme/new-order");
    h.set("kid", "https://ca.example/acme/acct/1");
    return h;
}

class JwsByType : public ::testing::TestWithParam<KeyType> {};

TEST_P(JwsByType, SignsAndVerifiesIndependently) {
    const KeyType t = GetParam();
    EVP_PKEY* key = cached_key(t);
    const std::string payload = R"({"identifiers":[{"type":"dns","value":"example.org"}]})";
    Json header = sample_header();
    Json jws = jws_sign(key, header, payload);
    EXPECT_TRUE(error_queue_empty());

    EXPECT_EQ(sorted_keys(jws), (std::vector<std::string>{"payload", "protected", "signature"}));
    EXPECT_EQ(base64url_decode(jws.str("payload")), payload);
    Json prot = Json::parse(base64url_decode(jws.str("protected")));
    EXPECT_EQ(prot.str("alg"), jws_alg(key));
    EXPECT_EQ(prot.str("nonce"), "bm9uY2U");
    EXPECT_EQ(prot.str("url"), "https://ca.example/acme/new-order");
    EXPECT_EQ(prot.str("kid"), "https://ca.example/acme/acct/1");
    EXPECT_FALSE(header.has("alg")) << "caller's header was modified";

    const std::string input = jws.str("protected") + "." + jws.str("payload");
    const std::string sig = base64url_decode(jws.str("signature"));
    switch (t) {
        case KeyType::ecdsa_p256:
            EXPECT_EQ(sig.size(), 64u);
            break;
        case KeyType::ecdsa_p384:
            EXPECT_EQ(sig.size(), 96u);
            break;
        default:
            EXPECT_EQ(sig.size() * 8, static_cast<size_t>(EVP_PKEY_get_bits(key)));
    }
    EXPECT_TRUE(openssl_verify(key, t, input, sig));
    EXPECT_TRUE(jws_verify(key, jws));
    // The public half alone verifies too.
    PKey pub = testing::public_only(key);
    EXPECT_TRUE(jws_verify(pub.get(), jws));

    // A tampered payload fails both ways.
    const std::string tampered_payload = base64url_encode(payload + " ");
    EXPECT_FALSE(openssl_verify(key, t, jws.str("protected") + "." + tampered_payload, sig));
    Json tampered = Json::object();
    tampered.set("protected", jws.str("protected"));
    tampered.set("payload", tampered_payload);
    tampered.set("signature", jws.str("signature"));
    EXPECT_FALSE(jws_verify(key, tampered));
    EXPECT_TRUE(error_queue_empty());
}

TEST_P(JwsByType, EmptyPayloadStaysEmpty) {
    const KeyType t = GetParam();
    EVP_PKEY* key = cached_key(t);
    Json jws = jws_sign(key, sample_header(), "");
    EXPECT_TRUE(jws.get("payload").is_string());
    EXPECT_EQ(jws.str("payload"), "");
    EXPECT_TRUE(
        openssl_verify(key, t, jws.str("protected") + ".", base64url_decode(jws.str("signature"))));
    EXPECT_TRUE(jws_verify(key, jws));
}

TEST_P(JwsByType, SignaturesAreFresh) {
    // ECDSA is randomized; RSA PKCS#1 v1.5 is deterministic. Both must verify.
    EVP_PKEY* key = cached_key(GetParam());
    Json a = jws_sign(key, sample_header(), "x");
    Json b = jws_sign(key, sample_header(), "x");
    if (!is_rsa(GetParam())) {
        EXPECT_NE(a.str("signature"), b.str("signature"));
    }
    EXPECT_TRUE(jws_verify(key, a));
    EXPECT_TRUE(jws_verify(key, b));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, JwsByType, ::testing::ValuesIn(testing::all_key_types()),
                         testing::KeyParamName());

TEST(Jws, NullHeaderBecomesAlgOnly) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    Json jws = jws_sign(key, Json(), "{}");
    EXPECT_EQ(base64url_decode(jws.str("protected")), R"({"alg":"ES256"})");
}

TEST(Jws, NonObjectHeaderIsInvalid) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    try {
        jws_sign(key, Json::string("x"), "{}");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
    }
}

TEST(Jws, VerifyRejectsMismatches) {
    EVP_PKEY* key = cached_key(KeyType::ecdsa_p256);
    Json good = jws_sign(key, sample_header(), "{}");
    ASSERT_TRUE(jws_verify(key, good));

    auto with = [&](const char* member, const std::string& value) {
        Json j = Json::object();
        for (const char* m : {"protected", "payload", "signature"}) j.set(m, good.str(m));
        j.set(member, value);
        return j;
    };
    // Another key of the same and of another type.
    PKey other = generate_key(KeyType::ecdsa_p256);
    EXPECT_FALSE(jws_verify(other.get(), good));
    EXPECT_FALSE(jws_verify(cached_key(KeyType::ecdsa_p384), good));
    EXPECT_FALSE(jws_verify(cached_key(KeyType::rsa2048), good));
    // Broken members.
    EXPECT_FALSE(jws_verify(key, with("signature", "")));
    EXPECT_FALSE(jws_verify(key, with("signature", "not base64!")));
    EXPECT_FALSE(jws_verify(key, with("signature", good.str("signature").substr(4))));
    EXPECT_FALSE(jws_verify(key, with("protected", "")));
    EXPECT_FALSE(jws_verify(key, with("protected", base64url_encode("not json"))));
    EXPECT_FALSE(jws_verify(key, with("payload", "*")));
    // A header whose alg does not match the key.
    Json h = Json::parse(base64url_decode(good.str("protected")));
    h.set("alg", "RS256");
    EXPECT_FALSE(jws_verify(key, with("protected", base64url_encode(h.dump()))));
    // Missing members and non-objects.
    Json missing = Json::object();
    missing.set("protected", good.str("protected"));
    EXPECT_FALSE(jws_verify(key, missing));
    EXPECT_FALSE(jws_verify(key, Json::array()));
    EXPECT_FALSE(jws_verify(key, Json()));
    EXPECT_TRUE(error_queue_empty());
}

// ---- EAB ----

const char kEabKey[] = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

std::string openssl_hmac(const EVP_MD* md, const std::string& key, const std::string& data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(md, key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    return std::string(reinterpret_cast<char*>(out), len);
}

TEST(Eab, MacsTheAccountJwkWithTheDecodedKey) {
    EVP_PKEY* account = cached_key(KeyType::ecdsa_p256);
    const std::string url = "https://ca.example/acme/new-account";
    struct Case {
        const char* alg;
        const EVP_MD* md;
    };
    for (const Case& c :
         {Case{"HS256", EVP_sha256()}, Case{"HS384", EVP_sha384()}, Case{"HS512", EVP_sha512()}}) {
        Json eab = eab_jws("kid-1", kEabKey, account, url, c.alg);
        EXPECT_EQ(sorted_keys(eab),
                  (std::vector<std::string>{"payload", "protected", "signature"}));
        Json prot = Json::parse(base64url_decode(eab.str("protected")));
        EXPECT_EQ(sorted_keys(prot), (std::vector<std::string>{"alg", "kid", "url"}));
        EXPECT_EQ(prot.str("alg"), c.alg);
        EXPECT_EQ(prot.str("kid"), "kid-1");
        EXPECT_EQ(prot.str("url"), url);
        EXPECT_EQ(base64url_decode(eab.str("payload")), jwk(account).dump());
        const std::string expected = openssl_hmac(c.md, base64url_decode(kEabKey),
                                                  eab.str("protected") + "." + eab.str("payload"));
        EXPECT_EQ(base64url_decode(eab.str("signature")), expected) << c.alg;
        EXPECT_EQ(expected.size(), static_cast<size_t>(EVP_MD_get_size(c.md)));
    }
    // HS256 is the default.
    Json dflt = eab_jws("kid-1", kEabKey, account, url);
    EXPECT_EQ(Json::parse(base64url_decode(dflt.str("protected"))).str("alg"), "HS256");
    EXPECT_TRUE(error_queue_empty());
}

TEST(Eab, AcceptsAPaddedKey) {
    EVP_PKEY* account = cached_key(KeyType::ecdsa_p256);
    Json a = eab_jws("k", "YWJjZA", account, "https://ca.example/new-account");
    Json b = eab_jws("k", "YWJjZA==", account, "https://ca.example/new-account");
    EXPECT_EQ(a.str("signature"), b.str("signature"));
}

void expect_eab_invalid(std::string_view kid, std::string_view key, std::string_view alg,
                        const std::string& must_mention) {
    try {
        eab_jws(kid, key, cached_key(KeyType::ecdsa_p256), "https://ca.example/new-account", alg);
        ADD_FAILURE() << "accepted key/alg " << alg;
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
        const std::string msg = e.what();
        EXPECT_NE(msg.find(must_mention), std::string::npos) << msg;
        if (key.size() > 3) {
            EXPECT_EQ(msg.find(std::string(key)), std::string::npos) << msg;
            EXPECT_EQ(msg.find(std::string(key.substr(0, 4))), std::string::npos) << msg;
        }
    }
    EXPECT_TRUE(error_queue_empty());
}

TEST(Eab, RejectsBadInputWithoutEchoingTheKey) {
    expect_eab_invalid("kid", kEabKey, "HS1", "HS1");
    expect_eab_invalid("kid", kEabKey, "RS256", "RS256");
    expect_eab_invalid("kid", "c2VjcmV0+/c2VjcmV0", "HS256", "base64url");
    expect_eab_invalid("kid", "secret key with spaces", "HS256", "base64url");
    expect_eab_invalid("kid", "QUJDR", "HS256", "base64url");  // 5 characters cannot be base64
    expect_eab_invalid("kid", "", "HS256", "HMAC key");
    expect_eab_invalid("", kEabKey, "HS256", "key identifier");
}

TEST(Eab, UnsupportedAccountKeyIsInvalid) {
    PKey ed(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    try {
        eab_jws("kid", kEabKey, ed.get(), "https://ca.example/new-account");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
    }
}

}  // namespace
}  // namespace acme::crypto
