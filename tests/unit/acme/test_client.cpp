// acme/client against a scripted fake Transport: JWS on every POST (verified with
// crypto::jws_verify), nonces, badNonce retries, newAccount + EAB, keyChange, polling with a fake
// Clock, cancellation, downloads with alternate chains, revocation, renewalInfo.
#include "acme/client.h"

#include <gtest/gtest.h>

#include <atomic>

#include "acme/problem.h"
#include "support/fake_ca.h"
#include "support/fakes.h"
#include "support/test_pki.h"
#include "util/base64.h"

namespace acme::proto {
namespace {

using testing::decode_jws;
using testing::DecodedJws;
using testing::FakeClock;
using testing::json_response;
using testing::make_response;
using testing::problem_response;
using testing::ScriptedTransport;
using testing::TestCA;

const std::string kDir = "https://ca.test/dir";
const std::string kAcct = "https://ca.test/acct/7";

Json directory_json(bool ari = true) {
    Json d = Json::object();
    d.set("newNonce", "https://ca.test/nonce");
    d.set("newAccount", "https://ca.test/new-acct");
    d.set("newOrder", "https://ca.test/new-order");
    d.set("revokeCert", "https://ca.test/revoke");
    d.set("keyChange", "https://ca.test/key-change");
    if (ari) d.set("renewalInfo", "https://ca.test/ari");  // no trailing slash on purpose
    return d;
}

HttpResponse with_nonce(HttpResponse r, const std::string& nonce) {
    r.headers.emplace_back("replay-nonce", nonce);
    return r;
}

Json order_body(const std::string& status, const std::string& cert = "") {
    Json o = Json::parse(R"({"identifiers": [{"type": "dns", "value": "example.org"}],
                             "authorizations": ["https://ca.test/authz/1"],
                             "finalize": "https://ca.test/finalize/1"})");
    o.set("status", status);
    if (!cert.empty()) o.set("certificate", cert);
    return o;
}

struct ClientTest : ::testing::Test {
    ClientTest() : client(transport, kDir, clock) {
        transport.then(json_response(200, directory_json()));
        key = crypto::generate_key(crypto::KeyType::ecdsa_p256);
        client.set_account_key(crypto::share(key.get()));
        client.set_account_url(kAcct);
    }
    // Directory, then a HEAD newNonce answered with `nonce`.
    void expect_head(const std::string& nonce) {
        transport.then([nonce](const HttpRequest& r) {
            EXPECT_EQ(r.method, "HEAD");
            EXPECT_EQ(r.url, "https://ca.test/nonce");
            return make_response(200, "", {{"replay-nonce", nonce}});
        });
    }
    DecodedJws jws_of(size_t request_index) {
        return decode_jws(transport.requests.at(request_index).body);
    }
    void check_signed_by_kid(const HttpRequest& r, const std::string& nonce, EVP_PKEY* k) {
        DecodedJws d = decode_jws(r.body);
        EXPECT_EQ(r.method, "POST");
        EXPECT_EQ(d.header.str("kid"), kAcct);
        EXPECT_FALSE(d.header.has("jwk"));
        EXPECT_EQ(d.header.str("nonce"), nonce);
        EXPECT_EQ(d.header.str("url"), r.url);
        EXPECT_EQ(d.header.str("alg"), "ES256");
        EXPECT_TRUE(crypto::jws_verify(k, d.jws)) << r.url;
        bool has_ctype = false;
        for (const auto& h : r.headers)
            has_ctype =
                has_ctype || (h.first == "Content-Type" && h.second == "application/jose+json");
        EXPECT_TRUE(has_ctype);
    }

    ScriptedTransport transport;
    FakeClock clock{1700000000500};
    crypto::PKey key;
    Client client;
};

TEST_F(ClientTest, SignsWithKidAndReusesReplayNonce) {
    expect_head("nonceAAA");
    transport.then(with_nonce(
        json_response(201, order_body("pending"), {{"location", "https://ca.test/order/1"}}),
        "nonceBBB"));
    transport.then(with_nonce(json_response(200, order_body("pending")), "nonceCCC"));
    Order o = client.new_order({Identifier::for_name("example.org")});
    EXPECT_EQ(o.url, "https://ca.test/order/1");
    client.fetch_order(o.url);
    ASSERT_EQ(transport.requests.size(), 4u);
    EXPECT_EQ(transport.count("HEAD"), 1u);  // the second POST used the nonce of the first answer
    check_signed_by_kid(transport.requests[2], "nonceAAA", key.get());
    check_signed_by_kid(transport.requests[3], "nonceBBB", key.get());
    EXPECT_EQ(transport.requests[2].url, "https://ca.test/new-order");
    DecodedJws d = jws_of(2);
    EXPECT_EQ(d.payload_json.get("identifiers").at(0).str("value"), "example.org");
    EXPECT_FALSE(d.payload_json.has("profile"));
    EXPECT_FALSE(d.payload_json.has("replaces"));
    // Signed by another key: does not verify.
    crypto::PKey other = crypto::generate_key(crypto::KeyType::ecdsa_p256);
    EXPECT_FALSE(crypto::jws_verify(other.get(), d.jws));
}

TEST_F(ClientTest, NewOrderCarriesProfileAndReplaces) {
    expect_head("n1");
    transport.then(
        json_response(201, order_body("pending"), {{"location", "https://ca.test/o/1"}}));
    client.new_order({Identifier::for_name("example.org"), Identifier::for_name("192.0.2.1")},
                     "shortlived", "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    DecodedJws d = jws_of(2);
    EXPECT_EQ(d.payload_json.str("profile"), "shortlived");
    EXPECT_EQ(d.payload_json.str("replaces"), "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    EXPECT_EQ(d.payload_json.get("identifiers").at(1).str("type"), "ip");
}

TEST_F(ClientTest, NonceThatIsNotBase64urlIsIgnored) {
    expect_head("good1");
    transport.then(with_nonce(json_response(200, order_body("pending")), "bad nonce!"));
    expect_head("good2");
    transport.then(json_response(200, order_body("pending")));
    client.fetch_order("https://ca.test/order/1");
    client.fetch_order("https://ca.test/order/1");
    EXPECT_EQ(transport.count("HEAD"), 2u);
    EXPECT_EQ(jws_of(4).header.str("nonce"), "good2");
}

TEST_F(ClientTest, PostAsGetHasAnEmptyPayload) {
    expect_head("n1");
    transport.then(with_nonce(json_response(200, order_body("pending")), "n2"));
    client.fetch_order("https://ca.test/order/1");
    DecodedJws d = jws_of(2);
    EXPECT_EQ(d.jws.str("payload"), "");
    EXPECT_TRUE(d.jws.has("payload"));
    EXPECT_TRUE(crypto::jws_verify(key.get(), d.jws));
    // respond_challenge is a POST with "{}", not a POST-as-GET.
    transport.then(
        json_response(200, Json::parse(R"({"type": "http-01", "url": "u", "token": "t"})")));
    client.respond_challenge("https://ca.test/chall/1");
    EXPECT_EQ(jws_of(3).payload, "{}");
    EXPECT_EQ(jws_of(3).header.str("nonce"), "n2");
}

TEST_F(ClientTest, BadNonceIsRetriedWithTheNonceOfTheError) {
    expect_head("first");
    transport.then(problem_response(400, "badNonce", "stale", {{"replay-nonce", "fromError"}}));
    transport.then([](const HttpRequest& r) {
        EXPECT_EQ(decode_jws(r.body).header.str("nonce"), "fromError");
        return json_response(201, order_body("pending"), {{"location", "https://ca.test/o/1"}});
    });
    Order o = client.new_order({Identifier::for_name("example.org")});
    EXPECT_EQ(o.status, "pending");
    EXPECT_EQ(transport.count("HEAD"), 1u);
    EXPECT_EQ(transport.count("POST"), 2u);
    // The retry is a new signature over the same payload.
    EXPECT_EQ(jws_of(2).payload, jws_of(3).payload);
    EXPECT_NE(jws_of(2).jws.str("signature"), jws_of(3).jws.str("signature"));
    EXPECT_TRUE(crypto::jws_verify(key.get(), jws_of(3).jws));
}

TEST_F(ClientTest, ARunOfBadNoncesGivesUp) {
    expect_head("n0");
    int n = 0;
    transport.fallback = [&n](const HttpRequest&) {
        return problem_response(400, "badNonce", "never good",
                                {{"replay-nonce", "n" + std::to_string(++n)}});
    };
    try {
        client.fetch_order("https://ca.test/order/1");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::ca);
        EXPECT_EQ(problem_short(e.problem_type()), "badNonce");
    }
    EXPECT_EQ(transport.count("POST"), static_cast<size_t>(Client::kMaxBadNonceRetries + 1));
    EXPECT_EQ(Client::kMaxBadNonceRetries + 1, 31);
    EXPECT_EQ(transport.count("HEAD"), 1u);
}

TEST_F(ClientTest, OtherProblemsAreNotRetried) {
    expect_head("n0");
    transport.then(problem_response(403, "rejectedIdentifier", "no", {{"replay-nonce", "n1"}}));
    try {
        client.new_order({Identifier::for_name("example.org")});
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::ca);
        EXPECT_TRUE(e.permanent());
        EXPECT_NE(std::string(e.what()).find("newOrder"), std::string::npos) << e.what();
    }
    EXPECT_EQ(transport.count("POST"), 1u);
}

TEST_F(ClientTest, NewAccountPayloadAndEab) {
    Client fresh(transport, kDir, clock);
    fresh.set_account_key(crypto::share(key.get()));
    const std::string hmac_key = base64url_encode("0123456789abcdef0123456789abcdef");
    expect_head("n1");
    transport.then(json_response(201, Json::parse(R"({"status": "valid"})"),
                                 {{"location", "https://ca.test/acct/42"}}));
    Client::NewAccount req;
    req.contacts = {"mailto:a@example.org", "mailto:b@example.org"};
    req.agree_tos = true;
    req.eab_kid = "kid-1";
    req.eab_hmac_key = hmac_key;
    Account a = fresh.new_account(req);
    EXPECT_EQ(a.url, "https://ca.test/acct/42");
    EXPECT_EQ(fresh.account_url(), "https://ca.test/acct/42");

    const HttpRequest& r = transport.requests.at(2);
    EXPECT_EQ(r.url, "https://ca.test/new-acct");
    DecodedJws d = decode_jws(r.body);
    EXPECT_FALSE(d.header.has("kid"));
    EXPECT_EQ(d.header.get("jwk").dump(), crypto::jwk(key.get()).dump());
    EXPECT_EQ(d.header.str("url"), "https://ca.test/new-acct");
    EXPECT_EQ(d.header.str("nonce"), "n1");
    EXPECT_TRUE(crypto::jws_verify(key.get(), d.jws));
    EXPECT_EQ(d.payload_json.strings("contact"), req.contacts);
    EXPECT_TRUE(d.payload_json.boolean("termsOfServiceAgreed"));
    EXPECT_FALSE(d.payload_json.has("onlyReturnExisting"));

    Json eab = d.payload_json.get("externalAccountBinding");
    ASSERT_TRUE(eab.is_object());
    Json eh = Json::parse(base64url_decode(eab.str("protected")));
    EXPECT_EQ(eh.str("alg"), "HS256");
    EXPECT_EQ(eh.str("kid"), "kid-1");
    EXPECT_EQ(eh.str("url"), "https://ca.test/new-acct");
    EXPECT_FALSE(eh.has("nonce"));
    EXPECT_EQ(Json::parse(base64url_decode(eab.str("payload"))).dump(),
              crypto::jwk(key.get()).dump());
    const std::string mac =
        crypto::hmac("HS256", base64url_decode(hmac_key), testing::jws_signing_input(eab));
    EXPECT_EQ(eab.str("signature"), base64url_encode(mac));
    const std::string wrong = crypto::hmac("HS256", "another key", testing::jws_signing_input(eab));
    EXPECT_NE(eab.str("signature"), base64url_encode(wrong));
}

TEST_F(ClientTest, OnlyReturnExistingSendsNoEabAndReportsAccountDoesNotExist) {
    Client fresh(transport, kDir, clock);
    fresh.set_account_key(crypto::share(key.get()));
    expect_head("n1");
    transport.then(
        problem_response(400, "accountDoesNotExist", "no account", {{"replay-nonce", "n2"}}));
    Client::NewAccount req;
    req.only_return_existing = true;
    req.eab_kid = "kid-1";
    req.eab_hmac_key = base64url_encode("key");
    try {
        fresh.new_account(req);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(problem_short(e.problem_type()), "accountDoesNotExist");
    }
    DecodedJws d = jws_of(2);
    EXPECT_TRUE(d.payload_json.boolean("onlyReturnExisting"));
    EXPECT_FALSE(d.payload_json.has("externalAccountBinding"));
    EXPECT_FALSE(d.payload_json.has("termsOfServiceAgreed"));
    EXPECT_EQ(fresh.account_url(), "");
}

TEST_F(ClientTest, KeyChangeInnerJws) {
    crypto::PKey next = crypto::generate_key(crypto::KeyType::ecdsa_p384);
    const Json next_jwk = crypto::jwk(next.get());
    const std::string next_thumb = crypto::jwk_thumbprint(next.get());
    expect_head("n1");
    transport.then(with_nonce(json_response(200, Json::parse(R"({"status": "valid"})")), "n2"));
    client.key_change(crypto::share(next.get()));

    const HttpRequest& r = transport.requests.at(2);
    EXPECT_EQ(r.url, "https://ca.test/key-change");
    check_signed_by_kid(r, "n1", key.get());  // outer: the old key, by kid
    Json inner = decode_jws(r.body).payload_json;
    Json ih = Json::parse(base64url_decode(inner.str("protected")));
    EXPECT_EQ(ih.get("jwk").dump(), next_jwk.dump());
    EXPECT_EQ(ih.str("url"), "https://ca.test/key-change");
    EXPECT_EQ(ih.str("alg"), "ES384");
    EXPECT_FALSE(ih.has("kid"));
    EXPECT_FALSE(ih.has("nonce"));
    EXPECT_TRUE(crypto::jws_verify(next.get(), inner));
    EXPECT_FALSE(crypto::jws_verify(key.get(), inner));
    Json ip = Json::parse(base64url_decode(inner.str("payload")));
    EXPECT_EQ(ip.str("account"), kAcct);
    EXPECT_EQ(ip.get("oldKey").dump(), crypto::jwk(key.get()).dump());
    // From now on the client signs with the new key.
    EXPECT_EQ(crypto::jwk_thumbprint(client.account_key()), next_thumb);
    transport.then(json_response(200, order_body("pending")));
    client.fetch_order("https://ca.test/order/1");
    EXPECT_TRUE(crypto::jws_verify(next.get(), jws_of(3).jws));
    EXPECT_EQ(jws_of(3).header.str("nonce"), "n2");
}

TEST_F(ClientTest, KeyChangeRefusedKeepsTheOldKey) {
    crypto::PKey next = crypto::generate_key(crypto::KeyType::ecdsa_p256);
    expect_head("n1");
    transport.then(problem_response(409, "conflict", "key in use", {{"replay-nonce", "n2"}}));
    EXPECT_THROW(client.key_change(std::move(next)), Error);
    EXPECT_EQ(crypto::jwk_thumbprint(client.account_key()), crypto::jwk_thumbprint(key.get()));
}

// Polls answered with `statuses` in turn; records the fake time of every poll.
struct PollRecorder {
    std::vector<int64_t> at;
};

void script_polls(ScriptedTransport& t, FakeClock& clock, PollRecorder& rec,
                  const std::vector<std::string>& statuses, const std::string& retry_after = "") {
    for (const std::string& s : statuses) {
        t.then([&clock, &rec, s, retry_after](const HttpRequest&) {
            rec.at.push_back(clock.now_ms());
            std::vector<std::pair<std::string, std::string>> h = {{"replay-nonce", "p"}};
            if (!retry_after.empty()) h.emplace_back("retry-after", retry_after);
            return json_response(200, order_body(s, s == "valid" ? "https://ca.test/cert/1" : ""),
                                 h);
        });
    }
}

TEST_F(ClientTest, PollingStartsFastAndBacksOff) {
    expect_head("n1");
    PollRecorder rec;
    script_polls(transport, clock, rec,
                 {"processing", "processing", "processing", "processing", "valid"});
    Order o = client.wait_order("https://ca.test/order/1", {"processing"}, 60000);
    EXPECT_EQ(o.status, "valid");
    EXPECT_EQ(o.certificate, "https://ca.test/cert/1");
    ASSERT_EQ(rec.at.size(), 5u);
    std::vector<int64_t> gaps;
    for (size_t i = 1; i < rec.at.size(); ++i) gaps.push_back(rec.at[i] - rec.at[i - 1]);
    EXPECT_EQ(gaps, (std::vector<int64_t>{50, 100, 200, 400}));
    // Sleeps are sliced (<= 100 ms) so that cancellation is seen quickly.
    for (int64_t s : clock.sleeps()) EXPECT_LE(s, 100);
    EXPECT_EQ(clock.total_slept_ms(), 750);
}

TEST_F(ClientTest, PollingHonoursRetryAfter) {
    expect_head("n1");
    PollRecorder rec;
    script_polls(transport, clock, rec, {"processing", "processing", "valid"}, "3");
    client.wait_order("https://ca.test/order/1", {"processing"}, 60000);
    ASSERT_EQ(rec.at.size(), 3u);
    // The CA asked for 3 s: never less than that between two polls.
    EXPECT_GE(rec.at[1] - rec.at[0], 3000);
    EXPECT_GE(rec.at[2] - rec.at[1], 3000);
    EXPECT_LE(rec.at[2] - rec.at[1], 4000);
}

TEST_F(ClientTest, PollingTimesOut) {
    expect_head("n1");
    PollRecorder rec;
    transport.fallback = [this, &rec](const HttpRequest&) {
        rec.at.push_back(clock.now_ms());
        return json_response(200, order_body("processing"), {{"replay-nonce", "p"}});
    };
    try {
        client.wait_order("https://ca.test/order/1", {"processing"}, 2000);
        FAIL() << "no timeout";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::network);
        EXPECT_NE(std::string(e.what()).find("still processing"), std::string::npos) << e.what();
    }
    EXPECT_LE(clock.total_slept_ms(), 2000);
    EXPECT_GE(clock.total_slept_ms(), 2000);
}

TEST_F(ClientTest, WaitAuthorizationReturnsTheFinalState) {
    expect_head("n1");
    const char* pending =
        R"({"status": "pending", "identifier": {"type": "dns", "value": "example.org"},
        "challenges": [{"type": "http-01", "url": "https://ca.test/ch/1", "token": "t", "status": "processing"}]})";
    const char* invalid =
        R"({"status": "invalid", "identifier": {"type": "dns", "value": "example.org"},
        "challenges": [{"type": "http-01", "url": "https://ca.test/ch/1", "token": "t", "status": "invalid",
                        "error": {"type": "urn:ietf:params:acme:error:connection"}}]})";
    transport.then(json_response(200, Json::parse(pending), {{"replay-nonce", "p1"}}));
    transport.then(json_response(200, Json::parse(invalid), {{"replay-nonce", "p2"}}));
    Authorization a = client.wait_authorization("https://ca.test/authz/1", 60000);
    EXPECT_EQ(a.status, "invalid");
    EXPECT_EQ(a.challenges.at(0).error.str("type"), "urn:ietf:params:acme:error:connection");
    EXPECT_EQ(clock.total_slept_ms(), 50);
}

TEST_F(ClientTest, CancellationStopsAWait) {
    std::atomic<bool> cancel{false};
    client.set_cancel_flag(&cancel);
    expect_head("n1");
    size_t polls = 0;
    transport.fallback = [&polls](const HttpRequest&) {
        ++polls;
        return json_response(200, order_body("processing"),
                             {{"replay-nonce", "p"}, {"retry-after", "600"}});
    };
    clock.on_sleep = [&](int64_t) {
        if (clock.total_slept_ms() >= 1000) cancel.store(true);
    };
    try {
        client.wait_order("https://ca.test/order/1", {"processing"}, 3600 * 1000);
        FAIL() << "not cancelled";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::internal);
        EXPECT_NE(std::string(e.what()).find("cancelled"), std::string::npos);
    }
    EXPECT_EQ(polls, 1u);
    // It stopped within one sleep slice of the flag.
    EXPECT_LE(clock.total_slept_ms(), 1100);
    // A cancelled client sends nothing more.
    const size_t before = transport.requests.size();
    EXPECT_THROW(client.fetch_order("https://ca.test/order/1"), Error);
    EXPECT_EQ(transport.requests.size(), before);
}

struct Chains {
    TestCA root_a = TestCA::make("Root A");
    TestCA inter_a = TestCA::make("Intermediate A", &root_a);
    TestCA root_b = TestCA::make("Root B");
    TestCA inter_b = TestCA::make("Intermediate B", &root_b);
    crypto::PKey leaf_key = crypto::generate_key(crypto::KeyType::ecdsa_p256);
    std::string chain_a, chain_b;
    Chains() {
        chain_a = crypto::cert_to_pem(inter_a.issue(leaf_key.get(), {"example.org"}).get()) +
                  inter_a.pem();
        chain_b = crypto::cert_to_pem(inter_b.issue(leaf_key.get(), {"example.org"}).get()) +
                  inter_b.pem();
    }
};

HttpResponse pem_response(const std::string& pem,
                          std::vector<std::pair<std::string, std::string>> h = {}) {
    h.emplace_back("content-type", "application/pem-certificate-chain");
    h.emplace_back("replay-nonce", "pem");
    return make_response(200, pem, h);
}

TEST_F(ClientTest, DownloadDefaultChain) {
    Chains c;
    expect_head("n1");
    transport.then(
        pem_response(c.chain_a, {{"link", "<https://ca.test/cert/1/1>;rel=\"alternate\""}}));
    EXPECT_EQ(client.download_certificate("https://ca.test/cert/1"), c.chain_a);
    EXPECT_EQ(transport.count("POST"), 1u);  // no preference: alternates are not fetched
    bool accept = false;
    for (const auto& h : transport.requests.at(2).headers)
        accept = accept || (h.first == "Accept" && h.second == "application/pem-certificate-chain");
    EXPECT_TRUE(accept);
    EXPECT_EQ(jws_of(2).jws.str("payload"), "");
}

TEST_F(ClientTest, DownloadPreferredAlternateChain) {
    Chains c;
    expect_head("n1");
    transport.then(pem_response(c.chain_a, {{"link", "<https://ca.test/index>;rel=\"index\""},
                                            {"link", "</cert/1/1>;rel=\"alternate\""}}));
    transport.then([&](const HttpRequest& r) {
        EXPECT_EQ(r.url, "https://ca.test/cert/1/1");  // relative target resolved
        EXPECT_EQ(decode_jws(r.body).jws.str("payload"), "");
        return pem_response(c.chain_b);
    });
    EXPECT_EQ(client.download_certificate("https://ca.test/cert/1", "root b"), c.chain_b);
}

TEST_F(ClientTest, DownloadPreferredChainAlreadyDefault) {
    Chains c;
    expect_head("n1");
    transport.then(
        pem_response(c.chain_a, {{"link", "<https://ca.test/cert/1/1>;rel=\"alternate\""}}));
    EXPECT_EQ(client.download_certificate("https://ca.test/cert/1", "Root A"), c.chain_a);
    EXPECT_EQ(transport.count("POST"), 1u);
}

TEST_F(ClientTest, DownloadUnknownPreferenceFallsBackToDefault) {
    Chains c;
    expect_head("n1");
    transport.then(
        pem_response(c.chain_a, {{"link", "<https://ca.test/cert/1/1>;rel=\"alternate\""}}));
    transport.then(pem_response(c.chain_b));
    EXPECT_EQ(client.download_certificate("https://ca.test/cert/1", "Root C"), c.chain_a);
    EXPECT_EQ(transport.count("POST"), 2u);
}

TEST_F(ClientTest, DownloadRefusesSomethingThatIsNotAChain) {
    expect_head("n1");
    transport.then(pem_response("<html>oops</html>"));
    try {
        client.download_certificate("https://ca.test/cert/1");
        FAIL() << "accepted";
    } catch (const Error& e) {
        // The CA's fault, not the configuration's: transient, and it says where.
        EXPECT_EQ(e.status(), Status::protocol);
        EXPECT_FALSE(e.permanent());
        EXPECT_NE(std::string(e.what()).find("https://ca.test/cert/1"), std::string::npos)
            << e.what();
    }
}

TEST_F(ClientTest, RevokeWithAccountKey) {
    Chains c;
    crypto::Chain chain = crypto::parse_pem_chain(c.chain_a);
    const std::string der = crypto::cert_to_der(chain.front().get());
    expect_head("n1");
    transport.then(make_response(200, "", {{"replay-nonce", "n2"}}));
    client.revoke(der, 4);
    const HttpRequest& r = transport.requests.at(2);
    EXPECT_EQ(r.url, "https://ca.test/revoke");
    check_signed_by_kid(r, "n1", key.get());
    DecodedJws d = decode_jws(r.body);
    EXPECT_EQ(base64url_decode(d.payload_json.str("certificate")), der);
    EXPECT_EQ(d.payload_json.integer("reason", -1), 4);
    // Reason 0 (unspecified) is left out.
    transport.then(make_response(200, "", {{"replay-nonce", "n3"}}));
    client.revoke(der, 0);
    EXPECT_FALSE(jws_of(3).payload_json.has("reason"));
}

TEST_F(ClientTest, RevokeWithCertificateKey) {
    Chains c;
    crypto::Chain chain = crypto::parse_pem_chain(c.chain_a);
    expect_head("n1");
    transport.then(make_response(200, "", {{"replay-nonce", "n2"}}));
    client.revoke(crypto::cert_to_der(chain.front().get()), 1, c.leaf_key.get());
    DecodedJws d = jws_of(2);
    EXPECT_FALSE(d.header.has("kid"));
    EXPECT_EQ(d.header.get("jwk").dump(), crypto::jwk(c.leaf_key.get()).dump());
    EXPECT_EQ(d.header.str("url"), "https://ca.test/revoke");
    EXPECT_TRUE(crypto::jws_verify(c.leaf_key.get(), d.jws));
    EXPECT_FALSE(crypto::jws_verify(key.get(), d.jws));
    EXPECT_EQ(d.payload_json.integer("reason"), 1);
}

TEST_F(ClientTest, RenewalInfo) {
    transport.then([](const HttpRequest& r) {
        EXPECT_EQ(r.method, "GET");
        EXPECT_EQ(r.url, "https://ca.test/ari/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
        EXPECT_EQ(r.body, "");
        return json_response(200, Json::parse(R"({"suggestedWindow": {
            "start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"}})"),
                             {{"retry-after", "21600"}});
    });
    std::optional<RenewalInfo> info = client.renewal_info("aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    ASSERT_TRUE(info);
    EXPECT_EQ(info->window_start, 1735790400);
    EXPECT_EQ(info->window_end, 1735876800);
    EXPECT_EQ(info->retry_after, clock.now() + 21600);
    EXPECT_EQ(transport.count("POST"), 0u);
}

TEST_F(ClientTest, RenewalInfoErrorIsThrown) {
    transport.then(problem_response(404, "malformed", "unknown certificate"));
    EXPECT_THROW(client.renewal_info("AAAA.AQID"), Error);
}

TEST(ClientNoAri, CaWithoutRenewalInfoGivesNullopt) {
    ScriptedTransport transport;
    FakeClock clock;
    transport.then(json_response(200, directory_json(/*ari=*/false)));
    Client client(transport, kDir, clock);
    EXPECT_FALSE(client.renewal_info("AAAA.AQID").has_value());
    EXPECT_EQ(transport.requests.size(), 1u);  // the directory only
}

TEST_F(ClientTest, KeyAuthorizationAndDnsValue) {
    const std::string ka = client.key_authorization("token-123");
    EXPECT_EQ(ka, "token-123." + crypto::jwk_thumbprint(key.get()));
    EXPECT_EQ(Client::dns01_txt_value(ka), base64url_encode(crypto::sha256(ka)));
    EXPECT_EQ(Client::dns01_txt_value(ka).size(), 43u);
}

TEST_F(ClientTest, DirectoryIsFetchedOnce) {
    EXPECT_EQ(client.directory().new_order, "https://ca.test/new-order");
    EXPECT_EQ(client.directory().new_account, "https://ca.test/new-acct");
    EXPECT_EQ(transport.count("GET"), 1u);
}

TEST_F(ClientTest, NetworkErrorsPropagate) {
    transport.script.clear();
    transport.then([](const HttpRequest& r) -> HttpResponse {
        throw Error(Status::network, "connect to " + r.url + ": refused");
    });
    try {
        client.directory();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::network);
        EXPECT_FALSE(e.permanent());
    }
}

// The whole protocol against the fake CA, which checks every JWS like a CA does.
TEST(ClientFakeCA, EveryPostIsAcceptedByAStrictCA) {
    testing::FakeCA ca;
    FakeClock clock;
    Client client(ca, ca.directory_url(), clock);
    client.set_account_key(crypto::generate_key(crypto::KeyType::rsa2048));
    Client::NewAccount req;
    req.agree_tos = true;
    Account a = client.new_account(req);
    EXPECT_EQ(a.status, "valid");
    Order o = client.new_order({Identifier::for_name("example.org")});
    Authorization az = client.fetch_authorization(o.authorizations.at(0));
    client.respond_challenge(az.find("http-01")->url);
    EXPECT_EQ(client.wait_authorization(az.url, 10000).status, "valid");
    o = client.wait_order(o.url, {"pending"}, 10000);
    EXPECT_EQ(o.status, "ready");
    crypto::PKey cert_key = crypto::generate_key(crypto::KeyType::ecdsa_p256);
    o = client.finalize(o, crypto::make_csr_der(cert_key.get(), {"example.org"}));
    o = client.wait_order(o.url, {"processing"}, 10000);
    ASSERT_EQ(o.status, "valid");
    crypto::Chain chain = crypto::parse_pem_chain(client.download_certificate(o.certificate));
    EXPECT_TRUE(crypto::cert_matches_key(chain.front().get(), cert_key.get()));
    client.revoke(crypto::cert_to_der(chain.front().get()), 0);
    client.revoke(crypto::cert_to_der(chain.front().get()), 5, cert_key.get());
    EXPECT_EQ(ca.revoked.size(), 2u);
    client.key_change(crypto::generate_key(crypto::KeyType::ecdsa_p256));
    EXPECT_EQ(client.fetch_account().status, "valid");
    // Every POST carried a fresh nonce: none was rejected.
    for (const auto& p : ca.posts) EXPECT_FALSE(p.header.str("nonce").empty());
    EXPECT_EQ(ca.count("new-acct"), 1u);
    EXPECT_EQ(ca.requests.front().url, ca.directory_url());
}

}  // namespace
}  // namespace acme::proto
