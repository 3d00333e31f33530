// cache: parse_bundle, CachedCert reloads (only after a generation bump), apply() on a real SSL,
// fallback bundles, corrupt bundles keep the entry in service, dual key types; symlinked and FIFO
// bundles are never read, failed reloads are retried (rate-limited, logged once).
#include "cache/cache.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "store/layout.h"
#include "support/test_pki.h"
#include "util/fs.h"
#include "util/log.h"

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

// ---- A store tampered with by its owner; reads that fail for a while ---------------------------

// Runs `body` in a forked child that SIGALRM kills after 10 seconds (an open() blocked on a FIFO);
// returns the child's exit code, or 128 + the signal.
int in_child_with_deadline(const std::function<int()>& body) {
    pid_t pid = ::fork();
    if (pid == 0) {
        ::alarm(10);
        int rc = 99;
        try {
            rc = body();
        } catch (...) {
            rc = 98;
        }
        ::_exit(rc);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Collects the core's log lines.
struct LogCapture {
    LogCapture() { log_set(&LogCapture::cb, this, LogLevel::debug); }
    ~LogCapture() { log_set(nullptr, nullptr, LogLevel::error); }
    static void cb(void* baton, int level, const char* msg) {
        auto* self = static_cast<LogCapture*>(baton);
        std::lock_guard<std::mutex> g(self->mu);
        self->lines.emplace_back(level, msg);
    }
    // Lines at `level` that contain `part`.
    size_t count(LogLevel level, const std::string& part) {
        std::lock_guard<std::mutex> g(mu);
        size_t n = 0;
        for (const auto& l : lines)
            n += l.first == static_cast<int>(level) && l.second.find(part) != std::string::npos;
        return n;
    }
    std::mutex mu;
    std::vector<std::pair<int, std::string>> lines;
};

// The store in front of an FsStore, counting the cache's reads and failing the next `failures`
// of them (-1: all) with the Error(io) an exhausted descriptor table would give.
class FlakyStore : public Store {
public:
    explicit FlakyStore(Store& inner) : inner_(inner) {}

    std::optional<std::string> load(const std::string& key) override { return inner_.load(key); }
    std::optional<std::string> load_with_identity(const std::string& key,
                                                  FileIdentity* identity) override {
        ++loads;
        maybe_fail(key);
        return inner_.load_with_identity(key, identity);
    }
    std::optional<FileIdentity> identity_of(const std::string& key) override {
        ++checks;
        maybe_fail(key);
        return inner_.identity_of(key);
    }
    void save(const std::string& key, std::string_view data, Sensitivity s) override {
        inner_.save(key, data, s);
    }
    void remove(const std::string& key) override { inner_.remove(key); }
    std::vector<std::string> list(const std::string& prefix) override {
        return inner_.list(prefix);
    }
    std::unique_ptr<StoreLock> try_lock(const std::string& name) override {
        return inner_.try_lock(name);
    }
    uint64_t generation() const noexcept override { return inner_.generation(); }
    void bump_generation() override { inner_.bump_generation(); }
    std::string path_of(const std::string& key) const override { return inner_.path_of(key); }

    std::atomic<int> failures{0};
    std::string fail_only;  // when set, only keys containing it fail
    std::atomic<int> loads{0}, checks{0};

private:
    void maybe_fail(const std::string& key) {
        int f = failures.load();
        if (f == 0 || key.find(fail_only) == std::string::npos) return;
        if (f > 0) failures.store(f - 1);
        throw Error(Status::io, "store: open " + key + ": Too many open files");
    }
    Store& inner_;
};

TEST_F(CacheTest, SymlinkedBundleIsNeverServed) {
    // The worker user points the bundle at a root-only key + certificate; root (the nginx master)
    // must not parse it into the cache that the workers inherit.
    Material fb = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material foreign = make(crypto::KeyType::ecdsa_p256, "root-only.example");
    const std::string outside = dir + "/root-only.pem";
    fs::write_file_atomic(outside, foreign.pem, 0600);
    store->save(layout::fallback_bundle("a.example", "ecdsa-p256"), fb.pem, Sensitivity::secret);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), fb.cert.get()));

    const std::string bundle = store->path_of(layout::cert_bundle("a.example", "ecdsa-p256"));
    fs::make_dirs(fs::dirname(bundle), 0700);
    ASSERT_EQ(::symlink(outside.c_str(), bundle.c_str()), 0);
    store->bump_generation();
    X509* got = served(c, ssl);
    EXPECT_FALSE(same(got, foreign.cert.get())) << "served a file outside the store";
    EXPECT_TRUE(same(got, fb.cert.get()));
    EXPECT_THROW(c.reload(), Error);
    EXPECT_TRUE(same(served(c, ssl), fb.cert.get()));
    // The same for a symlinked certificate directory.
    ASSERT_EQ(::unlink(bundle.c_str()), 0);
    ASSERT_EQ(::rmdir(fs::dirname(bundle).c_str()), 0);
    const std::string elsewhere = dir + "/elsewhere";
    fs::make_dirs(elsewhere, 0700);
    fs::write_file_atomic(elsewhere + "/ecdsa-p256.pem", foreign.pem, 0600);
    ASSERT_EQ(::symlink(elsewhere.c_str(), fs::dirname(bundle).c_str()), 0);
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), fb.cert.get()));
    CachedCert fresh(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    EXPECT_FALSE(same(served(fresh, ssl), foreign.cert.get()));
}

TEST_F(CacheTest, FifoBundleDoesNotBlockTheHandshake) {
    Material fb = make(crypto::KeyType::ecdsa_p256, "a.example");
    store->save(layout::fallback_bundle("a.example", "ecdsa-p256"), fb.pem, Sensitivity::secret);
    store->save(layout::cert_meta("a.example"), "{}", Sensitivity::public_data);
    CachedCert c(*store, "a.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    ASSERT_TRUE(same(served(c, ssl), fb.cert.get()));
    const std::string bundle = store->path_of(layout::cert_bundle("a.example", "ecdsa-p256"));
    ASSERT_EQ(::mkfifo(bundle.c_str(), 0600), 0);
    store->bump_generation();
    EXPECT_EQ(in_child_with_deadline([&] {
                  SslPtr s(SSL_new(ctx.get()));
                  if (c.apply(s.get()) != 1) return 1;
                  if (!same(SSL_get_certificate(s.get()), fb.cert.get())) return 2;
                  try {
                      c.reload();  // the configuration-time path (the nginx master)
                      return 3;
                  } catch (const Error& e) {
                      return std::string(e.what()).find("not a regular file") == std::string::npos
                                 ? 4
                                 : 0;
                  }
              }),
              0)
        << "(128 + 14: blocked on the FIFO until SIGALRM)";
}

TEST_F(CacheTest, TransientReadFailureIsRetriedAndThenPickedUp) {
    LogCapture log;
    FlakyStore flaky(*store);
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "a.example");
    install("a.example", "ecdsa-p256", a.pem);
    CachedCert c(flaky, "a.example", {crypto::KeyType::ecdsa_p256}, /*retry_ms=*/0);
    SslPtr ssl;
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));

    install("a.example", "ecdsa-p256", b.pem);
    flaky.failures = 1;  // EMFILE once
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), a.cert.get()));  // the one in service stays
    EXPECT_EQ(log.count(LogLevel::error, "Too many open files"), 1u);
    // The generation was not marked as seen: the next handshake retries and picks it up.
    EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(log.count(LogLevel::notice, "a.example: certificate reloaded after"), 1u);
    EXPECT_EQ(log.count(LogLevel::error, "Too many open files"), 1u);
}

TEST_F(CacheTest, RetriesAreRateLimitedLoggedOnceAndSteadyStateReadsNothing) {
    LogCapture log;
    FlakyStore flaky(*store);
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "a.example");
    install("a.example", "ecdsa-p256", a.pem);
    SslPtr ssl;
    {
        // An hour between attempts: handshakes meanwhile do not touch the store.
        CachedCert c(flaky, "a.example", {crypto::KeyType::ecdsa_p256}, 3600 * 1000);
        EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
        install("a.example", "ecdsa-p256", b.pem);
        flaky.failures = -1;
        store->bump_generation();
        flaky.checks = 0;
        for (int i = 0; i < 50; ++i) EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
        EXPECT_EQ(flaky.checks.load(), 1) << "retried before the retry interval";
        // A new install does not wait for the interval.
        store->bump_generation();
        EXPECT_TRUE(same(served(c, ssl), a.cert.get()));
        EXPECT_EQ(flaky.checks.load(), 2);
        EXPECT_EQ(log.count(LogLevel::error, "Too many open files"), 1u) << "logged per attempt";
    }
    // Retried on (almost) every handshake with no interval, still logged once.
    CachedCert c(flaky, "a.example", {crypto::KeyType::ecdsa_p256}, 0);
    EXPECT_EQ(served(c, ssl), nullptr);
    flaky.checks = 0;
    for (int i = 0; i < 10; ++i) EXPECT_EQ(served(c, ssl), nullptr);
    EXPECT_EQ(flaky.checks.load(), 10);
    EXPECT_EQ(log.count(LogLevel::error, "Too many open files"), 2u);  // once per CachedCert
    flaky.failures = 0;
    EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
    // Steady state: no store access at all, and a bump without a new bundle reads nothing.
    flaky.checks = 0;
    flaky.loads = 0;
    for (int i = 0; i < 20; ++i) EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(flaky.checks.load(), 0);
    store->bump_generation();
    EXPECT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(flaky.checks.load(), 2) << "the bundle and its OCSP response, once each";
    EXPECT_EQ(flaky.loads.load(), 0) << "an unchanged bundle was read again";
}

TEST_F(CacheTest, CorruptBundleIsLoggedOncePerVersionWhileAnotherTypeIsRetried) {
    LogCapture log;
    FlakyStore flaky(*store);
    Material ec = make(crypto::KeyType::ecdsa_p256, "d.example");
    Material rsa = make(crypto::KeyType::rsa2048, "d.example");
    install("d.example", "ecdsa-p256", "-----BEGIN PRIVATE KEY-----\ntruncated");
    CachedCert c(flaky, "d.example", {crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa2048}, 0);
    install("d.example", "rsa-2048", rsa.pem);
    flaky.fail_only = "rsa-2048";
    flaky.failures = -1;
    SslPtr ssl;
    for (int i = 0; i < 5; ++i) served(c, ssl);  // five attempts (no retry interval)
    EXPECT_EQ(log.count(LogLevel::error, "d.example: certs/d.example/ecdsa-p256.pem"), 1u);
    EXPECT_EQ(log.count(LogLevel::error, "Too many open files"), 1u);
    EXPECT_EQ(c.current(0), nullptr);
    EXPECT_EQ(c.current(1), nullptr);
    flaky.failures = 0;
    served(c, ssl);
    ASSERT_NE(c.current(1), nullptr);
    EXPECT_TRUE(same(c.current(1)->leaf.get(), rsa.cert.get()));
    EXPECT_EQ(c.current(0), nullptr);
    install("d.example", "ecdsa-p256", ec.pem);
    store->bump_generation();
    served(c, ssl);
    ASSERT_NE(c.current(0), nullptr);
    EXPECT_TRUE(same(c.current(0)->leaf.get(), ec.cert.get()));
}

TEST_F(CacheTest, UnreadableBundleIsRetriedByTheWorkerUser) {
    // A real transient failure: the bundle is unreadable (mode 000) for the unprivileged worker
    // user for a while.
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
    Material a = make(crypto::KeyType::ecdsa_p256, "a.example");
    Material b = make(crypto::KeyType::ecdsa_p256, "a.example");
    ASSERT_EQ(::chmod(dir.c_str(), 0711), 0);
    store->prepare_ownership(65534, 65534);
    const std::string root = store->root();
    const std::string bundle = root + "/" + layout::cert_bundle("a.example", "ecdsa-p256");
    EXPECT_EQ(
        in_child_with_deadline([&] {
            if (::setgid(65534) != 0 || ::setuid(65534) != 0) return 10;
            FsStore mine(root);
            mine.save(layout::cert_bundle("a.example", "ecdsa-p256"), a.pem, Sensitivity::secret);
            CachedCert c(mine, "a.example", {crypto::KeyType::ecdsa_p256}, 0);
            SslPtr s(SSL_new(ctx.get()));
            c.apply(s.get());
            if (!same(SSL_get_certificate(s.get()), a.cert.get())) return 11;
            mine.save(layout::cert_bundle("a.example", "ecdsa-p256"), b.pem, Sensitivity::secret);
            if (::chmod(bundle.c_str(), 0) != 0) return 12;
            mine.bump_generation();
            s.reset(SSL_new(ctx.get()));
            c.apply(s.get());
            if (!same(SSL_get_certificate(s.get()), a.cert.get())) return 13;
            if (::chmod(bundle.c_str(), 0600) != 0) return 14;
            s.reset(SSL_new(ctx.get()));
            c.apply(s.get());  // no new generation: only the retry can pick it up
            return same(SSL_get_certificate(s.get()), b.cert.get()) ? 0 : 15;
        }),
        0);
}

}  // namespace
}  // namespace acme::cache

// ---- OCSP stapling ------------------------------------------------------------------------

namespace acme::cache {
namespace {

long stapled_len(SSL* ssl) {
    const unsigned char* p = nullptr;
    return SSL_get_tlsext_status_ocsp_resp(ssl, &p);
}

TEST_F(CacheTest, TheStoredResponseIsStapledWithItsCertificateOnly) {
    testing::TestCA ca = testing::TestCA::make("Staple CA");
    Material a = make(crypto::KeyType::ecdsa_p256, "s.example", &ca);
    install("s.example", "ecdsa-p256", a.pem);
    CachedCert c(*store, "s.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    // No response stored: nothing stapled.
    ASSERT_TRUE(same(served(c, ssl), a.cert.get()));
    EXPECT_EQ(apply_staple(ssl.get()), SSL_TLSEXT_ERR_NOACK);

    const int64_t now = time(nullptr);
    const std::string good =
        ca.ocsp_response(a.cert.get(), V_OCSP_CERTSTATUS_GOOD, now - 60, now + 86400);
    store->save(layout::cert_ocsp("s.example", "ecdsa-p256"), good, Sensitivity::public_data);
    store->bump_generation();
    ASSERT_TRUE(same(served(c, ssl), a.cert.get()));
    EXPECT_EQ(apply_staple(ssl.get()), SSL_TLSEXT_ERR_OK);
    EXPECT_EQ(stapled_len(ssl.get()), static_cast<long>(good.size()));

    // A new certificate: the old response is not about it and is not stapled.
    Material b = make(crypto::KeyType::ecdsa_p256, "s.example", &ca);
    install("s.example", "ecdsa-p256", b.pem);
    store->bump_generation();
    ASSERT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(apply_staple(ssl.get()), SSL_TLSEXT_ERR_NOACK);

    // An expired or unknown response is not stapled either.
    store->save(layout::cert_ocsp("s.example", "ecdsa-p256"),
                ca.ocsp_response(b.cert.get(), V_OCSP_CERTSTATUS_GOOD, now - 7200, now - 3600),
                Sensitivity::public_data);
    store->bump_generation();
    ASSERT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(apply_staple(ssl.get()), SSL_TLSEXT_ERR_NOACK);
    store->save(layout::cert_ocsp("s.example", "ecdsa-p256"),
                ca.ocsp_response(b.cert.get(), V_OCSP_CERTSTATUS_UNKNOWN, now - 60, now + 3600),
                Sensitivity::public_data);
    store->bump_generation();
    ASSERT_TRUE(same(served(c, ssl), b.cert.get()));
    EXPECT_EQ(apply_staple(ssl.get()), SSL_TLSEXT_ERR_NOACK);
}

}  // namespace
}  // namespace acme::cache

// ---- memory: replaced entries are freed ----------------------------------------------------

namespace acme::cache {
namespace {

TEST_F(CacheTest, ReplacedEntriesAreFreedOnceNoHandshakeUsesThem) {
    testing::TestCA ca = testing::TestCA::make("Churn CA");
    CachedCert c(*store, "m.example", {crypto::KeyType::ecdsa_p256});
    SslPtr ssl;
    for (int i = 0; i < 50; ++i) {
        Material m = make(crypto::KeyType::ecdsa_p256, "m.example", &ca);
        install("m.example", "ecdsa-p256", m.pem);
        store->bump_generation();
        // The handshake that sees the install swaps the entry and frees the one it replaced:
        // nothing accumulates, whatever the number of installs.
        ASSERT_TRUE(same(served(c, ssl), m.cert.get()));
        EXPECT_EQ(c.retired_count(), 0u) << "install " << i;
    }
    // OpenSSL keeps what a live connection uses: the SSL still presents its certificate after
    // the entry it came from was freed.
    X509* held = SSL_get_certificate(ssl.get());
    Material last = make(crypto::KeyType::ecdsa_p256, "m.example", &ca);
    install("m.example", "ecdsa-p256", last.pem);
    store->bump_generation();
    SslPtr other;
    ASSERT_TRUE(same(served(c, other), last.cert.get()));
    EXPECT_EQ(c.retired_count(), 0u);
    EXPECT_EQ(SSL_get_certificate(ssl.get()), held);
    EXPECT_FALSE(crypto::cert_info(held).serial_hex.empty());
}

}  // namespace
}  // namespace acme::cache
