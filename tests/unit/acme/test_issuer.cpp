// acme/issuer: run_order against the in-test fake CA: full flow, resuming after a crash, saved
// orders the CA no longer wants, solver pairing, verification of what the CA returns.
#include "acme/issuer.h"

#include <gtest/gtest.h>

#include <mutex>

#include "acme/problem.h"
#include "store/layout.h"
#include "support/fake_ca.h"
#include "support/fakes.h"
#include "support/test_pki.h"

namespace acme::proto {
namespace {

using testing::FakeCA;
using testing::FakeClock;
using testing::MemStore;

class RecordingSolver : public ChallengeSolver {
public:
    explicit RecordingSolver(std::string type = "http-01") : type_(std::move(type)) {}
    std::string type() const override { return type_; }
    void present(const Identifier& id, const Challenge& ch, const std::string& ka) override {
        if (fail_present_for == id.value)
            throw Error(Status::io, "solver: cannot publish " + id.value);
        presented.push_back(id.str() + " " + ch.token + " " + ka);
        live.insert(ch.token);
    }
    void cleanup(const Identifier& id, const Challenge& ch,
                 const std::string& ka) noexcept override {
        cleaned.push_back(id.str() + " " + ch.token + " " + ka);
        live.erase(ch.token);
    }
    std::string fail_present_for;
    std::vector<std::string> presented, cleaned;
    std::set<std::string> live;

private:
    std::string type_;
};

struct IssuerTest : ::testing::Test {
    IssuerTest() { reset_client(); }
    void reset_client() {
        client = std::make_unique<Client>(ca, ca.directory_url(), clock);
        if (!account_key) {
            client->set_account_key(crypto::generate_key(crypto::KeyType::ecdsa_p256));
            client->new_account({});
            account_key = crypto::share(client->account_key());
        } else {
            client->set_account_key(crypto::share(account_key.get()));
            client->set_account_url(ca.accounts.at(0).url);
        }
    }
    OrderRequest request(std::vector<std::string> names = {"example.org", "www.example.org"}) {
        OrderRequest r;
        r.name = names.front()[0] == '*' ? "_wildcard" + names.front().substr(1) : names.front();
        r.domains = std::move(names);
        r.authz_timeout_ms = 10000;
        r.order_timeout_ms = 10000;
        r.chain_roots_pem = ca.root.pem();
        return r;
    }
    std::string order_json_key(const OrderRequest& r) {
        return layout::order_json(r.name, "ecdsa-p256");
    }
    std::string order_key_key(const OrderRequest& r) {
        return layout::order_key(r.name, "ecdsa-p256");
    }

    FakeCA ca;
    FakeClock clock;
    MemStore store;
    crypto::PKey account_key;
    std::unique_ptr<Client> client;
    RecordingSolver solver;
};

TEST_F(IssuerTest, FullFlow) {
    OrderRequest req = request();
    IssuedCertificate out = run_order(*client, store, req, solver);

    crypto::PKey key = crypto::private_key_from_pem(out.key_pem);
    crypto::Chain chain = crypto::parse_pem_chain(out.chain_pem);
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_TRUE(crypto::cert_matches_key(chain.front().get(), key.get()));
    EXPECT_TRUE(crypto::cert_covers_names(chain.front().get(), req.domains));
    EXPECT_EQ(crypto::verify_chain(chain, ca.root.pem(), time(nullptr)), "");
    EXPECT_EQ(crypto::key_type_of(key.get()), crypto::KeyType::ecdsa_p256);
    EXPECT_EQ(out.order_url, ca.orders.begin()->first);

    EXPECT_EQ(ca.count("new-order"), 1u);
    EXPECT_EQ(ca.count("finalize"), 1u);
    EXPECT_EQ(ca.count("chall"), 2u);
    // The CSR carried the names and the returned key.
    testing::CsrInfo csr = testing::parse_csr(ca.orders.begin()->second.csr_der);
    EXPECT_EQ(crypto::jwk_thumbprint(csr.key.get()), crypto::jwk_thumbprint(key.get()));
    // Both names were presented with key authorizations of the account key, then cleaned up.
    ASSERT_EQ(solver.presented.size(), 2u);
    for (const std::string& p : solver.presented)
        EXPECT_NE(p.find("." + crypto::jwk_thumbprint(account_key.get())), std::string::npos) << p;
    EXPECT_EQ(solver.cleaned.size(), 2u);
    EXPECT_TRUE(solver.live.empty());
    // The order state stays until the caller installed the result (forget_order).
    EXPECT_TRUE(store.has(order_json_key(req)));
    ASSERT_TRUE(store.has(order_key_key(req)));
    EXPECT_EQ(store.sensitivity(order_key_key(req)), Sensitivity::secret);
    forget_order(store, req.name, req.key_type);
    EXPECT_FALSE(store.has(order_json_key(req)));
    EXPECT_FALSE(store.has(order_key_key(req)));
}

TEST_F(IssuerTest, RsaKeyAndIpIdentifier) {
    OrderRequest req = request({"192.0.2.7"});
    req.key_type = crypto::KeyType::rsa2048;
    IssuedCertificate out = run_order(*client, store, req, solver);
    crypto::PKey key = crypto::private_key_from_pem(out.key_pem);
    EXPECT_EQ(crypto::key_type_of(key.get()), crypto::KeyType::rsa2048);
    crypto::Chain chain = crypto::parse_pem_chain(out.chain_pem);
    EXPECT_EQ(crypto::cert_info(chain.front().get()).ip_addresses,
              std::vector<std::string>{"192.0.2.7"});
    EXPECT_EQ(ca.last("new-order")->payload_json.get("identifiers").at(0).str("type"), "ip");
    EXPECT_TRUE(store.has(layout::order_json(req.name, "rsa-2048")));
}

TEST_F(IssuerTest, ProfileAndReplacesAreSent) {
    ca.profiles = {{"shortlived", "6 days"}};
    OrderRequest req = request({"example.org"});
    req.profile = "shortlived";
    req.replaces = "AAAA.AQID";
    run_order(*client, store, req, solver);
    EXPECT_EQ(ca.last("new-order")->payload_json.str("profile"), "shortlived");
    EXPECT_EQ(ca.last("new-order")->payload_json.str("replaces"), "AAAA.AQID");
}

TEST_F(IssuerTest, WildcardWithDns01AndUnknownChallengeTypes) {
    ca.unknown_challenge_type = "dns-account-01";
    RecordingSolver dns("dns-01");
    OrderRequest req = request({"*.example.org", "example.org"});
    IssuedCertificate out = run_order(*client, store, req, dns);
    crypto::Chain chain = crypto::parse_pem_chain(out.chain_pem);
    EXPECT_TRUE(crypto::cert_covers_names(chain.front().get(), {"*.example.org", "example.org"}));
    // The wildcard authorization is for the base name.
    ASSERT_EQ(dns.presented.size(), 2u);
    EXPECT_EQ(dns.presented[0].rfind("dns:example.org ", 0), 0u) << dns.presented[0];
    EXPECT_EQ(dns.presented[1].rfind("dns:example.org ", 0), 0u) << dns.presented[1];
    EXPECT_EQ(dns.cleaned.size(), 2u);
}

TEST_F(IssuerTest, NoChallengeOfTheSolversTypeIsPermanent) {
    RecordingSolver alpn("tls-alpn-01");
    OrderRequest req = request({"*.example.org"});
    try {
        run_order(*client, store, req, alpn);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(e.permanent());
        EXPECT_NE(std::string(e.what()).find("offers no tls-alpn-01 challenge for example.org"),
                  std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find("offered: dns-01"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(alpn.presented.empty());
}

TEST_F(IssuerTest, ResumesAfterACrash) {
    OrderRequest req = request();
    // The process "dies" when it sends the CSR: the transport fails once, hard.
    bool crashed = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!crashed && r.url.find("/finalize/") != std::string::npos) {
            crashed = true;
            throw Error(Status::network, "connection reset (simulated crash)");
        }
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, req, solver), Error);
    ASSERT_TRUE(crashed);
    EXPECT_EQ(solver.presented.size(), solver.cleaned.size());
    ASSERT_TRUE(store.has(order_json_key(req)));
    ASSERT_TRUE(store.has(order_key_key(req)));
    const std::string saved_key = *store.load(order_key_key(req));
    const std::string saved_order = *store.load(order_json_key(req));
    EXPECT_NE(saved_order.find(ca.orders.begin()->first), std::string::npos);

    // A new process: new client and solver, the same store.
    reset_client();
    RecordingSolver second;
    IssuedCertificate out = run_order(*client, store, req, second);
    EXPECT_EQ(ca.count("new-order"), 1u);  // resumed: no second order
    EXPECT_EQ(ca.orders.size(), 1u);
    EXPECT_TRUE(second.presented.empty());  // authorizations were already valid
    EXPECT_EQ(out.key_pem,
              crypto::private_key_to_pem(crypto::private_key_from_pem(saved_key).get()));
    // The CSR that reached the CA is signed by the saved key.
    testing::CsrInfo csr = testing::parse_csr(ca.orders.begin()->second.csr_der);
    EXPECT_EQ(crypto::jwk_thumbprint(csr.key.get()),
              crypto::jwk_thumbprint(crypto::private_key_from_pem(saved_key).get()));
    EXPECT_TRUE(crypto::cert_matches_key(crypto::parse_pem_chain(out.chain_pem).front().get(),
                                         crypto::private_key_from_pem(saved_key).get()));
}

TEST_F(IssuerTest, ResumesAProcessingOrderWithoutFinalizingAgain) {
    OrderRequest req = request({"example.org"});
    bool crashed = false;
    // Crash right after the CA accepted the CSR: the next poll of the order fails.
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!crashed && ca.count("finalize") == 1 && r.url.find("/order/") != std::string::npos) {
            crashed = true;
            throw Error(Status::network, "simulated crash");
        }
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, req, solver), Error);
    ASSERT_TRUE(crashed);
    reset_client();
    IssuedCertificate out = run_order(*client, store, req, solver);
    EXPECT_EQ(ca.count("new-order"), 1u);
    EXPECT_EQ(ca.count("finalize"), 1u);
    EXPECT_TRUE(crypto::cert_matches_key(crypto::parse_pem_chain(out.chain_pem).front().get(),
                                         crypto::private_key_from_pem(out.key_pem).get()));
}

TEST_F(IssuerTest, SavedOrderThatTurnedInvalidIsReplaced) {
    OrderRequest req = request({"example.org"});
    bool crashed = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!crashed && r.url.find("/finalize/") != std::string::npos) {
            crashed = true;
            throw Error(Status::network, "simulated crash");
        }
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, req, solver), Error);
    const std::string first_url = ca.orders.begin()->first;
    const std::string first_key = *store.load(order_key_key(req));
    ca.orders.begin()->second.status = "invalid";

    reset_client();
    IssuedCertificate out = run_order(*client, store, req, solver);
    EXPECT_EQ(ca.count("new-order"), 2u);
    EXPECT_NE(out.order_url, first_url);
    // A new order gets a new key.
    EXPECT_NE(out.key_pem,
              crypto::private_key_to_pem(crypto::private_key_from_pem(first_key).get()));
}

TEST_F(IssuerTest, SavedOrderTheCaForgotIsReplaced) {
    OrderRequest req = request({"example.org"});
    bool crashed = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!crashed && r.url.find("/finalize/") != std::string::npos) {
            crashed = true;
            throw Error(Status::network, "simulated crash");
        }
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, req, solver), Error);
    ca.orders.clear();  // the CA lost it: 404 problem
    reset_client();
    run_order(*client, store, req, solver);
    EXPECT_EQ(ca.count("new-order"), 2u);
}

TEST_F(IssuerTest, SavedOrderForOtherNamesIsNotResumed) {
    OrderRequest req = request({"example.org"});
    bool crashed = false;
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (!crashed && r.url.find("/finalize/") != std::string::npos) {
            crashed = true;
            throw Error(Status::network, "simulated crash");
        }
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, req, solver), Error);
    OrderRequest other = request({"example.org", "www.example.org"});
    other.name = req.name;
    IssuedCertificate out = run_order(*client, store, other, solver);
    EXPECT_EQ(ca.count("new-order"), 2u);
    EXPECT_TRUE(crypto::cert_covers_names(crypto::parse_pem_chain(out.chain_pem).front().get(),
                                          other.domains));
}

TEST_F(IssuerTest, FailedValidationCleansUpEveryPresentedChallenge) {
    ca.validation_result = "invalid";
    OrderRequest req = request();
    try {
        run_order(*client, store, req, solver);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::ca);
        EXPECT_EQ(problem_short(e.problem_type()), "incorrectResponse");
        EXPECT_NE(std::string(e.what()).find("example.org"), std::string::npos) << e.what();
    }
    EXPECT_EQ(solver.presented.size(), 2u);
    EXPECT_EQ(solver.cleaned.size(), 2u);
    EXPECT_TRUE(solver.live.empty());
}

TEST_F(IssuerTest, FailingPresentCleansUpThoseAlreadyPresented) {
    solver.fail_present_for = "www.example.org";
    OrderRequest req = request();
    try {
        run_order(*client, store, req, solver);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::io);
    }
    EXPECT_EQ(solver.presented.size(), 1u);
    EXPECT_EQ(solver.cleaned, solver.presented);
    EXPECT_EQ(ca.count("chall"), 0u);  // nothing was answered before everything was presented
}

TEST_F(IssuerTest, CancellationCleansUp) {
    std::atomic<bool> cancel{false};
    client->set_cancel_flag(&cancel);
    ca.intercept = [&](const HttpRequest& r) -> std::optional<HttpResponse> {
        if (r.url.find("/chall/") != std::string::npos) cancel.store(true);
        return std::nullopt;
    };
    EXPECT_THROW(run_order(*client, store, request(), solver), Error);
    EXPECT_FALSE(solver.presented.empty());
    EXPECT_EQ(solver.cleaned.size(), solver.presented.size());
}

TEST_F(IssuerTest, CertificateForAnotherKeyIsRefused) {
    ca.issue_mode = FakeCA::IssueMode::wrong_key;
    OrderRequest req = request();
    try {
        run_order(*client, store, req, solver);
        FAIL() << "a certificate that does not match its key was returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::verify);
        EXPECT_NE(std::string(e.what()).find("does not match its key"), std::string::npos)
            << e.what();
        EXPECT_NE(std::string(e.what()).find(req.name), std::string::npos) << e.what();
    }
}

TEST_F(IssuerTest, CertificateForOtherNamesIsRefused) {
    ca.issue_mode = FakeCA::IssueMode::wrong_names;
    try {
        run_order(*client, store, request(), solver);
        FAIL() << "a certificate for other names was returned";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::verify);
        EXPECT_NE(std::string(e.what()).find("does not cover every name"), std::string::npos)
            << e.what();
    }
}

TEST(CheckIssued, Reasons) {
    testing::TestCA root = testing::TestCA::make("R");
    testing::TestCA inter = testing::TestCA::make("I", &root);
    testing::TestCA stranger = testing::TestCA::make("I");  // same name, other key
    crypto::PKey key = crypto::generate_key(crypto::KeyType::ecdsa_p256);
    const int64_t now = time(nullptr);
    auto chain_of = [&](crypto::X509Ptr leaf, const testing::TestCA& up) {
        crypto::Chain c;
        c.push_back(std::move(leaf));
        c.push_back(crypto::share(up.cert.get()));
        return c;
    };
    const std::string roots = root.pem();
    EXPECT_EQ(check_issued(chain_of(inter.issue(key.get(), {"a.example"}), inter), key.get(),
                           {"a.example"}, roots, now),
              "");
    EXPECT_EQ(check_issued(crypto::Chain(), key.get(), {"a.example"}, roots, now),
              "the CA returned no certificate");
    EXPECT_EQ(
        check_issued(chain_of(inter.issue(key.get(), {"a.example"}, now - 7200, now - 3600), inter),
                     key.get(), {"a.example"}, roots, now),
        "the certificate has expired");
    EXPECT_EQ(
        check_issued(chain_of(inter.issue(key.get(), {"a.example"}, now + 3600, now + 7200), inter),
                     key.get(), {"a.example"}, roots, now),
        "the certificate is not valid yet");
    // Only the leaf: a client trusting the root cannot build the path.
    crypto::Chain leaf_only;
    leaf_only.push_back(inter.issue(key.get(), {"a.example"}));
    EXPECT_EQ(check_issued(leaf_only, key.get(), {"a.example"}, roots, now),
              "the chain does not verify against the trusted roots: unable to get local issuer "
              "certificate");
    // An expired intermediate above a valid leaf: refused.
    {
        testing::TestCA old = testing::TestCA::make("I", &root);
        testing::set_validity(old.cert.get(), now - 7200, now - 3600);
        ASSERT_TRUE(X509_sign(old.cert.get(), root.key.get(), EVP_sha256()));
        EXPECT_EQ(check_issued(chain_of(old.issue(key.get(), {"a.example"}), old), key.get(),
                               {"a.example"}, roots, now),
                  "the chain does not verify against the trusted roots: certificate has expired");
    }
    // Roots of another CA, or the system trust store: refused.
    EXPECT_NE(check_issued(chain_of(inter.issue(key.get(), {"a.example"}), inter), key.get(),
                           {"a.example"}, stranger.pem(), now),
              "");
    EXPECT_NE(check_issued(chain_of(inter.issue(key.get(), {"a.example"}), inter), key.get(),
                           {"a.example"}, "", now),
              "");
    std::string broken = check_issued(chain_of(inter.issue(key.get(), {"a.example"}), stranger),
                                      key.get(), {"a.example"}, roots, now);
    EXPECT_EQ(broken.rfind("the chain does not verify", 0), 0u) << broken;
}

}  // namespace
}  // namespace acme::proto
