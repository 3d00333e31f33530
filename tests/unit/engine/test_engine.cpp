// engine/engine.cpp pieces that need no CA: the reverse-DNS SNI of RFC 8738 section 6.
#include "engine/engine.h"

#include <gtest/gtest.h>

namespace acme::engine {
namespace {

TEST(ReverseDns, Ipv4) {
    EXPECT_EQ(reverse_dns_to_ip("1.2.0.192.in-addr.arpa"), "192.0.2.1");
    EXPECT_EQ(reverse_dns_to_ip("1.0.0.127.IN-ADDR.ARPA."), "127.0.0.1");
}

TEST(ReverseDns, Ipv6) {
    // 2001:db8::1
    EXPECT_EQ(reverse_dns_to_ip("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                                "ip6.arpa"),
              "2001:db8::1");
}

TEST(ReverseDns, OtherNamesUnchanged) {
    EXPECT_EQ(reverse_dns_to_ip("example.org"), "example.org");
    EXPECT_EQ(reverse_dns_to_ip("2.0.192.in-addr.arpa"), "2.0.192.in-addr.arpa");  // 3 labels
    EXPECT_EQ(reverse_dns_to_ip("1.2.0.999.in-addr.arpa"), "1.2.0.999.in-addr.arpa");
    EXPECT_EQ(reverse_dns_to_ip("x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2."
                                "ip6.arpa"),
              "x.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
    EXPECT_EQ(reverse_dns_to_ip(".in-addr.arpa"), ".in-addr.arpa");
}

}  // namespace
}  // namespace acme::engine

// ---- the driver, with a CA that cannot be reached ------------------------------------------

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "store/layout.h"
#include "support/test_pki.h"
#include "util/fs.h"
#include "util/log.h"

namespace acme::engine {
namespace {

struct LogCapture {
    std::mutex mu;
    std::vector<std::string> lines;
    static void cb(void* baton, int, const char* msg) {
        auto* self = static_cast<LogCapture*>(baton);
        std::lock_guard<std::mutex> g(self->mu);
        self->lines.emplace_back(msg);
    }
    size_t count(const std::string& needle) {
        std::lock_guard<std::mutex> g(mu);
        size_t n = 0;
        for (const std::string& l : lines) n += l.find(needle) != std::string::npos;
        return n;
    }
    bool any(const std::string& needle) { return count(needle) > 0; }
};

struct EngineTest : ::testing::Test {
    EngineTest() {
        char tmpl[] = "/tmp/acme-engine-test-XXXXXX";
        dir = mkdtemp(tmpl);
        log_set(&LogCapture::cb, &log, LogLevel::debug);
    }
    ~EngineTest() override {
        log_set(nullptr, nullptr, LogLevel::error);
        std::filesystem::remove_all(dir);
    }
    CertConfig config(std::vector<std::string> names, std::vector<crypto::KeyType> types) {
        CertConfig c;
        c.domains = std::move(names);
        c.key_types = std::move(types);
        c.account.ca_urls = {"https://127.0.0.1:9/dir"};  // nothing listens: refused at once
        return c;
    }
    // A CA-issued bundle (with an AKI, so it has an ARI id) for `names`.
    std::string bundle(crypto::KeyType t, std::vector<std::string> names) {
        crypto::PKey k = crypto::generate_key(t);
        crypto::X509Ptr leaf = ca.issue(k.get(), names);
        return crypto::private_key_to_pem(k.get()) + crypto::cert_to_pem(leaf.get()) + ca.pem();
    }
    void put(const std::string& key, const std::string& value) {
        fs::make_dirs(fs::dirname(dir + "/store/" + key), 0700);
        fs::write_file_atomic(dir + "/store/" + key, value, 0600);
    }
    std::string dir;
    LogCapture log;
    testing::TestCA ca = testing::TestCA::make("Engine Test CA");
};

TEST_F(EngineTest, AriPollOfACertificateWithoutMetaDoesNotSpin) {
    // meta.json lost (or corrupt): rebuilt from the bundle, the issuing CA is unknown. The ARI
    // poll must still record its outcome instead of returning early and being relaunched at once.
    EngineOptions o;
    o.store_dir = dir + "/store";
    o.lock_retry_ms = 100;
    Engine engine(o);
    ManagedCert& mc = engine.add(config({"spin.example"}, {crypto::KeyType::ecdsa_p256}));
    put(layout::cert_bundle(mc.name(), "ecdsa-p256"),
        bundle(crypto::KeyType::ecdsa_p256, {"spin.example"}));
    engine.prepare(-1, -1);
    engine.start();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    engine.stop();
    EXPECT_GE(log.count("spin.example: polling ARI"), 1u);
    EXPECT_LE(log.count("spin.example: polling ARI"), 2u);
}

TEST_F(EngineTest, DualCertificateWithOneKeyTypeBehindIsReorderedAlone) {
    // The names changed; the ECDSA certificate was renewed for them, the RSA order failed. The
    // RSA certificate no longer fits the configuration and is ordered on its own, now.
    EngineOptions o;
    o.store_dir = dir + "/store";
    Engine engine(o);
    ManagedCert& mc =
        engine.add(config({"a.example", "b.example"},
                          {crypto::KeyType::ecdsa_p256, crypto::KeyType::rsa2048}));
    put(layout::cert_bundle(mc.name(), "ecdsa-p256"),
        bundle(crypto::KeyType::ecdsa_p256, {"a.example", "b.example"}));
    put(layout::cert_bundle(mc.name(), "rsa-2048"), bundle(crypto::KeyType::rsa2048, {"a.example"}));
    CertMeta meta;
    meta.name = mc.name();
    meta.domains = {"a.example", "b.example"};
    meta.ca = "https://127.0.0.1:9/dir";
    meta.config_hash = mc.hash();
    put(layout::cert_meta(mc.name()), to_json(meta));
    engine.prepare(-1, -1);
    EXPECT_THROW(engine.issue_now(mc, false), Error);  // the CA is unreachable
    EXPECT_TRUE(log.any("ordering a certificate for a.example, b.example (rsa-2048)"))
        << "the RSA certificate alone is ordered";
    EXPECT_FALSE(log.any("ecdsa-p256, rsa-2048"));
}

TEST_F(EngineTest, AnotherProfileIsOrderedNowNotAtTheNextRenewal) {
    // A valid certificate, ordered with the CA's default profile; "shortlived" is configured now.
    for (const char* stored : {"", "shortlived"}) {
        EngineOptions o;
        o.store_dir = dir + "/store-" + std::string(stored);
        Engine engine(o);
        CertConfig cfg = config({"p.example"}, {crypto::KeyType::ecdsa_p256});
        cfg.profile = "shortlived";
        ManagedCert& mc = engine.add(cfg);
        const std::string kt = "ecdsa-p256";
        fs::make_dirs(fs::dirname(o.store_dir + "/" + layout::cert_bundle(mc.name(), kt)), 0700);
        fs::write_file_atomic(o.store_dir + "/" + layout::cert_bundle(mc.name(), kt),
                              bundle(crypto::KeyType::ecdsa_p256, {"p.example"}), 0600);
        CertMeta meta;
        meta.name = mc.name();
        meta.domains = {"p.example"};
        meta.ca = "https://127.0.0.1:9/dir";
        meta.config_hash = "old";
        meta.profile = stored;
        fs::write_file_atomic(o.store_dir + "/" + layout::cert_meta(mc.name()), to_json(meta),
                              0600);
        engine.prepare(-1, -1);
        log.lines.clear();
        try {
            engine.issue_now(mc, false);
        } catch (const Error&) {
            // the CA is unreachable
        }
        if (*stored) {
            EXPECT_FALSE(log.any("ordering a certificate for p.example")) << "same profile";
        } else {
            EXPECT_TRUE(log.any("ordering a certificate for p.example (ecdsa-p256)"))
                << "another profile";
        }
    }
}

// A TCP port that accepts connections (the kernel's backlog) and never answers: a CA that
// hangs, so that an order stays in flight until the engine stops.
struct SilentPort {
    SilentPort() {
        fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof(a);
        if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
            ::listen(fd, 16) != 0 ||
            ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
            throw std::runtime_error("cannot listen on 127.0.0.1");
        port = ntohs(a.sin_port);
    }
    ~SilentPort() { ::close(fd); }
    int fd = -1;
    int port = 0;
};

TEST_F(EngineTest, OrdersThatShareANameAreNotValidatedAtTheSameTime) {
    // a.example and www.a.example; then www.a.example alone (its tls-alpn-01 validation
    // certificate, or a dns-01 record, would replace the other order's); then c.example, which
    // shares nothing and runs beside the first.
    SilentPort silent;
    const std::string url = "https://127.0.0.1:" + std::to_string(silent.port) + "/dir";
    EngineOptions o;
    o.store_dir = dir + "/store";
    o.max_concurrency = 3;
    Engine engine(o);
    CertConfig a = config({"a.example", "www.a.example"}, {crypto::KeyType::ecdsa_p256});
    CertConfig b = config({"www.a.example"}, {crypto::KeyType::ecdsa_p256});
    CertConfig w = config({"*.a.example"}, {crypto::KeyType::ecdsa_p256});
    CertConfig c = config({"c.example"}, {crypto::KeyType::ecdsa_p256});
    for (CertConfig* cfg : {&a, &b, &w, &c}) {
        cfg->account.ca_urls = {url};
        cfg->challenge = ChallengeType::dns01;
        cfg->dns_hook = "/bin/true";
    }
    engine.add(a);
    engine.add(b);
    engine.add(w);
    engine.add(c);
    engine.prepare(-1, -1);
    engine.start();
    for (int i = 0; i < 100 && !(log.any("ordering a certificate for c.example") &&
                                 log.any("_wildcard.a.example: waiting for the order"));
         ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    engine.stop();
    EXPECT_TRUE(log.any("ordering a certificate for a.example, www.a.example ("));
    EXPECT_TRUE(log.any("ordering a certificate for c.example ("));
    EXPECT_TRUE(log.any("www.a.example: waiting for the order of a.example, which validates "
                        "www.a.example too"));
    // *.a.example is validated at _acme-challenge.a.example, like a.example.
    EXPECT_TRUE(log.any("_wildcard.a.example: waiting for the order of a.example, which validates "
                        "a.example too"));
    EXPECT_FALSE(log.any("ordering a certificate for www.a.example ("));
    EXPECT_FALSE(log.any("ordering a certificate for *.a.example ("));
}

}  // namespace
}  // namespace acme::engine

// ---- stale challenges --------------------------------------------------------------------

#include <sys/time.h>

namespace acme::engine {
namespace {

TEST_F(EngineTest, TakeoverRemovesChallengesLeftByAnInterruptedOrder) {
    // A process killed in the middle of an order left its challenges; they must not be answered
    // for ever. One that a live order (acmectl) published a moment ago stays.
    EngineOptions o;
    o.store_dir = dir + "/store";
    o.lock_retry_ms = 100;
    Engine engine(o);
    engine.add(config({"stale.example"}, {crypto::KeyType::ecdsa_p256}));
    const std::string old_token = layout::http01_challenge("old-token_0123456789");
    const std::string old_alpn = layout::tls_alpn01_challenge("stale.example");
    const std::string fresh_token = layout::http01_challenge("fresh-token_0123456789");
    put(old_token, "old-token_0123456789.thumbprint");
    put(old_alpn, "key and certificate");
    put(fresh_token, "fresh-token_0123456789.thumbprint");
    const struct timeval hour_ago[2] = {{time(nullptr) - 3600, 0}, {time(nullptr) - 3600, 0}};
    ASSERT_EQ(::utimes((dir + "/store/" + old_token).c_str(), hour_ago), 0);
    ASSERT_EQ(::utimes((dir + "/store/" + old_alpn).c_str(), hour_ago), 0);
    engine.prepare(-1, -1);
    EXPECT_TRUE(engine.http01_lookup("old-token_0123456789")) << "answered before the sweep";

    engine.start();
    for (int i = 0; i < 200 && !log.any("removed 2 stale challenge(s)"); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    engine.stop();
    EXPECT_TRUE(log.any("removed 2 stale challenge(s)"));
    EXPECT_FALSE(engine.http01_lookup("old-token_0123456789"));
    EXPECT_FALSE(fs::exists(dir + "/store/" + old_alpn));
    EXPECT_TRUE(engine.http01_lookup("fresh-token_0123456789"));
}

}  // namespace
}  // namespace acme::engine

// ---- accounts shared by certificates -------------------------------------------------------

namespace acme::engine {
namespace {

TEST_F(EngineTest, CertificatesSharingAnAccountMustAgreeOnIt) {
    EngineOptions o;
    o.store_dir = dir + "/store";
    o.read_only = true;  // nothing is written: the check is the configuration's
    Engine engine(o);
    CertConfig a = config({"a.example"}, {crypto::KeyType::ecdsa_p256});
    a.account.contacts = {"a@example.org"};
    engine.add(a);

    CertConfig b = config({"b.example"}, {crypto::KeyType::ecdsa_p256});
    b.account.contacts = {"b@example.org"};
    try {
        engine.add(b);
        FAIL() << "two contacts for one account were accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.field(), "contacts");
        EXPECT_NE(std::string(e.what()).find("\"a.example\" and \"b.example\" share one account"),
                  std::string::npos)
            << e.what();
    }
    // Another EAB key id is another account: its own contacts are fine.
    b.account.eab_kid = "kid-b";
    b.account.eab_hmac_key = "c2VjcmV0";
    EXPECT_NO_THROW(engine.add(b));
    // The same key id with another HMAC key is refused.
    CertConfig c = config({"c.example"}, {crypto::KeyType::ecdsa_p256});
    c.account.contacts = {"b@example.org"};
    c.account.eab_kid = "kid-b";
    c.account.eab_hmac_key = "b3RoZXI";
    try {
        engine.add(c);
        FAIL() << "two HMAC keys for one key id were accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.field(), "eab_hmac_key");
    }
    // Another CA: another account.
    CertConfig d = config({"d.example"}, {crypto::KeyType::ecdsa_p256});
    d.account.ca_urls = {"https://127.0.0.1:10/dir"};
    d.account.contacts = {"d@example.org"};
    EXPECT_NO_THROW(engine.add(d));
    EXPECT_FALSE(fs::exists(dir + "/store")) << "a read-only engine created the store";
}

}  // namespace
}  // namespace acme::engine
