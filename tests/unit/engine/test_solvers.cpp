// engine/solvers: the dns-01 hook (argv, failure output, propagation wait, cancellation) and the
// store-backed http-01 / tls-alpn-01 solvers.
#include "engine/solvers.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "acme/client.h"
#include "store/layout.h"
#include "support/fakes.h"
#include "util/fs.h"

namespace acme::engine {
namespace {

using testing::FakeClock;
using testing::MemStore;

struct TempDir {
    TempDir() {
        char tmpl[] = "/tmp/acme-solvers-test-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string script(const std::string& name, const std::string& body) {
        std::string p = path + "/" + name;
        std::ofstream(p) << "#!/bin/sh\n" << body;
        chmod(p.c_str(), 0755);
        return p;
    }
    std::string read(const std::string& name) {
        std::ifstream f(path + "/" + name);
        std::stringstream ss;
        ss << f.rdbuf();
        return ss.str();
    }
    std::string path;
};

proto::Identifier dns(const std::string& v) {
    return {"dns", v};
}
proto::Challenge challenge(const std::string& type, const std::string& token) {
    proto::Challenge c;
    c.type = type;
    c.token = token;
    c.url = "https://ca.test/chall/1";
    c.status = "pending";
    return c;
}

TEST(Dns01Hook, CalledWithSetupAndTeardown) {
    TempDir tmp;
    const std::string hook =
        tmp.script("hook.sh", "echo \"$# $1 $2 $3\" >> " + tmp.path + "/argv.log\nexit 0\n");
    FakeClock clock;
    Dns01HookSolver s(hook, 0, clock, nullptr);
    EXPECT_EQ(s.type(), "dns-01");
    const std::string ka = "tokenABC.thumbprintXYZ";
    const std::string txt = proto::Client::dns01_txt_value(ka);
    s.present(dns("example.org"), challenge("dns-01", "tokenABC"), ka);
    EXPECT_EQ(tmp.read("argv.log"), "3 setup example.org " + txt + "\n");
    s.cleanup(dns("example.org"), challenge("dns-01", "tokenABC"), ka);
    EXPECT_EQ(tmp.read("argv.log"),
              "3 setup example.org " + txt + "\n3 teardown example.org " + txt + "\n");
    EXPECT_EQ(txt.size(), 43u);
    EXPECT_TRUE(clock.sleeps().empty());  // no propagation wait configured
}

TEST(Dns01Hook, FailureMessageCarriesTheHookOutput) {
    TempDir tmp;
    const std::string hook = tmp.script(
        "hook.sh", "echo 'zone example.org not found' >&2\necho 'second line'\nexit 3\n");
    FakeClock clock;
    Dns01HookSolver s(hook, 30, clock, nullptr);
    try {
        s.present(dns("example.org"), challenge("dns-01", "t"), "t.k");
        FAIL() << "a failing hook was accepted";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("example.org"), std::string::npos) << msg;
        EXPECT_NE(msg.find(hook), std::string::npos) << msg;
        EXPECT_NE(msg.find("setup"), std::string::npos) << msg;
        EXPECT_NE(msg.find("status 3"), std::string::npos) << msg;
        EXPECT_NE(msg.find("zone example.org not found"), std::string::npos) << msg;
        EXPECT_NE(msg.find("second line"), std::string::npos) << msg;
        EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
    EXPECT_TRUE(clock.sleeps().empty());  // no propagation wait after a failure
    // cleanup never throws, even when the hook fails.
    s.cleanup(dns("example.org"), challenge("dns-01", "t"), "t.k");
}

TEST(Dns01Hook, FailureMessageKeepsTheEndOfLongOutputAndNoControlCharacters) {
    TempDir tmp;
    const std::string hook = tmp.script(
        "hook.sh",
        "i=0; while [ $i -lt 200 ]; do echo \"noise line $i\"; i=$((i+1)); done\n"
        "printf 'bad \\033[31mtoken\\033[0m for zone example.org\\n' >&2\nexit 1\n");
    FakeClock clock;
    Dns01HookSolver s(hook, 0, clock, nullptr);
    try {
        s.present(dns("example.org"), challenge("dns-01", "t"), "t.k");
        FAIL() << "a failing hook was accepted";
    } catch (const Error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("status 1: ..."), std::string::npos) << msg;
        EXPECT_NE(msg.find("bad ?[31mtoken?[0m for zone example.org"), std::string::npos) << msg;
        EXPECT_EQ(msg.find("noise line 0 "), std::string::npos) << msg;
        EXPECT_LT(msg.size(), 512u + 200u + hook.size()) << msg;
        for (char c : msg) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << msg;
    }
}

TEST(Dns01Hook, MissingHookFails) {
    FakeClock clock;
    Dns01HookSolver s("/nonexistent/hook.sh", 0, clock, nullptr);
    EXPECT_THROW(s.present(dns("example.org"), challenge("dns-01", "t"), "t.k"), Error);
    s.cleanup(dns("example.org"), challenge("dns-01", "t"), "t.k");
}

TEST(Dns01Hook, WaitsForPropagation) {
    TempDir tmp;
    FakeClock clock;
    Dns01HookSolver s(tmp.script("hook.sh", "exit 0\n"), 5, clock, nullptr);
    s.present(dns("example.org"), challenge("dns-01", "t"), "t.k");
    EXPECT_EQ(clock.total_slept_ms(), 5000);
}

TEST(Dns01Hook, PropagationWaitIsCancellable) {
    TempDir tmp;
    FakeClock clock;
    std::atomic<bool> cancel{false};
    clock.on_sleep = [&](int64_t) {
        if (clock.total_slept_ms() >= 1000) cancel.store(true);
    };
    Dns01HookSolver s(tmp.script("hook.sh", "exit 0\n"), 600, clock, &cancel);
    try {
        s.present(dns("example.org"), challenge("dns-01", "t"), "t.k");
        FAIL() << "not cancelled";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos);
    }
    EXPECT_LE(clock.total_slept_ms(), 1100);
}

// Waits (bounded: a hang guard, not a timing assertion) until the hook wrote a line to `name`.
bool wait_for_line(TempDir& tmp, const std::string& name) {
    for (int i = 0; i < 3000; ++i) {
        const std::string s = tmp.read(name);
        if (!s.empty() && s.back() == '\n') return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
}

TEST(Dns01Hook, AStopInterruptsTheSetupHook) {
    TempDir tmp;
    const std::string hook =
        tmp.script("hook.sh", "echo $$ > " + tmp.path + "/pid\nsleep 20\necho finished > " +
                                  tmp.path + "/finished\n");
    FakeClock clock;
    std::atomic<bool> cancel{false};
    Dns01HookSolver s(hook, 0, clock, &cancel);
    std::thread stopper([&] {
        wait_for_line(tmp, "pid");
        cancel.store(true);
    });
    try {
        s.present(dns("example.org"), challenge("dns-01", "t"), "t.k");
        ADD_FAILURE() << "not cancelled";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::internal);
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos) << e.what();
    }
    stopper.join();
    EXPECT_EQ(tmp.read("finished"), "");  // killed, not waited for
    const pid_t pid = std::stoi(tmp.read("pid"));
    EXPECT_TRUE(::kill(pid, 0) != 0 && errno == ESRCH);
}

TEST(Dns01Hook, TeardownAfterAStopRunsBriefly) {
    TempDir tmp;
    const std::string hook =
        tmp.script("hook.sh", "echo $1 >> " + tmp.path + "/log\nsleep 20\necho finished >> " +
                                  tmp.path + "/log\n");
    FakeClock clock;
    std::atomic<bool> cancel{true};
    Dns01HookSolver s(hook, 0, clock, &cancel);
    s.cleanup(dns("example.org"), challenge("dns-01", "t"), "t.k");
    EXPECT_EQ(tmp.read("log"), "teardown\n");  // it ran, and was killed after the grace time
}

TEST(Dns01Hook, AStopInterruptsTheTeardownHook) {
    TempDir tmp;
    const std::string hook =
        tmp.script("hook.sh", "echo $1 >> " + tmp.path + "/log\nsleep 20\necho finished >> " +
                                  tmp.path + "/log\n");
    FakeClock clock;
    std::atomic<bool> cancel{false};
    Dns01HookSolver s(hook, 0, clock, &cancel);
    std::thread stopper([&] {
        wait_for_line(tmp, "log");
        cancel.store(true);
    });
    s.cleanup(dns("example.org"), challenge("dns-01", "t"), "t.k");
    stopper.join();
    EXPECT_EQ(tmp.read("log"), "teardown\n");
}

TEST(Http01Store, PublishesAndRemoves) {
    MemStore store;
    Http01StoreSolver s(store);
    EXPECT_EQ(s.type(), "http-01");
    const std::string token = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    const std::string ka = token + ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI";
    s.present(dns("example.org"), challenge("http-01", token), ka);
    EXPECT_EQ(store.load(layout::http01_challenge(token)), ka);
    EXPECT_EQ(store.sensitivity(layout::http01_challenge(token)), Sensitivity::public_data);
    s.cleanup(dns("example.org"), challenge("http-01", token), ka);
    EXPECT_FALSE(store.has(layout::http01_challenge(token)));
    s.cleanup(dns("example.org"), challenge("http-01", token), ka);  // twice is harmless
}

TEST(TlsAlpn01Store, PublishesAValidationCertificateAndRemovesIt) {
    MemStore store;
    TlsAlpn01StoreSolver s(store);
    EXPECT_EQ(s.type(), "tls-alpn-01");
    const std::string ka = "token.thumb";
    s.present(dns("example.org"), challenge("tls-alpn-01", "token"), ka);
    const std::string key = layout::tls_alpn01_challenge("example.org");
    std::optional<std::string> pem = store.load(key);
    ASSERT_TRUE(pem);
    EXPECT_EQ(store.sensitivity(key), Sensitivity::secret);
    crypto::PKey pkey = crypto::private_key_from_pem(*pem);
    crypto::Chain chain = crypto::parse_pem_chain(*pem);
    ASSERT_EQ(chain.size(), 1u);
    X509* cert = chain.front().get();
    EXPECT_TRUE(crypto::cert_matches_key(cert, pkey.get()));
    EXPECT_EQ(crypto::cert_info(cert).dns_names, std::vector<std::string>{"example.org"});
    // id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31), critical, OCTET STRING of SHA-256(ka).
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
    int idx = X509_get_ext_by_OBJ(cert, oid, -1);
    ASN1_OBJECT_free(oid);
    ASSERT_GE(idx, 0);
    X509_EXTENSION* ext = X509_get_ext(cert, idx);
    EXPECT_EQ(X509_EXTENSION_get_critical(ext), 1);
    const ASN1_OCTET_STRING* data = X509_EXTENSION_get_data(ext);
    const std::string der(reinterpret_cast<const char*>(ASN1_STRING_get0_data(data)),
                          static_cast<size_t>(ASN1_STRING_length(data)));
    EXPECT_EQ(der, std::string("\x04\x20", 2) + crypto::sha256(ka));
    s.cleanup(dns("example.org"), challenge("tls-alpn-01", "token"), ka);
    EXPECT_FALSE(store.has(key));
}

TEST(TlsAlpn01Store, ValidationKeyIsRsaOnlyWhenTheServerHasNoEcdsaCertificate) {
    // httpd installs the validation certificate after a TLS 1.2 cipher suite was chosen for the
    // server's own certificates: an ECDSA one where the server has an ECDSA certificate.
    FakeClock clock;
    const std::vector<std::pair<std::vector<crypto::KeyType>, int>> cases = {
        {{}, EVP_PKEY_EC},
        {{crypto::KeyType::ecdsa_p384}, EVP_PKEY_EC},
        {{crypto::KeyType::rsa4096, crypto::KeyType::ecdsa_p256}, EVP_PKEY_EC},
        {{crypto::KeyType::rsa3072}, EVP_PKEY_RSA},
    };
    for (const auto& [types, want] : cases) {
        MemStore store;
        CertConfig c;
        c.challenge = ChallengeType::tls_alpn01;
        c.key_types = types;
        make_solver(c, store, clock, nullptr)
            ->present(dns("example.org"), challenge("tls-alpn-01", "token"), "token.thumb");
        std::optional<std::string> pem = store.load(layout::tls_alpn01_challenge("example.org"));
        ASSERT_TRUE(pem);
        crypto::PKey pkey = crypto::private_key_from_pem(*pem);
        EXPECT_EQ(EVP_PKEY_get_base_id(pkey.get()), want) << types.size();
        if (want == EVP_PKEY_RSA) {
            EXPECT_EQ(EVP_PKEY_get_bits(pkey.get()), 2048);
        }
    }
}

TEST(MakeSolver, PicksByChallengeType) {
    MemStore store;
    FakeClock clock;
    CertConfig c;
    c.challenge = ChallengeType::http01;
    EXPECT_EQ(make_solver(c, store, clock, nullptr)->type(), "http-01");
    c.challenge = ChallengeType::tls_alpn01;
    EXPECT_EQ(make_solver(c, store, clock, nullptr)->type(), "tls-alpn-01");
    c.challenge = ChallengeType::dns01;
    c.dns_hook = "/bin/true";
    EXPECT_EQ(make_solver(c, store, clock, nullptr)->type(), "dns-01");
}

}  // namespace
}  // namespace acme::engine
