// Memory under churn (issue 16). Linked with AddressSanitizer's runtime: LeakSanitizer fails the
// run for any leak at exit, and its allocator counts the bytes in use, so the test also fails when memory
// grows with the number of installs (or of failed attempts) while nothing is leaked in the strict
// sense (a cache that keeps what it replaced). No timing: counts of bytes after counts of cycles.
//
// The engine orders from the tests' fake CA (through EngineOptions.transport_factory), installs,
// and every cycle a handshake's certificate callback swaps the new certificate in, as in a server.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/engine.h"
#include "support/fake_ca.h"
#include "util/fs.h"
#include "util/log.h"

extern "C" size_t __sanitizer_get_current_allocated_bytes(void);

namespace acme::engine {
namespace {

// The engine owns its transports; this one hands every request to the one fake CA.
class ToFakeCA : public Transport {
public:
    explicit ToFakeCA(testing::FakeCA& ca) : ca_(ca) {}
    HttpResponse perform(const HttpRequest& req) override { return ca_.perform(req); }

private:
    testing::FakeCA& ca_;
};

struct ChurnTest : ::testing::Test {
    ChurnTest() {
        char tmpl[] = "/tmp/acme-churn-XXXXXX";
        dir = mkdtemp(tmpl);
        fs::write_file_atomic(dir + "/roots.pem", ca.root.pem(), 0644);
        ctx.reset(SSL_CTX_new(TLS_server_method()));
    }
    ~ChurnTest() override { std::filesystem::remove_all(dir); }

    std::unique_ptr<Engine> engine() {
        EngineOptions o;
        o.store_dir = dir + "/store";
        o.transport_factory = [this](const TransportOptions&) {
            return std::make_unique<ToFakeCA>(ca);
        };
        return std::make_unique<Engine>(std::move(o));
    }
    CertConfig config(const std::string& name) {
        CertConfig c;
        c.domains = {name, "www." + name};
        c.key_types = {crypto::KeyType::ecdsa_p256};
        c.account.ca_urls = {ca.directory_url()};
        c.account.agree_tos = true;
        c.account.contacts = {"ops@example.org"};
        c.account.chain_roots = dir + "/roots.pem";
        return c;
    }
    // What every handshake does: the certificate callback's swap and set.
    void handshake(ManagedCert& mc) {
        SSL* ssl = SSL_new(ctx.get());
        ASSERT_NE(ssl, nullptr);
        EXPECT_EQ(mc.cached().apply(ssl), 1);
        SSL_free(ssl);
    }

    std::string dir;
    testing::FakeCA ca;
    std::unique_ptr<SSL_CTX, crypto::OsslDeleter<SSL_CTX, SSL_CTX_free>> ctx;
};

size_t in_use() { return __sanitizer_get_current_allocated_bytes(); }

// After warm-up, this many more cycles may leave at most this much more memory in use: noise of
// the allocator and of OpenSSL's own caches, far below one retained certificate per cycle
// (a few KiB each).
constexpr int kWarmUp = 30;
constexpr int kCycles = 300;
constexpr size_t kSlackBytes = 64 * 1024;

// Bytes still in use after kCycles more cycles, once kWarmUp cycles warmed the caches up.
template <typename F>
size_t growth(const char* what, F cycle) {
    for (int i = 0; i < kWarmUp; ++i) cycle();
    const size_t before = in_use();
    for (int i = 0; i < kCycles; ++i) cycle();
    const size_t after = in_use();
    std::fprintf(stderr, "%s: %zu bytes in use before, %zu after %d more\n", what, before, after,
                 kCycles);
    return after > before ? after - before : 0;
}

TEST_F(ChurnTest, HundredsOfInstallsKeepMemoryFlat) {
    std::unique_ptr<Engine> e = engine();
    ManagedCert& mc = e->add(config("churn.example"));
    e->prepare(-1, -1);
    auto cycle = [&] {
        ASSERT_TRUE(e->issue_now(mc, true));
        handshake(mc);
        handshake(mc);
        (void)e->status(false, false);
        ca.forget_history();
    };
    const size_t grown = growth("installs", cycle);
    EXPECT_LT(grown, kSlackBytes) << grown / kCycles << " bytes per install stay in use";
}

TEST_F(ChurnTest, AFailingCaKeepsMemoryFlat) {
    std::unique_ptr<Engine> e = engine();
    ManagedCert& mc = e->add(config("down.example"));
    e->prepare(-1, -1);
    ASSERT_TRUE(e->issue_now(mc, true));  // a certificate in service, and an account
    ca.forget_history();
    ca.intercept = [](const HttpRequest&) -> std::optional<HttpResponse> {
        HttpResponse r;
        r.status = 503;
        r.headers = {{"content-type", "application/problem+json"}, {"retry-after", "60"}};
        r.body = R"({"type":"urn:ietf:params:acme:error:serverInternal","detail":"down"})";
        return r;
    };
    auto cycle = [&] {
        EXPECT_THROW(e->issue_now(mc, true), Error);
        handshake(mc);
        (void)e->status(false, false);
        ca.forget_history();
    };
    const size_t grown = growth("failures", cycle);
    EXPECT_LT(grown, kSlackBytes) << grown / kCycles << " bytes per failed attempt stay in use";
}

}  // namespace
}  // namespace acme::engine
