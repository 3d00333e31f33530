// cache: parse_bundle, CachedCert reloads (only after a generation bump), apply() on a real SSL,
// fallback bundles, corrupt bundles keep the entry in service, dual key types.
#include "cache/cache.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <thread>
#include <vector>

#include "store/layout.h"
#include "support/test_pki.h"

namespace acme::cache {
namespace {

struct Material {
    crypto::PKey key;
    crypto::X509Ptr cert;
    std::string pem;  // key + leaf (+ chain)
};

Material make(crypto::KeyType t, const std::string& name, const testing::TestCA* ca = nullptr) {
    Material m;
    m.key = crypto::generate_key(t);
    m.cert =
        ca ? ca->issue(m.key.get(), {name}) : crypto::make_self_signed(m.key.get(), {name}, 86400);
    m.pem = crypto::private_key_to_pem(m.key.get()) + crypto::cert_to_pem(m.cert.get());
    if (ca) m.pem += ca->pem();
    return m;
}

using SslCtxPtr = std::unique_ptr<SSL_CTX, crypto::OsslDeleter<SSL_CTX, SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, crypto::OsslDeleter<SSL, SSL_free>>;

struct CacheTest : ::testing::Test {
    CacheTest() {
        char tmpl[] = "/tmp/acme-cache-test-XXXXXX";
        dir = mkdtemp(tmpl);
        store = std::make_unique<FsStore>(dir + "/store");
        ctx.reset(SSL_CTX_new(TLS_server_method()));
    }
    ~CacheTest() override {
        store.reset();
        std::filesystem::remove_all(dir);
    }
    SslPtr new_ssl() { return SslPtr(SSL_new(ctx.get())); }
    void install(const std::string& name, const char* kt, const std::string& pem) {
        store->save(layout::cert_bundle(name, kt), pem, Sensitivity::secret);
    }
    // The certificate apply() set on a fresh SSL.
    X509* served(CachedCert& c, SslPtr& ssl) {
        ssl = new_ssl();
        EXPECT_EQ(c.apply(ssl.get()), 1);
        return SSL_get_certificate(ssl.get());
    }
    static bool same(X509* a, X509* b) { return a && b && X509_cmp(a, b) == 0; }

    std::string dir;
    std::unique_ptr<FsStore> store;
    SslCtxPtr ctx;
};

TEST(ParseBundle, KeyLeafAndChain) {
    testing::TestCA ca = testing::TestCA::make("Bundle CA");
    Material m = make(crypto::KeyType::ecdsa_p256, "a.example", &ca);
    std::unique_ptr<Entry> e = parse_bundle(m.pem);
    ASSERT_TRUE(e);
    EXPECT_EQ(X509_cmp(e->leaf.get(), m.cert.get()), 0);
    ASSERT_TRUE(e->chain);
    ASSERT_EQ(sk_X509_num(e->chain.get()), 1);
    EXPECT_EQ(X509_cmp(sk_X509_value(e->chain.get(), 0), ca.cert.get()), 0);
    EXPECT_EQ(crypto::jwk_thumbprint(e->key.get()), crypto::jwk_thumbprint(m.key.get()));
    EXPECT_EQ(e->not_after, crypto::cert_info(m.cert.get()).not_after);
    EXPECT_FALSE(e->fallback);
}

TEST(ParseBundle, RefusesMismatchAndMissingParts) {
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "b.example");
    const std::string mismatched =
        crypto::private_key_to_pem(a.key.get()) + crypto::cert_to_pem(b.cert.get());
    try {
        parse_bundle(mismatched);
        FAIL() << "a key and a certificate that do not match were accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
        EXPECT_NE(std::string(e.what()).find("does not match"), std::string::npos) << e.what();
    }
    EXPECT_THROW(parse_bundle(crypto::cert_to_pem(a.cert.get())), Error);        // no key
    EXPECT_THROW(parse_bundle(crypto::private_key_to_pem(a.key.get())), Error);  // no certificate
    EXPECT_THROW(parse_bundle("garbage"), Error);
}

TEST_F(CacheTest, ApplySetsTheCertificateOnARealSsl) {
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    install("a.example", "ecdsa-p256", a.pem);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    EVP_PKEY* k = SSL_get_privatekey(ssl.get());
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(crypto::jwk_thumbprint(k), crypto::jwk_thumbprint(a.key.get()));
    ASSERT_NE(c.current(0), nullptr);
    EXPECT_FALSE(c.current(0)->fallback);
}

TEST_F(CacheTest, NothingStoredLeavesTheSslAlone) {
    CachedCert c(*store, "none.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    EXPECT_EQ(served(c, ssl), nullptr);
    EXPECT_EQ(c.current(0), nullptr);
    EXPECT_FALSE(c.reload());
}

TEST_F(CacheTest, NewBundleIsPickedUpOnlyAfterAGenerationBump) {
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "a.example");
    install("a.example", "ecdsa-p256", a.pem);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    EXPECT_TRUE(c.reload());
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    install("a.example", "ecdsa-p256", b.pem);
    // Same generation: the handshake path does not look at the store.
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(crypto::jwk_thumbprint(SSL_get_privatekey(ssl.get())),
              crypto::jwk_thumbprint(b.key.get()));
    // reload() reads now, and says whether anything changed.
    EXPECT_FALSE(c.reload());
}

TEST_F(CacheTest, ConcurrentHandshakesAfterAnInstallAllPresentTheNewCertificate) {
    // httpd's threads: the ones that arrive while another thread reloads wait for it instead of
    // presenting the certificate that was just replaced (the self-signed stand-in, at first).
    Material a = make(crypto::KeyType::rsa2048, "t.example");
    Material b = make(crypto::KeyType::rsa2048, "t.example");
    install("t.example", "rsa-2048", a.pem);
    CachedCert c(*store, "t.example", {crypto::KeyType::rsa2048});
    c.reload();
    for (int round = 0; round < 20; ++round) {
        Material& next = round % 2 ? a : b;
        install("t.example", "rsa-2048", next.pem);
        store->bump_generation();
        constexpr int kThreads = 8;
        std::atomic<int> ready{0};
        std::atomic<int> stale{0};
        std::vector<std::thread> threads;
        for (int i = 0; i < kThreads; ++i) {
            threads.emplace_back([&] {
                SslPtr ssl(SSL_new(ctx.get()));
                ready.fetch_add(1);
                while (ready.load() < kThreads) {
                }
                EXPECT_EQ(c.apply(ssl.get()), 1);
                if (!same(SSL_get_certificate(ssl.get()), next.cert.get())) stale.fetch_add(1);
            });
        }
        for (auto& t : threads) t.join();
        ASSERT_EQ(stale.load(), 0) << "round " << round;
    }
}

TEST_F(CacheTest, FallsBackToTheFallbackBundle) {
    Material fb = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material real = make(crypto::KeyType::ecdsa_p256, "a.example");
    store->save(layout::fallback_bundle("a.example", "ecdsa-p256"), fb.pem, Sensitivity::secret);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), fb.cert.get()));
    ASSERT_NE(c.current(0), nullptr);
    EXPECT_TRUE(c.current(0)->fallback);
    install("a.example", "ecdsa-p256", real.pem);
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), real.cert.get()));
    EXPECT_FALSE(c.current(0)->fallback);
}

TEST_F(CacheTest, CorruptOrMismatchedNewBundleKeepsTheOldEntry) {
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "a.example");
    install("a.example", "ecdsa-p256", a.pem);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    const Entry* before = c.current(0);

    install("a.example", "ecdsa-p256", "-----BEGIN CERTIFICATE-----\ntruncated");
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    EXPECT_EQ(c.current(0), before);

    install("a.example", "ecdsa-p256",
            crypto::private_key_to_pem(b.key.get()) + crypto::cert_to_pem(a.cert.get()));
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
    EXPECT_EQ(c.current(0), before);

    // A good bundle afterwards is taken.
    install("a.example", "ecdsa-p256", b.pem);
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
}

TEST_F(CacheTest, DualKeyTypesBothSet) {
    testing::TestCA ca = testing::TestCA::make("Dual CA");
    Material ec = make(crypto::KeyType::ecdsa_p256, "d.example", &ca);
    Material rsa = make(crypto::KeyType::rsa2048, "d.example", &ca);
    install("d.example", "ecdsa-p256", ec.pem);
    install("d.example", "rsa-2048", rsa.pem);
    CachedCert c(*store, "d.example", {crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa2048});
    SslPtr ssl = new_ssl();
    ASSERT_EQ(c.apply(ssl.get()), 1);
    std::vector<X509*> certs;
    for (int r = SSL_set_current_cert(ssl.get(), SSL_CERT_SET_FIRST); r == 1;
         r = SSL_set_current_cert(ssl.get(), SSL_CERT_SET_NEXT)) {
        if (X509* x = SSL_get_certificate(ssl.get())) certs.push_back(x);
    }
    ASSERT_EQ(certs.size(), 2u);
    bool have_ec = false, have_rsa = false;
    for (X509* x : certs) {
        have_ec = have_ec || same(x, ec.cert.get());
        have_rsa = have_rsa || same(x, rsa.cert.get());
    }
    EXPECT_TRUE(have_ec);
    EXPECT_TRUE(have_rsa);
    ASSERT_NE(c.current(1), nullptr);
    EXPECT_EQ(sk_X509_num(c.current(1)->chain.get()), 1);
}

TEST_F(CacheTest, TypeCountIsChecked) {
    EXPECT_THROW(CachedCert(*store, "x", {}), Error);
    EXPECT_THROW(CachedCert(*store, "x",
                            {crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa2048,
                             crypto::KeyType::rsa3072}),
                 Error);
}

TEST_F(CacheTest, AlpnChallengeCertificate) {
    Material v = make(crypto::KeyType::ecdsa_p256, "v.example");
    SslPtr ssl = new_ssl();
    EXPECT_FALSE(apply_alpn_challenge(ssl.get()));
    ASSERT_TRUE(
        attach_alpn_challenge(ssl.get(), crypto::share(v.cert.get()), crypto::share(v.key.get())));
    EXPECT_TRUE(apply_alpn_challenge(ssl.get()));
    EXPECT_TRUE(same(SSL_get_certificate(ssl.get()), v.cert.get()));
}

}  // namespace
}  // namespace acme::cache
