#include "engine/scheduler.h"

#include <gtest/gtest.h>

#include <random>
#include <utility>
#include <vector>

#include "util/error.h"

namespace acme::engine {
namespace {

constexpr int64_t kNow = 1750000000;  // 2025-06-15T15:06:40Z
constexpr int64_t kHour = 3600;
const char* kRateLimited = "urn:ietf:params:acme:error:rateLimited";

// A deterministic Rng: returns lo + (hi - lo) * num / den and records every call.
struct FakeRng {
    int64_t num, den;
    std::vector<std::pair<int64_t, int64_t>> calls;

    explicit FakeRng(int64_t n = 0, int64_t d = 1) : num(n), den(d) {}

    Rng fn() {
        return [this](int64_t lo, int64_t hi) {
            calls.emplace_back(lo, hi);
            EXPECT_LE(lo, hi);
            return lo + (hi - lo) / den * num + (hi - lo) % den * num / den;
        };
    }
};

Rng lowest() {
    return [](int64_t lo, int64_t) { return lo; };
}
Rng highest() {
    return [](int64_t, int64_t hi) { return hi; };
}
Rng middle() {
    return [](int64_t lo, int64_t hi) { return lo + (hi - lo) / 2; };
}

CertFacts::Key key(const std::string& type, int64_t not_before, int64_t lifetime) {
    CertFacts::Key k;
    k.key_type = type;
    k.present = true;
    k.not_before = not_before;
    k.not_after = not_before + lifetime;
    return k;
}

CertFacts one(const CertFacts::Key& k) {
    CertFacts f;
    f.keys.push_back(k);
    return f;
}

// A certificate issued 10 days ago with a 90-day lifetime.
CertFacts ninety_day() {
    return one(key("ecdsa-p256", kNow - 10 * kDay, 90 * kDay));
}

Policy policy(const std::string& window = "", const std::string& hash = "h1") {
    Policy p;
    p.renew_window = parse_renew_window(window);
    p.config_hash = hash;
    return p;
}

Error transient_error() {
    return Error(Status::network, "connect to CA: timed out");
}
Error permanent_error() {
    Error e(Status::ca, "CA refused: rejectedIdentifier", true);
    e.set_problem("urn:ietf:params:acme:error:rejectedIdentifier");
    return e;
}

// ---- ordering now ---------------------------------------------------------------------------

TEST(Scheduler, FirstIssuanceIsImmediate) {
    CertFacts f;
    CertFacts::Key k;
    k.key_type = "ecdsa-p256";
    f.keys.push_back(k);
    ScheduleState s;
    FakeRng rng;
    Decision d = decide(f, s, policy(), kNow, rng.fn());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_EQ(d.at, kNow);
    EXPECT_EQ(d.source, "order-pending");
    EXPECT_EQ(s.renewal_source, "order-pending");
    EXPECT_EQ(s.next_at, kNow);
    EXPECT_NE(d.reason.find("no ecdsa-p256 certificate"), std::string::npos) << d.reason;
    EXPECT_TRUE(rng.calls.empty());
}

TEST(Scheduler, MissingSecondKeyTypeOrdersNow) {
    CertFacts f = ninety_day();
    CertFacts::Key rsa;
    rsa.key_type = "rsa-2048";
    f.keys.push_back(rsa);
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_NE(d.reason.find("no rsa-2048 certificate"), std::string::npos) << d.reason;
}

TEST(Scheduler, ConfigMismatchOrdersNow) {
    CertFacts f = ninety_day();
    f.matches_config = false;
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_EQ(d.source, "order-pending");
}

TEST(Scheduler, ExpiredOrdersNow) {
    CertFacts f = one(key("ecdsa-p256", kNow - 90 * kDay, 90 * kDay));  // not_after == now
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_NE(d.reason.find("expired"), std::string::npos) << d.reason;
}

TEST(Scheduler, NoKeyTypesIsRefused) {
    ScheduleState s;
    try {
        decide(CertFacts{}, s, policy(), kNow, lowest());
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid);
    }
}

// ---- lifetime rule ----------------------------------------------------------------------------

TEST(Scheduler, TwoThirdsOfNinetyDays) {
    const int64_t nb = kNow - 10 * kDay;
    CertFacts f = ninety_day();
    {
        ScheduleState s;
        FakeRng rng;  // jitter 0
        Decision d = decide(f, s, policy(), kNow, rng.fn());
        EXPECT_EQ(d.action, Decision::Action::wait);
        EXPECT_EQ(d.at, nb + 60 * kDay);
        EXPECT_EQ(d.source, "lifetime");
        ASSERT_EQ(rng.calls.size(), 1u);
        EXPECT_EQ(rng.calls[0], std::make_pair(int64_t{0}, 90 * kDay / 20));
    }
    {
        ScheduleState s;
        Decision d = decide(f, s, policy(), kNow, highest());  // maximal jitter
        EXPECT_EQ(d.at, nb + 60 * kDay - 90 * kDay / 20);
        EXPECT_EQ(s.renewal_at, d.at);
    }
}

TEST(Scheduler, HalfOfSixDays) {
    const int64_t nb = kNow - kDay;
    CertFacts f = one(key("ecdsa-p256", nb, 6 * kDay));
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, nb + 3 * kDay);

    ScheduleState s2;
    d = decide(f, s2, policy(), kNow, highest());
    EXPECT_EQ(d.at, nb + 3 * kDay - 6 * kDay / 20);
}

TEST(Scheduler, TenDayLifetimeUsesTwoThirds) {
    const int64_t nb = kNow - kDay;
    CertFacts f = one(key("ecdsa-p256", nb, 10 * kDay));
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.at, nb + 10 * kDay * 2 / 3);
}

TEST(Scheduler, JitterNeverLaterThanNominal) {
    std::mt19937_64 gen(42);
    Rng rng = [&gen](int64_t lo, int64_t hi) {
        return std::uniform_int_distribution<int64_t>(lo, hi)(gen);
    };
    for (int64_t life : {int64_t{6 * kDay}, int64_t{47 * kDay}, int64_t{90 * kDay}}) {
        const int64_t nb = kNow - kHour;
        const int64_t nominal = life < 10 * kDay ? nb + life / 2 : nb + life * 2 / 3;
        CertFacts f = one(key("ecdsa-p256", nb, life));
        for (int i = 0; i < 500; ++i) {
            ScheduleState s;
            Decision d = decide(f, s, policy(), kNow, rng);
            EXPECT_LE(s.renewal_at, nominal);
            EXPECT_GE(s.renewal_at, nominal - life / 20);
        }
    }
}

TEST(Scheduler, PointIsPickedOnceAndKept) {
    CertFacts f = ninety_day();
    ScheduleState s;
    FakeRng first(1, 3);
    Decision d1 = decide(f, s, policy(), kNow, first.fn());
    FakeRng second(2, 3);
    Decision d2 = decide(f, s, policy(), kNow + kHour, second.fn());
    EXPECT_EQ(d1.at, d2.at);
    EXPECT_EQ(first.calls.size(), 1u);
    EXPECT_TRUE(second.calls.empty()) << "re-rolled the persisted point";

    // A new certificate (renewed) gets a new point.
    f.keys[0].not_before = kNow;
    f.keys[0].not_after = kNow + 90 * kDay;
    Decision d3 = decide(f, s, policy(), kNow, second.fn());
    EXPECT_EQ(second.calls.size(), 1u);
    EXPECT_GT(d3.at, d1.at);
}

TEST(Scheduler, PointInThePastMeansNow) {
    CertFacts f = one(key("ecdsa-p256", kNow - 70 * kDay, 90 * kDay));
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_EQ(d.at, kNow);
    EXPECT_EQ(s.renewal_at, kNow - 10 * kDay);
    EXPECT_EQ(d.source, "lifetime");
}

TEST(Scheduler, DualKeyRenewsBothAtTheEarlierPoint) {
    CertFacts f = ninety_day();
    f.keys.push_back(key("rsa-2048", kNow - 20 * kDay, 90 * kDay));
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.at, kNow - 20 * kDay + 60 * kDay);
}

// ---- ARI ----------------------------------------------------------------------------------------

TEST(Scheduler, AriPointInsideWindowAndPersisted) {
    CertFacts f = ninety_day();
    AriInfo& ari = f.keys[0].ari;
    ari.cert_id = "aki.serial";
    EXPECT_TRUE(record_ari(ari, kNow + 50 * kDay, kNow + 52 * kDay, "", 0, kNow));

    ScheduleState s;
    FakeRng rng(1, 4);
    Decision d = decide(f, s, policy(), kNow, rng.fn());
    ASSERT_EQ(rng.calls.size(), 1u);
    EXPECT_EQ(rng.calls[0], std::make_pair(kNow + 50 * kDay, kNow + 52 * kDay));
    EXPECT_EQ(d.source, "ari");
    EXPECT_EQ(d.at, kNow + 50 * kDay + 2 * kDay / 4);
    EXPECT_EQ(d.action, Decision::Action::wait);

    // The same window again: no re-pick.
    EXPECT_FALSE(record_ari(ari, kNow + 50 * kDay, kNow + 52 * kDay, "", 0, kNow + 6 * kHour));
    FakeRng again(3, 4);
    EXPECT_EQ(decide(f, s, policy(), kNow + 6 * kHour, again.fn()).at, d.at);
    EXPECT_TRUE(again.calls.empty());

    // A new window: re-pick inside it.
    EXPECT_TRUE(record_ari(ari, kNow + 30 * kDay, kNow + 31 * kDay, "https://ca/incident", 0,
                           kNow + 12 * kHour));
    Decision d2 = decide(f, s, policy(), kNow + 12 * kHour, again.fn());
    ASSERT_EQ(again.calls.size(), 1u);
    EXPECT_GE(d2.at, kNow + 30 * kDay);
    EXPECT_LE(d2.at, kNow + 31 * kDay);
}

TEST(Scheduler, PastAriWindowMeansNow) {
    CertFacts f = ninety_day();
    f.keys[0].ari.cert_id = "x";
    record_ari(f.keys[0].ari, kNow - 2 * kDay, kNow - kDay, "https://ca/revocation", 0, kNow);
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, highest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_EQ(d.at, kNow);
    EXPECT_EQ(d.source, "ari");
}

TEST(Scheduler, AriPointNeverAfterNinetyPercentOfLifetime) {
    CertFacts f = ninety_day();  // not_after = now + 80d
    record_ari(f.keys[0].ari, kNow + 79 * kDay, kNow + 100 * kDay, "", 0, kNow);
    ScheduleState s;
    Decision d = decide(f, s, policy(), kNow, highest());
    EXPECT_EQ(d.at, kNow + 80 * kDay - 9 * kDay);
}

TEST(Scheduler, AriEarlierThanOverrideWins) {
    CertFacts f = ninety_day();  // not_after = now + 80 d; "30d" -> now + 50 d
    record_ari(f.keys[0].ari, kNow + 5 * kDay, kNow + 6 * kDay, "", 0, kNow);
    ScheduleState s;
    Decision d = decide(f, s, policy("30d"), kNow, lowest());
    EXPECT_EQ(d.source, "ari");
    EXPECT_EQ(d.at, kNow + 5 * kDay);

    // A window ending after the override point: the override wins.
    record_ari(f.keys[0].ari, kNow + 55 * kDay, kNow + 56 * kDay, "", 0, kNow);
    d = decide(f, s, policy("30d"), kNow, lowest());
    EXPECT_EQ(d.source, "override");
    EXPECT_EQ(d.at, kNow + 50 * kDay);
}

TEST(Scheduler, RecordAriPollTimes) {
    AriInfo a;
    record_ari(a, kNow + kDay, kNow + 2 * kDay, "", 0, kNow);
    EXPECT_EQ(a.next_poll, kNow + 6 * kHour);
    EXPECT_EQ(a.fetched_at, kNow);
    record_ari(a, kNow + kDay, kNow + 2 * kDay, "", kNow + 600, kNow);
    EXPECT_EQ(a.next_poll, kNow + kHour);
    record_ari(a, kNow + kDay, kNow + 2 * kDay, "", kNow + 3 * kDay, kNow);
    EXPECT_EQ(a.next_poll, kNow + kDay);
    record_ari(a, kNow + kDay, kNow + 2 * kDay, "", kNow + 5 * kHour, kNow);
    EXPECT_EQ(a.next_poll, kNow + 5 * kHour);

    record_ari_failure(a, 0, kNow + kDay);
    EXPECT_EQ(a.next_poll, kNow + kDay + kHour);
    EXPECT_TRUE(a.has_window()) << "a failed poll keeps the window";
    record_ari_failure(a, kNow + kDay + 12 * kHour, kNow + kDay);
    EXPECT_EQ(a.next_poll, kNow + kDay + 12 * kHour);

    // end before start: no window (and that is a change).
    EXPECT_TRUE(record_ari(a, kNow + 2 * kDay, kNow + kDay, "", 0, kNow));
    EXPECT_FALSE(a.has_window());
}

TEST(Scheduler, AriPollTimeInDecision) {
    CertFacts f = ninety_day();
    ScheduleState s;
    EXPECT_EQ(decide(f, s, policy(), kNow, lowest()).ari_poll_at, 0) << "no cert id";

    f.keys[0].ari.cert_id = "aki.serial";
    Decision d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.ari_poll_at, kNow) << "never polled: now";
    EXPECT_EQ(d.wake_at(), kNow);

    record_ari(f.keys[0].ari, kNow + 50 * kDay, kNow + 51 * kDay, "", 0, kNow);
    d = decide(f, s, policy(), kNow, lowest());
    EXPECT_EQ(d.ari_poll_at, kNow + 6 * kHour);
    EXPECT_EQ(d.wake_at(), kNow + 6 * kHour);
    EXPECT_EQ(d.at, kNow + 50 * kDay);
}

// ---- override ---------------------------------------------------------------------------------

TEST(Scheduler, OverrideDuration) {
    CertFacts f = ninety_day();  // not_after = now + 80 d
    ScheduleState s;
    FakeRng rng;
    Decision d = decide(f, s, policy("30d"), kNow, rng.fn());
    EXPECT_EQ(d.source, "override");
    EXPECT_EQ(d.at, kNow + 50 * kDay);
    EXPECT_TRUE(rng.calls.empty()) << "an explicit override is not jittered";
}

TEST(Scheduler, OverridePercentage) {
    const int64_t nb = kNow - 10 * kDay;
    CertFacts f = ninety_day();
    ScheduleState s;
    Decision d = decide(f, s, policy("33%"), kNow, lowest());
    EXPECT_EQ(d.source, "override");
    EXPECT_EQ(d.at, nb + 90 * kDay - 90 * kDay * 33 / 100);

    ScheduleState s2;
    d = decide(f, s2, policy("12.5%"), kNow, lowest());
    EXPECT_EQ(d.at, nb + 90 * kDay - 90 * kDay / 8);
}

TEST(Scheduler, OverrideChangeRepicks) {
    CertFacts f = ninety_day();
    ScheduleState s;
    EXPECT_EQ(decide(f, s, policy("30d"), kNow, lowest()).at, kNow + 50 * kDay);
    EXPECT_EQ(decide(f, s, policy("20d"), kNow, lowest()).at, kNow + 60 * kDay);
    EXPECT_EQ(decide(f, s, policy(""), kNow, lowest()).source, "lifetime");
}

TEST(Scheduler, OverrideLongerThanLifetimeFallsBackToLifetimeRule) {
    const int64_t nb = kNow - kDay;
    CertFacts f = one(key("ecdsa-p256", nb, 6 * kDay));
    ScheduleState s;
    Decision d = decide(f, s, policy("30d"), kNow, lowest());
    EXPECT_EQ(d.source, "lifetime");
    EXPECT_EQ(d.at, nb + 3 * kDay);
    EXPECT_EQ(d.action, Decision::Action::wait) << "must not renew in a loop";
    EXPECT_EQ(d.warning,
              "the renew window (30d before expiry) is not shorter than the ecdsa-p256 "
              "certificate's lifetime (6d); the default renewal point applies");
    // Said when the point is picked, not at every later decision.
    EXPECT_EQ(decide(f, s, policy("30d"), kNow + 60, lowest()).warning, "");
    EXPECT_EQ(decide(f, s, policy("2d"), kNow + 60, lowest()).warning, "");
}

TEST(RenewWindow, Parses) {
    EXPECT_EQ(parse_renew_window("").kind, RenewWindow::Kind::none);
    RenewWindow w = parse_renew_window("30d");
    EXPECT_EQ(w.kind, RenewWindow::Kind::before_expiry);
    EXPECT_EQ(w.seconds, 30 * kDay);
    EXPECT_EQ(parse_renew_window("12h").seconds, 12 * kHour);
    EXPECT_EQ(parse_renew_window("2w").seconds, 14 * kDay);
    w = parse_renew_window("33%");
    EXPECT_EQ(w.kind, RenewWindow::Kind::percent_left);
    EXPECT_EQ(w.basis_points, 3300);
    EXPECT_EQ(parse_renew_window("12.5%").basis_points, 1250);
    EXPECT_EQ(parse_renew_window("0.01%").basis_points, 1);
    EXPECT_EQ(parse_renew_window("99.99%").basis_points, 9999);
}

TEST(RenewWindow, RefusesWithClearMessages) {
    struct Case {
        const char* text;
        const char* expect;
    };
    const Case cases[] = {
        {"40x", "renew window '40x' is invalid: expected a duration like 30d or a percentage"},
        {"abc", "expected a duration like 30d"},
        {"%", "expected a duration like 30d"},
        {"0%", "above 0% and below 100%"},
        {"100%", "above 0% and below 100%"},
        {"150%", "above 0% and below 100%"},
        {"-5%", "expected a duration"},
        {"33.333%", "at most two decimals"},
        {"33.%", "expected a duration"},
        {"30", "a unit is needed: 30d"},
        {"0d", "must be positive"},
        {"-30d", "expected a duration"},
        {"30 d", "expected a duration"},
        {"399d", "longer than any certificate lives (at most 398d"},
        {"9999999999d", "longer than any certificate lives"},
    };
    for (const Case& c : cases) {
        try {
            parse_renew_window(c.text);
            ADD_FAILURE() << "accepted '" << c.text << "'";
        } catch (const Error& e) {
            EXPECT_EQ(e.status(), Status::invalid) << c.text;
            EXPECT_TRUE(e.permanent()) << c.text;
            EXPECT_NE(std::string(e.what()).find(c.expect), std::string::npos)
                << c.text << ": " << e.what();
            EXPECT_NE(std::string(e.what()).find(std::string("'") + c.text + "'"),
                      std::string::npos)
                << "message must name the value: " << e.what();
        }
    }
}

// ---- failures -----------------------------------------------------------------------------------

TEST(Backoff, GrowsAndCaps) {
    const int64_t expected[] = {60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 30720, 61440};
    for (int i = 0; i < 11; ++i) EXPECT_EQ(backoff_delay(i + 1, middle()), expected[i]) << i;
    EXPECT_EQ(backoff_delay(12, middle()), kDay);
    EXPECT_EQ(backoff_delay(1000, middle()), kDay);
    EXPECT_EQ(backoff_delay(1 << 30, middle()), kDay);
}

TEST(Backoff, JitterBounds) {
    EXPECT_EQ(backoff_delay(1, lowest()), 48);
    EXPECT_EQ(backoff_delay(1, highest()), 72);
    EXPECT_EQ(backoff_delay(3, lowest()), 192);
    EXPECT_EQ(backoff_delay(3, highest()), 288);
    EXPECT_EQ(backoff_delay(20, lowest()), kDay * 80 / 100);
    EXPECT_EQ(backoff_delay(20, highest()), kDay) << "never above the cap";
}

TEST(Scheduler, TransientFailureBacksOff) {
    CertFacts f;
    f.keys.push_back(CertFacts::Key{});
    f.keys[0].key_type = "ecdsa-p256";
    ScheduleState s;
    ASSERT_EQ(decide(f, s, policy(), kNow, lowest()).action, Decision::Action::order);

    record_failure(s, transient_error(), kNow, 1, "h1", middle());
    EXPECT_EQ(s.fails, 1);
    EXPECT_EQ(s.next_attempt, kNow + 60);
    EXPECT_EQ(s.last_error, "connect to CA: timed out");
    EXPECT_EQ(s.last_error_type, "network");
    EXPECT_EQ(s.last_error_at, kNow);
    EXPECT_FALSE(s.waiting_for_config);

    Decision d = decide(f, s, policy(), kNow + 30, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, kNow + 60);
    EXPECT_EQ(d.source, "order-pending");
    EXPECT_EQ(decide(f, s, policy(), kNow + 60, lowest()).action, Decision::Action::order);

    record_failure(s, transient_error(), kNow + 60, 1, "h1", middle());
    EXPECT_EQ(s.fails, 2);
    EXPECT_EQ(s.next_attempt, kNow + 60 + 120);
}

TEST(Scheduler, BackoffDelaysARenewalButNotBeyondIt) {
    CertFacts f = ninety_day();
    ScheduleState s;
    record_failure(s, transient_error(), kNow, 1, "h1", middle());
    // The renewal point (day 60) is later than the backoff: it stays.
    EXPECT_EQ(decide(f, s, policy(), kNow, lowest()).at, kNow + 50 * kDay);
}

TEST(Scheduler, RetryAfterIsRespected) {
    CertFacts f = ninety_day();
    f.matches_config = false;  // order now
    ScheduleState s;
    Error e(Status::ca, "too many certificates");
    e.set_problem(kRateLimited).set_retry_after(kNow + 5 * kHour);
    record_failure(s, e, kNow, 1, "h1", middle());
    EXPECT_EQ(s.next_attempt, kNow + 5 * kHour);
    EXPECT_EQ(s.retry_not_before, kNow + 5 * kHour);
    EXPECT_EQ(s.last_error_type, kRateLimited);

    Decision d = decide(f, s, policy(), kNow + 4 * kHour, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, kNow + 5 * kHour);
    // Not even a configuration change lifts the CA's Retry-After.
    d = decide(f, s, policy("", "h2"), kNow + 4 * kHour, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, kNow + 5 * kHour);
    EXPECT_EQ(decide(f, s, policy("", "h2"), kNow + 5 * kHour, lowest()).action,
              Decision::Action::order);
}

TEST(Scheduler, AnAbsurdRetryAfterIsCutToAWeek) {
    ScheduleState s;
    Error e(Status::ca, "come back in 300 years");
    e.set_problem(kRateLimited).set_retry_after(kNow + 300 * 365 * kDay);
    record_failure(s, e, kNow, 1, "h1", middle());
    EXPECT_EQ(s.retry_not_before, kNow + kRetryAfterMax);
    EXPECT_EQ(s.next_attempt, kNow + kRetryAfterMax);
}

TEST(Scheduler, RetryAfterNeverParksARenewalPastExpiry) {
    // A one-hour certificate with 40 minutes left; the CA says come back in a day.
    ScheduleState s;
    Error e(Status::ca, "service unavailable");
    e.set_retry_after(kNow + kDay);
    const int64_t expires = kNow + 40 * 60;
    EXPECT_TRUE(record_failure(s, e, kNow, 1, "h1", middle(), expires));
    EXPECT_EQ(s.retry_not_before, kNow + 20 * 60) << "half of the time left";
    EXPECT_EQ(s.next_attempt, kNow + 20 * 60);
    EXPECT_EQ(s.next_at, kNow + 20 * 60) << "the status shows the next attempt";
    // The next failure, again with a day: half of the 20 minutes then left.
    EXPECT_TRUE(record_failure(s, e, kNow + 20 * 60, 1, "h1", middle(), expires));
    EXPECT_EQ(s.next_attempt, kNow + 30 * 60);
    // Never closer than a minute, even in the last seconds.
    EXPECT_TRUE(record_failure(s, e, expires - 10, 1, "h1", middle(), expires));
    EXPECT_EQ(s.next_attempt, expires - 10 + 60);

    // A 6-day shortlived certificate at its renewal point (3 days left) and an HTTP-date a
    // week out: retried within a day and a half.
    ScheduleState w;
    Error week(Status::ca, "rate limited");
    week.set_problem(kRateLimited).set_retry_after(kNow + 7 * kDay);
    EXPECT_TRUE(record_failure(w, week, kNow, 1, "h1", middle(), kNow + 3 * kDay));
    EXPECT_EQ(w.next_attempt, kNow + 3 * kDay / 2);

    // Backoff and the permanent safety retry are bounded too, without a "shortened" report.
    ScheduleState p;
    EXPECT_FALSE(record_failure(p, permanent_error(), kNow, 1, "h1", middle(), kNow + 4 * kHour));
    EXPECT_EQ(p.next_attempt, kNow + 2 * kHour);
    // A Retry-After inside the bound is kept as it is.
    ScheduleState k;
    Error hour(Status::ca, "busy");
    hour.set_retry_after(kNow + kHour);
    EXPECT_FALSE(record_failure(k, hour, kNow, 1, "h1", middle(), kNow + 30 * kDay));
    EXPECT_EQ(k.next_attempt, kNow + kHour);
    // Nothing in service (first order): no bound but the week.
    ScheduleState n;
    EXPECT_FALSE(record_failure(n, week, kNow, 1, "h1", middle(), 0));
    EXPECT_EQ(n.next_attempt, kNow + 7 * kDay);
}

TEST(Scheduler, ShortRetryAfterOnATransientError) {
    ScheduleState s;
    Error e(Status::ca, "service unavailable");
    e.set_retry_after(kNow + 30);
    record_failure(s, e, kNow, 1, "h1", middle());
    EXPECT_EQ(s.next_attempt, kNow + 60) << "backoff is longer than the Retry-After";
    Error r(Status::ca, "rate limited");
    r.set_problem(kRateLimited).set_retry_after(kNow + 300);
    ScheduleState s2;
    record_failure(s2, r, kNow, 1, "h1", middle());
    EXPECT_EQ(s2.next_attempt, kNow + 300) << "rateLimited with a Retry-After: exactly that";
}

TEST(Scheduler, RateLimitedWithoutRetryAfterWaitsAnHour) {
    ScheduleState s;
    Error e(Status::ca, "too many new orders");
    e.set_problem(kRateLimited);
    record_failure(s, e, kNow, 1, "h1", middle());
    EXPECT_EQ(s.next_attempt, kNow + kHour);
}

TEST(Scheduler, PermanentErrorWaitsForConfigChange) {
    CertFacts f;
    f.keys.push_back(CertFacts::Key{});
    f.keys[0].key_type = "ecdsa-p256";
    ScheduleState s;
    record_failure(s, permanent_error(), kNow, 1, "h1", middle());
    EXPECT_TRUE(s.waiting_for_config);
    EXPECT_EQ(s.failed_config_hash, "h1");
    EXPECT_EQ(s.last_error_type, "urn:ietf:params:acme:error:rejectedIdentifier");

    Decision d = decide(f, s, policy("", "h1"), kNow + 23 * kHour, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, kNow + kDay);
    EXPECT_NE(d.reason.find("configuration change"), std::string::npos) << d.reason;

    d = decide(f, s, policy("", "h2"), kNow + 23 * kHour, lowest());
    EXPECT_EQ(d.action, Decision::Action::order);
    EXPECT_FALSE(s.waiting_for_config);
    EXPECT_EQ(s.fails, 0) << "a new configuration starts a fresh backoff";
    EXPECT_EQ(s.last_error, "CA refused: rejectedIdentifier") << "kept for the status";

    // Failing again with the new configuration waits again, for another change.
    record_failure(s, permanent_error(), kNow + 23 * kHour, 1, "h2", middle());
    EXPECT_EQ(decide(f, s, policy("", "h2"), kNow + 24 * kHour, lowest()).action,
              Decision::Action::wait);
}

TEST(Scheduler, PermanentErrorSafetyRetryAfterADay) {
    CertFacts f;
    f.keys.push_back(CertFacts::Key{});
    f.keys[0].key_type = "ecdsa-p256";
    ScheduleState s;
    record_failure(s, permanent_error(), kNow, 1, "h1", middle());
    EXPECT_EQ(decide(f, s, policy(), kNow + kDay - 1, lowest()).action, Decision::Action::wait);
    EXPECT_EQ(decide(f, s, policy(), kNow + kDay, lowest()).action, Decision::Action::order);
}

TEST(Scheduler, ConfigChangeLiftsTransientBackoff) {
    CertFacts f = ninety_day();
    f.matches_config = false;
    ScheduleState s;
    for (int i = 0; i < 8; ++i) record_failure(s, transient_error(), kNow, 1, "h1", middle());
    EXPECT_EQ(decide(f, s, policy(), kNow + 60, lowest()).action, Decision::Action::wait);
    EXPECT_EQ(decide(f, s, policy("", "h2"), kNow + 60, lowest()).action, Decision::Action::order);
}

TEST(Scheduler, FailoverAfterThreeFailuresAndWraps) {
    ScheduleState s;
    const size_t n = 3;
    EXPECT_EQ(current_ca(s, n), 0u);
    for (size_t expect_ca : {size_t{1}, size_t{2}, size_t{0}, size_t{1}}) {
        for (int i = 0; i < 3; ++i) {
            EXPECT_EQ(s.ca_fails, i);
            record_failure(s, transient_error(), kNow, n, "h1", middle());
        }
        EXPECT_EQ(current_ca(s, n), expect_ca);
        EXPECT_EQ(s.ca_fails, 0);
    }
    EXPECT_EQ(s.fails, 12) << "the backoff keeps counting across CAs";
}

TEST(Scheduler, SingleCaNeverMoves) {
    ScheduleState s;
    for (int i = 0; i < 7; ++i) record_failure(s, transient_error(), kNow, 1, "h1", middle());
    EXPECT_EQ(current_ca(s, 1), 0u);
    EXPECT_EQ(s.ca_index, 0u);
}

TEST(Scheduler, FailoverForgetsTheOldCasRetryAfter) {
    ScheduleState s;
    Error e(Status::ca, "rate limited");
    e.set_problem(kRateLimited).set_retry_after(kNow + 7 * kDay);
    record_failure(s, transient_error(), kNow, 2, "h1", middle());
    record_failure(s, transient_error(), kNow, 2, "h1", middle());
    record_failure(s, e, kNow, 2, "h1", middle());
    EXPECT_EQ(current_ca(s, 2), 1u);
    EXPECT_EQ(s.retry_not_before, 0);
    EXPECT_LT(s.next_attempt, kNow + kDay);
}

TEST(Scheduler, PermanentRefusalMovesOnWhenThereAreOtherCas) {
    ScheduleState s;
    record_failure(s, permanent_error(), kNow, 2, "h1", middle());
    EXPECT_EQ(current_ca(s, 2), 1u);
    EXPECT_FALSE(s.waiting_for_config) << "the other CA may accept";
    EXPECT_EQ(s.next_attempt, kNow + 60);
    record_failure(s, permanent_error(), kNow + 60, 2, "h1", middle());
    EXPECT_TRUE(s.waiting_for_config) << "every CA refused";
    EXPECT_EQ(s.next_attempt, kNow + 60 + kDay);
    EXPECT_EQ(current_ca(s, 2), 0u);
}

TEST(Scheduler, CaIndexWrapsWhenTheListShrinks) {
    ScheduleState s;
    s.ca_index = 4;
    EXPECT_EQ(current_ca(s, 3), 1u);
    EXPECT_EQ(current_ca(s, 0), 0u);
}

TEST(Scheduler, SuccessResets) {
    ScheduleState s;
    s.ca_index = 1;
    record_failure(s, transient_error(), kNow, 2, "h1", middle());
    Error limited(Status::ca, "rate limited");
    limited.set_problem(kRateLimited).set_retry_after(kNow + kHour);
    record_failure(s, limited, kNow, 2, "h1", middle());
    EXPECT_EQ(s.ca_fails, 2);
    record_success(s, kNow + 100);
    EXPECT_EQ(s.fails, 0);
    EXPECT_EQ(s.ca_fails, 0);
    EXPECT_EQ(s.perm_fails, 0);
    EXPECT_FALSE(s.waiting_for_config);
    EXPECT_EQ(s.next_attempt, 0);
    EXPECT_EQ(s.retry_not_before, 0);
    EXPECT_EQ(s.last_error, "");
    EXPECT_EQ(s.last_error_type, "");
    EXPECT_EQ(s.last_success, kNow + 100);
    EXPECT_EQ(s.last_attempt, kNow + 100);
    EXPECT_EQ(s.ca_index, 1u) << "success keeps the CA";

    // The new certificate is scheduled by the normal rule.
    CertFacts f = one(key("ecdsa-p256", kNow + 100, 90 * kDay));
    Decision d = decide(f, s, policy(), kNow + 100, lowest());
    EXPECT_EQ(d.action, Decision::Action::wait);
    EXPECT_EQ(d.at, kNow + 100 + 60 * kDay);
}

TEST(Scheduler, LongErrorMessagesAreTruncated) {
    ScheduleState s;
    record_failure(s, Error(Status::protocol, std::string(10000, 'x')), kNow, 1, "h1", middle());
    EXPECT_EQ(s.last_error.size(), 2000u);
}

}  // namespace
}  // namespace acme::engine
