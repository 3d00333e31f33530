#include "engine/cert_meta.h"

#include <gtest/gtest.h>

#include "json/json.h"
#include "util/clock.h"
#include "util/error.h"

namespace acme::engine {
namespace {

constexpr int64_t kNow = 1750000000;

CertMeta full_meta() {
    CertMeta m;
    m.name = "example.org";
    m.domains = {"example.org", "www.example.org", "*.example.net"};
    m.ca = "https://acme.example/directory";
    m.config_hash = "Zm9vYmFyYmF6cXV4";
    m.profile = "shortlived";
    KeyCert e;
    e.key_type = "ecdsa-p256";
    e.issuer = "C=US, O=Example CA, CN=Example R3";
    e.issuer_cn = "Example R3";
    e.serial = "04a1b2c3d4";
    e.not_before = kNow - 86400;
    e.not_after = kNow + 89 * 86400;
    e.sha256 = std::string(64, 'a');
    e.ca = "https://ca.example/directory";
    e.installed_at = kNow - 86000;
    e.ari.cert_id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.BKGyw9Q";
    e.ari.window_start = kNow + 50 * 86400;
    e.ari.window_end = kNow + 52 * 86400;
    e.ari.explanation_url = "https://acme.example/incident/1";
    e.ari.fetched_at = kNow - 3600;
    e.ari.next_poll = kNow + 5 * 3600;
    m.certs.push_back(e);
    KeyCert r = e;
    r.key_type = "rsa-2048";
    r.serial = "0599";
    r.ari = AriInfo{};
    r.ari.cert_id = "aYhba4dGQEHhs3uEe6CuLN4ByNQ.BZk";
    m.certs.push_back(r);
    ScheduleState& s = m.schedule;
    s.fails = 4;
    s.ca_fails = 1;
    s.perm_fails = 2;
    s.ca_index = 1;
    s.next_attempt = kNow + 960;
    s.retry_not_before = kNow + 300;
    s.waiting_for_config = true;
    s.failed_config_hash = "old-hash";
    s.last_error = "acme: example.org: order: \"quoted\" \\ detail\nsecond line";
    s.last_error_type = "urn:ietf:params:acme:error:caa";
    s.last_error_at = kNow - 10;
    s.last_attempt = kNow - 10;
    s.last_success = kNow - 86000;
    s.renewal_at = kNow + 51 * 86400;
    s.renewal_basis = "v1 ecdsa-p256=1-2";
    s.renewal_source = "ari";
    s.next_at = kNow + 51 * 86400;
    return m;
}

void expect_same(const AriInfo& a, const AriInfo& b) {
    EXPECT_EQ(a.cert_id, b.cert_id);
    EXPECT_EQ(a.window_start, b.window_start);
    EXPECT_EQ(a.window_end, b.window_end);
    EXPECT_EQ(a.explanation_url, b.explanation_url);
    EXPECT_EQ(a.fetched_at, b.fetched_at);
    EXPECT_EQ(a.next_poll, b.next_poll);
}

void expect_same(const CertMeta& a, const CertMeta& b) {
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.domains, b.domains);
    EXPECT_EQ(a.ca, b.ca);
    EXPECT_EQ(a.config_hash, b.config_hash);
    EXPECT_EQ(a.profile, b.profile);
    ASSERT_EQ(a.certs.size(), b.certs.size());
    for (size_t i = 0; i < a.certs.size(); ++i) {
        const KeyCert& x = a.certs[i];
        const KeyCert& y = b.certs[i];
        EXPECT_EQ(x.key_type, y.key_type);
        EXPECT_EQ(x.issuer, y.issuer);
        EXPECT_EQ(x.issuer_cn, y.issuer_cn);
        EXPECT_EQ(x.serial, y.serial);
        EXPECT_EQ(x.not_before, y.not_before);
        EXPECT_EQ(x.not_after, y.not_after);
        EXPECT_EQ(x.sha256, y.sha256);
        EXPECT_EQ(x.ca, y.ca);
        EXPECT_EQ(x.installed_at, y.installed_at);
        expect_same(x.ari, y.ari);
    }
    const ScheduleState& s = a.schedule;
    const ScheduleState& t = b.schedule;
    EXPECT_EQ(s.fails, t.fails);
    EXPECT_EQ(s.ca_fails, t.ca_fails);
    EXPECT_EQ(s.perm_fails, t.perm_fails);
    EXPECT_EQ(s.ca_index, t.ca_index);
    EXPECT_EQ(s.next_attempt, t.next_attempt);
    EXPECT_EQ(s.retry_not_before, t.retry_not_before);
    EXPECT_EQ(s.waiting_for_config, t.waiting_for_config);
    EXPECT_EQ(s.failed_config_hash, t.failed_config_hash);
    EXPECT_EQ(s.last_error, t.last_error);
    EXPECT_EQ(s.last_error_type, t.last_error_type);
    EXPECT_EQ(s.last_error_at, t.last_error_at);
    EXPECT_EQ(s.last_attempt, t.last_attempt);
    EXPECT_EQ(s.last_success, t.last_success);
    EXPECT_EQ(s.renewal_at, t.renewal_at);
    EXPECT_EQ(s.renewal_basis, t.renewal_basis);
    EXPECT_EQ(s.renewal_source, t.renewal_source);
    EXPECT_EQ(s.next_at, t.next_at);
}

void expect_invalid(const std::string& text, const std::string& fragment) {
    try {
        cert_meta_from_json(text);
        ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << text;
        EXPECT_NE(std::string(e.what()).find("meta.json"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
            << "expected '" << fragment << "' in: " << e.what();
    }
}

TEST(CertMeta, RoundTripsEveryField) {
    CertMeta m = full_meta();
    std::string text = to_json(m);
    CertMeta back = cert_meta_from_json(text);
    expect_same(m, back);
    EXPECT_EQ(to_json(back), text) << "stable output";
    EXPECT_EQ(text.back(), '\n');
}

TEST(CertMeta, RoundTripsADefaultMeta) {
    CertMeta m;
    m.name = "a.example";
    CertMeta back = cert_meta_from_json(to_json(m));
    expect_same(m, back);
}

TEST(CertMeta, WritesReadableTimesAndOmitsUnknownOnes) {
    CertMeta m = full_meta();
    m.schedule.renewal_at = 0;
    m.certs[1].ari.next_poll = 0;
    Json j = Json::parse(to_json(m));
    EXPECT_EQ(j.integer("version"), 1);
    EXPECT_EQ(j.str("name"), "example.org");
    Json c0 = j.get("certificates").at(0);
    EXPECT_EQ(c0.str("key_type"), "ecdsa-p256");
    EXPECT_EQ(c0.str("not_after"), format_rfc3339(kNow + 89 * 86400));
    EXPECT_EQ(c0.get("ari").str("window_start"), format_rfc3339(kNow + 50 * 86400));
    EXPECT_EQ(j.get("certificates").at(1).str("key_type"), "rsa-2048");
    EXPECT_FALSE(j.get("certificates").at(1).get("ari").has("next_poll"));
    EXPECT_FALSE(j.get("schedule").has("renewal_at"));
    EXPECT_EQ(j.get("schedule").get("last_error").str("type"), "urn:ietf:params:acme:error:caa");
    EXPECT_TRUE(j.get("schedule").boolean("waiting_for_config"));
}

TEST(CertMeta, MissingFieldsTakeDefaults) {
    CertMeta m = cert_meta_from_json("{}");
    EXPECT_EQ(m.name, "");
    EXPECT_TRUE(m.certs.empty());
    EXPECT_EQ(m.schedule.fails, 0);
    EXPECT_EQ(m.schedule.renewal_at, 0);

    m = cert_meta_from_json(R"({"name":"x","certificates":[{"key_type":"rsa-2048"}],
                                "schedule":{"fails":2}})");
    ASSERT_EQ(m.certs.size(), 1u);
    EXPECT_EQ(m.certs[0].not_after, 0);
    EXPECT_EQ(m.certs[0].ari.cert_id, "");
    EXPECT_EQ(m.schedule.fails, 2);
    EXPECT_FALSE(m.schedule.waiting_for_config);
    EXPECT_EQ(m.schedule.last_error, "");
    EXPECT_FALSE(m.profile) << "a meta.json from before profiles were recorded: unknown";
}

TEST(CertMeta, TheCasDefaultProfileIsRecordedAsAnEmptyString) {
    CertMeta m;
    m.profile = "";
    Json j = Json::parse(to_json(m));
    EXPECT_EQ(j.str("profile"), "");
    CertMeta back = cert_meta_from_json(to_json(m));
    ASSERT_TRUE(back.profile);
    EXPECT_EQ(*back.profile, "");
    EXPECT_FALSE(Json::parse(to_json(CertMeta())).has("profile"));
}

TEST(CertMeta, UnknownFieldsAndNewerVersionsAreTolerated) {
    CertMeta m = cert_meta_from_json(R"({
        "version": 7, "name": "x", "future": {"a": [1, 2]},
        "certificates": [{"key_type": "ecdsa-p384", "not_after": "2030-01-01T00:00:00Z",
                          "new_thing": true, "ari": {"cert_id": "a.b", "extra": 1}}],
        "schedule": {"fails": 1, "whatever": "x", "last_error": {"detail": "d", "more": 3}}
    })");
    EXPECT_EQ(m.name, "x");
    ASSERT_EQ(m.certs.size(), 1u);
    EXPECT_EQ(m.certs[0].not_after, parse_rfc3339("2030-01-01T00:00:00Z"));
    EXPECT_EQ(m.certs[0].ari.cert_id, "a.b");
    EXPECT_EQ(m.schedule.fails, 1);
    EXPECT_EQ(m.schedule.last_error, "d");
}

TEST(CertMeta, NullsAndIntegerTimesAreAccepted) {
    CertMeta m = cert_meta_from_json(
        R"({"name":null,"ca":null,"certificates":[{"key_type":"ecdsa-p256","not_before":1,
            "not_after":1700000000,"ari":null}],"schedule":null})");
    EXPECT_EQ(m.name, "");
    EXPECT_EQ(m.certs[0].not_before, 1);
    EXPECT_EQ(m.certs[0].not_after, 1700000000);
}

TEST(CertMeta, CorruptDocumentsAreRefusedWithTheMember) {
    expect_invalid("", "malformed JSON");
    expect_invalid("{\"name\": \"x\"", "malformed JSON");
    expect_invalid("[]", "not a JSON object");
    expect_invalid("\"text\"", "expected");
    expect_invalid(R"({"version":"1"})", "version");
    expect_invalid(R"({"version":0})", "version");
    expect_invalid(R"({"name":5})", "name: expected a string");
    expect_invalid(R"({"profile":5})", "profile: expected a string");
    expect_invalid(R"({"domains":"example.org"})", "domains: expected an array");
    expect_invalid(R"({"domains":["a",3]})", "domains[1]: expected a string");
    expect_invalid(R"({"certificates":{}})", "certificates: expected an array");
    expect_invalid(R"({"certificates":[5]})", "certificates[0]: expected an object");
    expect_invalid(R"({"certificates":[{"serial":"01"}]})", "certificates[0].key_type: missing");
    expect_invalid(R"({"certificates":[{"key_type":"rsa-2048"},{"key_type":"ecdsa-p256",
                      "not_after":"tomorrow"}]})",
                   "certificates[1].not_after: malformed RFC 3339");
    expect_invalid(R"({"certificates":[{"key_type":"rsa-2048","not_after":true}]})",
                   "certificates[0].not_after: expected an RFC 3339 time");
    expect_invalid(R"({"certificates":[{"key_type":"a"},{"key_type":"a"}]})",
                   "duplicate key type a");
    expect_invalid(R"({"certificates":[{"key_type":"a","ari":[]}]})",
                   "certificates[0].ari: expected an object");
    expect_invalid(R"({"certificates":[{"key_type":"a","ari":{"window_end":"x"}}]})",
                   "certificates[0].ari.window_end");
    expect_invalid(R"({"schedule":[]})", "schedule: expected an object");
    expect_invalid(R"({"schedule":{"fails":-1}})", "schedule.fails: out of range");
    expect_invalid(R"({"schedule":{"fails":"2"}})", "schedule.fails: expected an integer");
    expect_invalid(R"({"schedule":{"ca_index":1.5}})", "schedule.ca_index: expected an integer");
    expect_invalid(R"({"schedule":{"waiting_for_config":1}})",
                   "schedule.waiting_for_config: expected true or false");
    expect_invalid(R"({"schedule":{"last_error":{"at":"never"}}})", "schedule.last_error.at");
    expect_invalid(R"({"a":1,"a":2})", "malformed JSON");
}

TEST(CertMeta, FindAndPut) {
    CertMeta m = full_meta();
    ASSERT_NE(m.find("rsa-2048"), nullptr);
    EXPECT_EQ(m.find("rsa-2048")->serial, "0599");
    EXPECT_EQ(m.find("ecdsa-p384"), nullptr);
    KeyCert r;
    r.key_type = "rsa-2048";
    r.serial = "77";
    m.put(r);
    EXPECT_EQ(m.certs.size(), 2u);
    EXPECT_EQ(m.certs[1].serial, "77");
    r.key_type = "ecdsa-p384";
    m.put(r);
    ASSERT_EQ(m.certs.size(), 3u);
    EXPECT_EQ(m.certs[2].key_type, "ecdsa-p384");
    const CertMeta& cm = m;
    EXPECT_EQ(cm.find("ecdsa-p384"), &m.certs[2]);
}

TEST(CertMeta, FactsFollowTheConfiguredKeyTypes) {
    CertMeta m = full_meta();
    CertFacts f = cert_facts(m, {"rsa-2048", "ecdsa-p384"}, false);
    EXPECT_FALSE(f.matches_config);
    ASSERT_EQ(f.keys.size(), 2u);
    EXPECT_EQ(f.keys[0].key_type, "rsa-2048");
    EXPECT_TRUE(f.keys[0].present);
    EXPECT_EQ(f.keys[0].not_after, kNow + 89 * 86400);
    EXPECT_EQ(f.keys[0].ari.cert_id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.BZk");
    EXPECT_EQ(f.keys[1].key_type, "ecdsa-p384");
    EXPECT_FALSE(f.keys[1].present);

    f = cert_facts(m, {"ecdsa-p256"}, true);
    EXPECT_TRUE(f.matches_config);
    EXPECT_EQ(f.keys[0].ari.window_end, kNow + 52 * 86400);
}

// A restart reads meta.json back: the persisted random point is not re-rolled.
TEST(CertMeta, PersistedRenewalPointSurvivesARestart) {
    CertMeta m = full_meta();
    m.schedule = ScheduleState{};
    m.certs.resize(1);
    m.certs[0].ari = AriInfo{};  // lifetime rule, jittered
    const std::vector<std::string> kts = {"ecdsa-p256"};
    int calls = 0;
    Rng rng = [&calls](int64_t lo, int64_t hi) {
        ++calls;
        return lo + (hi - lo) / 3;
    };
    Decision d1 = decide(cert_facts(m, kts, true), m.schedule, Policy{}, kNow, rng);
    ASSERT_EQ(calls, 1);

    CertMeta restarted = cert_meta_from_json(to_json(m));
    Rng other = [&calls](int64_t, int64_t hi) {
        ++calls;
        return hi;
    };
    Decision d2 =
        decide(cert_facts(restarted, kts, true), restarted.schedule, Policy{}, kNow + 5, other);
    EXPECT_EQ(calls, 1) << "re-rolled after a restart";
    EXPECT_EQ(d2.at, d1.at);
    EXPECT_EQ(d2.source, "lifetime");
}

}  // namespace
}  // namespace acme::engine
