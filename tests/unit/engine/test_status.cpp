#include "engine/status.h"

#include <gtest/gtest.h>

#include <sstream>

#include "json/json.h"
#include "util/clock.h"

namespace acme::engine {
namespace {

constexpr int64_t kNow = 1750000000;
constexpr int64_t kDay = 86400;

KeyCert cert(const std::string& kt, int64_t not_before, int64_t not_after) {
    KeyCert c;
    c.key_type = kt;
    c.issuer = "C=US, O=Pebble, CN=Pebble Intermediate CA 1a2b3c";
    c.issuer_cn = "Pebble Intermediate CA 1a2b3c";
    c.serial = kt == "rsa-2048" ? "0abc" : "0def";
    c.not_before = not_before;
    c.not_after = not_after;
    c.sha256 = std::string(64, 'b');
    return c;
}

// A valid dual-key certificate renewing by the lifetime rule.
CertMeta valid_meta() {
    CertMeta m;
    m.name = "example.org";
    m.domains = {"example.org", "www.example.org"};
    m.ca = "https://127.0.0.1:14000/dir";
    m.certs.push_back(cert("ecdsa-p256", kNow - 10 * kDay, kNow + 80 * kDay));
    m.certs.push_back(cert("rsa-2048", kNow - 10 * kDay, kNow + 80 * kDay));
    m.schedule.renewal_at = kNow + 48 * kDay;
    m.schedule.next_at = kNow + 48 * kDay;
    m.schedule.renewal_source = "lifetime";
    m.schedule.last_success = kNow - 10 * kDay;
    return m;
}

// A certificate that was never obtained and is retrying.
CertMeta failing_meta() {
    CertMeta m;
    m.name = "new.example";
    m.domains = {"new.example"};
    m.schedule.fails = 3;
    m.schedule.next_at = kNow + 240;
    m.schedule.renewal_source = "order-pending";
    m.schedule.last_error = "acme: new.example: connect to CA: timed out";
    m.schedule.last_error_type = "network";
    m.schedule.last_error_at = kNow - 60;
    return m;
}

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) out.push_back(line);
    return out;
}

TEST(Status, JsonParsesBackWithTheValues) {
    std::string text = status_json({valid_meta(), failing_meta()}, kNow);
    Json j = Json::parse(text);
    EXPECT_EQ(j.integer("version"), 1);
    EXPECT_FALSE(j.has("driver"));
    Json certs = j.get("certificates");
    ASSERT_EQ(certs.size(), 2u);

    Json a = certs.at(0);
    EXPECT_EQ(a.str("name"), "example.org");
    EXPECT_EQ(a.strings("domains"), (std::vector<std::string>{"example.org", "www.example.org"}));
    EXPECT_EQ(a.str("ca"), "https://127.0.0.1:14000/dir");
    Json kts = a.get("key_types");
    EXPECT_EQ(kts.keys(), (std::vector<std::string>{"ecdsa-p256", "rsa-2048"}));
    Json e = kts.get("ecdsa-p256");
    EXPECT_EQ(e.str("issuer"), "C=US, O=Pebble, CN=Pebble Intermediate CA 1a2b3c");
    EXPECT_EQ(e.str("serial"), "0def");
    EXPECT_EQ(kts.get("rsa-2048").str("serial"), "0abc");
    EXPECT_EQ(e.str("not_before"), format_rfc3339(kNow - 10 * kDay));
    EXPECT_EQ(e.str("not_after"), format_rfc3339(kNow + 80 * kDay));
    EXPECT_EQ(e.integer("expires_in_seconds"), 80 * kDay);
    EXPECT_TRUE(e.get("ari_window").is_null());
    EXPECT_EQ(a.str("next_renewal"), format_rfc3339(kNow + 48 * kDay));
    EXPECT_EQ(a.str("renewal_source"), "lifetime");
    EXPECT_EQ(a.str("state"), "valid");
    EXPECT_EQ(a.integer("fails", -1), 0);
    EXPECT_TRUE(a.has("last_error"));
    EXPECT_TRUE(a.get("last_error").is_null());
    EXPECT_EQ(a.str("last_success"), format_rfc3339(kNow - 10 * kDay));
    EXPECT_FALSE(a.boolean("in_progress", true));

    Json b = certs.at(1);
    EXPECT_EQ(b.str("name"), "new.example");
    EXPECT_TRUE(b.get("ca").is_null());
    EXPECT_EQ(b.get("key_types").size(), 0u);
    EXPECT_EQ(b.str("state"), "retrying");
    EXPECT_EQ(b.str("renewal_source"), "order-pending");
    EXPECT_EQ(b.str("next_renewal"), format_rfc3339(kNow + 240));
    EXPECT_EQ(b.integer("fails"), 3);
    Json err = b.get("last_error");
    EXPECT_EQ(err.str("type"), "network");
    EXPECT_EQ(err.str("detail"), "acme: new.example: connect to CA: timed out");
    EXPECT_EQ(err.str("at"), format_rfc3339(kNow - 60));
    EXPECT_TRUE(b.has("last_success"));
    EXPECT_TRUE(b.get("last_success").is_null());
}

TEST(Status, JsonShowsTheAriWindowAndTheDriver) {
    CertMeta m = valid_meta();
    m.certs[0].ari.window_start = kNow + 30 * kDay;
    m.certs[0].ari.window_end = kNow + 31 * kDay;
    m.certs[0].ari.explanation_url = "https://ca.example/incident";
    DriverStatus d;
    d.active = true;
    d.pid = 4242;
    d.since = kNow - 60;
    d.working_on = "example.org";
    d.next_wakeup = kNow + 30;
    Json j = Json::parse(status_json({m, failing_meta()}, kNow, &d));
    Json drv = j.get("driver");
    EXPECT_TRUE(drv.boolean("active"));
    EXPECT_FALSE(drv.boolean("this_process", true));
    EXPECT_EQ(drv.integer("pid"), 4242);
    EXPECT_EQ(drv.str("since"), format_rfc3339(kNow - 60));
    EXPECT_EQ(drv.str("working_on"), "example.org");
    EXPECT_EQ(drv.str("next_wakeup"), format_rfc3339(kNow + 30));
    Json c = j.get("certificates").at(0);
    EXPECT_TRUE(c.boolean("in_progress"));
    EXPECT_FALSE(j.get("certificates").at(1).boolean("in_progress", true));
    Json w = c.get("key_types").get("ecdsa-p256").get("ari_window");
    EXPECT_EQ(w.str("start"), format_rfc3339(kNow + 30 * kDay));
    EXPECT_EQ(w.str("end"), format_rfc3339(kNow + 31 * kDay));
    EXPECT_EQ(w.str("explanation_url"), "https://ca.example/incident");

    DriverStatus idle;
    Json k = Json::parse(status_json({}, kNow, &idle));
    EXPECT_FALSE(k.get("driver").boolean("active", true));
    EXPECT_TRUE(k.get("driver").get("working_on").is_null());
    EXPECT_TRUE(k.get("driver").get("pid").is_null());
    EXPECT_TRUE(k.get("driver").get("next_wakeup").is_null());
    EXPECT_EQ(k.get("certificates").size(), 0u);
    EXPECT_TRUE(k.get("certificates").is_array());
}

TEST(Status, JsonEscapesHostileText) {
    CertMeta m = failing_meta();
    m.schedule.last_error = "bad \"quote\" \\ and\nnewline </script>";
    Json j = Json::parse(status_json({m}, kNow));
    EXPECT_EQ(j.get("certificates").at(0).get("last_error").str("detail"), m.schedule.last_error);
}

TEST(Status, States) {
    CertMeta m = valid_meta();
    EXPECT_EQ(cert_state(m, kNow), "valid");
    EXPECT_EQ(cert_state(m, kNow + 48 * kDay), "renewal-scheduled");
    EXPECT_EQ(cert_state(m, kNow + 80 * kDay), "expired");

    CertMeta none;
    none.name = "x";
    EXPECT_EQ(cert_state(none, kNow), "pending");
    CertMeta mismatch = valid_meta();
    mismatch.schedule.renewal_source = "order-pending";
    EXPECT_EQ(cert_state(mismatch, kNow), "pending");

    EXPECT_EQ(cert_state(failing_meta(), kNow), "retrying");
    CertMeta waiting = failing_meta();
    waiting.schedule.waiting_for_config = true;
    EXPECT_EQ(cert_state(waiting, kNow), "waiting-for-config");
    CertMeta expired_and_failing = failing_meta();
    expired_and_failing.certs.push_back(cert("ecdsa-p256", kNow - 90 * kDay, kNow - 1));
    EXPECT_EQ(cert_state(expired_and_failing, kNow), "expired");

    Json j = Json::parse(status_json({valid_meta()}, kNow + 81 * kDay));
    Json c = j.get("certificates").at(0);
    EXPECT_EQ(c.str("state"), "expired");
    EXPECT_EQ(c.get("key_types").get("rsa-2048").integer("expires_in_seconds"), -kDay);
}

TEST(Status, PrometheusLineByLine) {
    CertMeta b = failing_meta();
    b.certs.push_back(cert("ecdsa-p256", kNow - 100 * kDay, kNow - 10 * kDay));  // expired
    const std::string got = status_prometheus({valid_meta(), b}, kNow);
    const std::string na = std::to_string(kNow + 80 * kDay);
    const std::vector<std::string> want = {
        "# HELP acme_certificate_not_after_seconds Expiry (notAfter) of the stored certificate, "
        "in Unix seconds.",
        "# TYPE acme_certificate_not_after_seconds gauge",
        "acme_certificate_not_after_seconds{name=\"example.org\",key_type=\"ecdsa-p256\"} " + na,
        "acme_certificate_not_after_seconds{name=\"example.org\",key_type=\"rsa-2048\"} " + na,
        "acme_certificate_not_after_seconds{name=\"new.example\",key_type=\"ecdsa-p256\"} " +
            std::to_string(kNow - 10 * kDay),
        "# HELP acme_certificate_valid Whether the stored certificate is within its validity "
        "period (1) or not (0).",
        "# TYPE acme_certificate_valid gauge",
        "acme_certificate_valid{name=\"example.org\",key_type=\"ecdsa-p256\"} 1",
        "acme_certificate_valid{name=\"example.org\",key_type=\"rsa-2048\"} 1",
        "acme_certificate_valid{name=\"new.example\",key_type=\"ecdsa-p256\"} 0",
        "# HELP acme_certificate_next_renewal_seconds When the certificate is next ordered or "
        "renewed, in Unix seconds.",
        "# TYPE acme_certificate_next_renewal_seconds gauge",
        "acme_certificate_next_renewal_seconds{name=\"example.org\"} " +
            std::to_string(kNow + 48 * kDay),
        "acme_certificate_next_renewal_seconds{name=\"new.example\"} " + std::to_string(kNow + 240),
        "# HELP acme_certificate_failures Consecutive failed attempts to order the certificate "
        "since the last success.",
        "# TYPE acme_certificate_failures gauge",
        "acme_certificate_failures{name=\"example.org\"} 0",
        "acme_certificate_failures{name=\"new.example\"} 3",
        "# HELP acme_certificate_last_success_seconds Last successful order of the certificate, "
        "in Unix seconds.",
        "# TYPE acme_certificate_last_success_seconds gauge",
        "acme_certificate_last_success_seconds{name=\"example.org\"} " +
            std::to_string(kNow - 10 * kDay),
    };
    EXPECT_EQ(lines(got), want);
    EXPECT_EQ(got.back(), '\n');
}

TEST(Status, PrometheusValidityAtNow) {
    CertMeta m = valid_meta();
    m.certs.resize(1);
    m.certs[0].not_before = kNow + 10;  // not yet valid
    std::string got = status_prometheus({m}, kNow);
    EXPECT_NE(
        got.find("\nacme_certificate_valid{name=\"example.org\",key_type=\"ecdsa-p256\"} 0\n"),
        std::string::npos)
        << got;
    got = status_prometheus({m}, kNow + 10);
    EXPECT_NE(
        got.find("\nacme_certificate_valid{name=\"example.org\",key_type=\"ecdsa-p256\"} 1\n"),
        std::string::npos)
        << got;
}

TEST(Status, PrometheusEscapesLabelValues) {
    EXPECT_EQ(prometheus_escape("plain.example"), "plain.example");
    EXPECT_EQ(prometheus_escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    CertMeta m = failing_meta();
    m.name = "we\"ird\\name\nx";
    std::vector<std::string> got = lines(status_prometheus({m}, kNow));
    std::vector<std::string> failures;
    for (const std::string& l : got) {
        if (l.rfind("acme_certificate_failures{", 0) == 0) failures.push_back(l);
    }
    ASSERT_EQ(failures.size(), 1u);
    EXPECT_EQ(failures[0], "acme_certificate_failures{name=\"we\\\"ird\\\\name\\nx\"} 3");
    // No raw newline leaked: every line is a comment or a complete sample.
    for (const std::string& l : got) {
        EXPECT_TRUE(l.rfind("# ", 0) == 0 || l.rfind("acme_", 0) == 0) << l;
    }
}

TEST(Status, PrometheusDriverGauge) {
    DriverStatus d;
    d.active = true;
    std::vector<std::string> got = lines(status_prometheus({}, kNow, &d));
    ASSERT_GE(got.size(), 3u);
    EXPECT_EQ(got[got.size() - 3],
              "# HELP acme_driver_active Whether a process drives the ACME work for this "
              "configuration (1) or not (0).");
    EXPECT_EQ(got[got.size() - 2], "# TYPE acme_driver_active gauge");
    EXPECT_EQ(got.back(), "acme_driver_active 1");
    EXPECT_EQ(status_prometheus({}, kNow).find("acme_driver_active"), std::string::npos);
}

}  // namespace
}  // namespace acme::engine
