#include "engine/scheduler.h"

#include <algorithm>

#include "util/clock.h"
#include "util/error.h"

namespace acme::engine {
namespace {

constexpr const char* kProblemPrefix = "urn:ietf:params:acme:error:";
constexpr size_t kMaxErrorLength = 2000;

[[noreturn]] void bad_window(std::string_view text, const std::string& why) {
    throw Error(Status::invalid, "renew window '" + std::string(text) + "' is invalid: " + why,
                true);
}

std::string time_text(int64_t t) {
    try {
        return format_rfc3339(t);
    } catch (const Error&) {
        return std::to_string(t);
    }
}

// "6d", "12h", "90m", "45s": the largest unit that divides the duration.
std::string duration_text(int64_t secs) {
    if (secs % kDay == 0) return std::to_string(secs / kDay) + "d";
    if (secs % 3600 == 0) return std::to_string(secs / 3600) + "h";
    if (secs % 60 == 0) return std::to_string(secs / 60) + "m";
    return std::to_string(secs) + "s";
}

int64_t clamp_poll(int64_t retry_after, int64_t now, int64_t dflt) {
    if (retry_after <= 0) return now + dflt;
    return now + std::clamp(retry_after - now, kAriPollMin, kAriPollMax);
}

// A renewal point candidate of one key type.
struct Point {
    int64_t at;
    const char* source;
};

// A random point in the ARI window, never later than not_after - lifetime/10.
int64_t ari_point(const CertFacts::Key& k, const Rng& rng) {
    int64_t p = rng(k.ari.window_start, k.ari.window_end);
    int64_t latest = k.not_after - (k.not_after - k.not_before) / 10;
    return std::min(p, latest);
}

Point key_point(const CertFacts::Key& k, const RenewWindow& w, const Rng& rng) {
    const int64_t life = k.not_after - k.not_before;
    int64_t override_at = 0;
    bool have_override = false;
    if (w.kind == RenewWindow::Kind::before_expiry && w.seconds < life) {
        override_at = k.not_after - w.seconds;
        have_override = true;
    } else if (w.kind == RenewWindow::Kind::percent_left) {
        override_at =
            k.not_after - life / 10000 * w.basis_points - (life % 10000) * w.basis_points / 10000;
        have_override = true;
    }
    if (have_override) {
        if (k.ari.has_window() && k.ari.window_end < override_at) return {ari_point(k, rng), "ari"};
        return {override_at, "override"};
    }
    if (k.ari.has_window()) return {ari_point(k, rng), "ari"};
    const int64_t nominal = life < kShortLifetime ? k.not_before + life / 2
                                                  : k.not_before + life / 3 * 2 + life % 3 * 2 / 3;
    const int64_t jitter = rng(0, life / kLifetimeJitterDivisor);
    return {nominal - jitter, "lifetime"};
}

std::string basis_of(const CertFacts& f, const RenewWindow& w) {
    std::string b = "v1";
    switch (w.kind) {
        case RenewWindow::Kind::none:
            break;
        case RenewWindow::Kind::before_expiry:
            b += " o=" + std::to_string(w.seconds) + "s";
            break;
        case RenewWindow::Kind::percent_left:
            b += " o=" + std::to_string(w.basis_points) + "bp";
            break;
    }
    for (const CertFacts::Key& k : f.keys) {
        b += " " + k.key_type + "=" + std::to_string(k.not_before) + "-" +
             std::to_string(k.not_after);
        if (k.ari.has_window())
            b += "/ari=" + std::to_string(k.ari.window_start) + "-" +
                 std::to_string(k.ari.window_end);
    }
    return b;
}

// Why an order is needed now; "" when the stored certificates are usable.
std::string order_reason(const CertFacts& f, int64_t now) {
    for (const CertFacts::Key& k : f.keys) {
        if (!k.present) return "no " + k.key_type + " certificate stored";
    }
    if (!f.matches_config) return "the stored certificate does not match the configuration";
    for (const CertFacts::Key& k : f.keys) {
        if (k.not_after <= k.not_before)
            return "the stored " + k.key_type + " certificate has an empty validity period";
        if (k.not_after <= now)
            return "the stored " + k.key_type + " certificate expired at " + time_text(k.not_after);
    }
    return "";
}

}  // namespace

RenewWindow parse_renew_window(std::string_view text) {
    RenewWindow w;
    if (text.empty()) return w;
    static const char* kExpected = "expected a duration like 30d or a percentage like 33%";
    if (text.back() == '%') {
        std::string_view num = text.substr(0, text.size() - 1);
        int64_t whole = 0;
        size_t i = 0;
        while (i < num.size() && num[i] >= '0' && num[i] <= '9' && i < 4) {
            whole = whole * 10 + (num[i] - '0');
            ++i;
        }
        if (i == 0) bad_window(text, kExpected);
        int64_t frac = 0;
        const bool decimals = i < num.size() && num[i] == '.';
        if (decimals) {
            ++i;
            size_t digits = 0;
            while (i < num.size() && num[i] >= '0' && num[i] <= '9' && digits < 2) {
                frac = frac * 10 + (num[i] - '0');
                ++i;
                ++digits;
            }
            if (digits == 0) bad_window(text, kExpected);
            if (digits == 1) frac *= 10;
        }
        if (i != num.size())
            bad_window(text, decimals ? std::string(kExpected) + " (at most two decimals)"
                                      : std::string(kExpected));
        const int64_t bp = whole * 100 + frac;
        if (bp <= 0 || bp >= 10000)
            bad_window(text, "a percentage must be above 0% and below 100%");
        w.kind = RenewWindow::Kind::percent_left;
        w.basis_points = static_cast<int>(bp);
        return w;
    }
    if (text.find_first_not_of("0123456789") == std::string_view::npos)
        bad_window(text, "a unit is needed: " + std::string(text) + "d (days before expiry) or " +
                             std::string(text) + "% (of the lifetime left)");
    int64_t secs;
    try {
        secs = parse_duration(text);
    } catch (const Error&) {
        bad_window(text, kExpected);
    }
    if (secs <= 0) bad_window(text, "the duration must be positive");
    if (secs > kRenewWindowMax)
        bad_window(text, "it is longer than any certificate lives (at most 398d, the longest "
                         "validity of a publicly trusted certificate)");
    w.kind = RenewWindow::Kind::before_expiry;
    w.seconds = secs;
    return w;
}

bool record_ari(AriInfo& ari, int64_t window_start, int64_t window_end, std::string explanation_url,
                int64_t retry_after, int64_t now) {
    if (window_end < window_start || window_end == 0) window_start = window_end = 0;
    const bool changed = window_start != ari.window_start || window_end != ari.window_end;
    ari.window_start = window_start;
    ari.window_end = window_end;
    ari.explanation_url = std::move(explanation_url);
    ari.fetched_at = now;
    ari.next_poll = clamp_poll(retry_after, now, kAriPollDefault);
    return changed;
}

void record_ari_failure(AriInfo& ari, int64_t retry_after, int64_t now) {
    ari.next_poll = clamp_poll(retry_after, now, kAriPollAfterFailure);
}

size_t current_ca(const ScheduleState& s, size_t n_cas) {
    return n_cas == 0 ? 0 : s.ca_index % n_cas;
}

int64_t backoff_delay(int fails, const Rng& rng) {
    int64_t d = kBackoffBase;
    for (int i = 1; i < fails && d < kBackoffCap; ++i) d *= 2;
    d = std::min(d, kBackoffCap);
    const int64_t spread = d * kBackoffJitterPercent / 100;
    return std::min(kBackoffCap, d + rng(-spread, spread));
}

Decision decide(const CertFacts& facts, ScheduleState& s, const Policy& policy, int64_t now,
                const Rng& rng) {
    if (facts.keys.empty()) fail_invalid("scheduler: a certificate needs at least one key type");

    // A configuration change lifts the wait of the last failure (not the CA's Retry-After).
    if ((s.fails > 0 || s.waiting_for_config) && s.failed_config_hash != policy.config_hash) {
        s.waiting_for_config = false;
        s.fails = 0;
        s.perm_fails = 0;
        s.next_attempt = 0;
        s.failed_config_hash = policy.config_hash;
    }

    Decision d;
    for (const CertFacts::Key& k : facts.keys) {
        if (!k.present || k.ari.cert_id.empty()) continue;
        const int64_t p = std::max(k.ari.next_poll, now);
        if (!d.ari_poll_at || p < d.ari_poll_at) d.ari_poll_at = p;
    }

    int64_t due;
    std::string why = order_reason(facts, now);
    if (!why.empty()) {
        s.renewal_at = 0;
        s.renewal_basis.clear();
        s.renewal_source = "order-pending";
        due = now;
    } else {
        std::string basis = basis_of(facts, policy.renew_window);
        if (s.renewal_at == 0 || s.renewal_basis != basis) {
            Point best{0, nullptr};
            for (const CertFacts::Key& k : facts.keys) {
                Point p = key_point(k, policy.renew_window, rng);
                if (!best.source || p.at < best.at) best = p;
            }
            s.renewal_at = best.at;
            s.renewal_basis = std::move(basis);
            s.renewal_source = best.source;
            if (policy.renew_window.kind == RenewWindow::Kind::before_expiry) {
                for (const CertFacts::Key& k : facts.keys) {
                    if (policy.renew_window.seconds < k.not_after - k.not_before) continue;
                    d.warning = "the renew window (" + duration_text(policy.renew_window.seconds) +
                                " before expiry) is not shorter than the " + k.key_type +
                                " certificate's lifetime (" +
                                duration_text(k.not_after - k.not_before) +
                                "); the default renewal point applies";
                    break;
                }
            }
        }
        due = s.renewal_at;
        why = "renewal point (" + s.renewal_source + ") " + time_text(s.renewal_at);
    }
    d.source = s.renewal_source;

    int64_t at = std::max(due, now);
    if (s.fails > 0 || s.waiting_for_config) {
        if (s.next_attempt > at) {
            at = s.next_attempt;
            why += s.waiting_for_config
                       ? "; waiting for a configuration change after a permanent error (retry at " +
                             time_text(at) + ")"
                       : "; retry " + std::to_string(s.fails + 1) + " at " + time_text(at);
        }
    }
    if (s.retry_not_before > at) {
        at = s.retry_not_before;
        why += "; the CA asked to retry after " + time_text(at);
    }
    d.action = at <= now ? Decision::Action::order : Decision::Action::wait;
    d.at = at;
    d.reason = std::move(why);
    s.next_at = at;
    return d;
}

bool record_failure(ScheduleState& s, const Error& error, int64_t now, size_t n_cas,
                    const std::string& config_hash, const Rng& rng, int64_t expires_at) {
    if (n_cas == 0) n_cas = 1;
    s.ca_index = current_ca(s, n_cas);
    s.fails += 1;
    s.ca_fails += 1;
    s.last_attempt = now;
    s.last_error_at = now;
    s.last_error = error.what();
    if (s.last_error.size() > kMaxErrorLength) s.last_error.resize(kMaxErrorLength);
    s.last_error_type =
        error.problem_type().empty() ? status_name(error.status()) : error.problem_type();
    s.failed_config_hash = config_hash;

    bool switch_ca = false;
    if (error.permanent()) {
        s.perm_fails += 1;
        if (n_cas > 1) switch_ca = true;
        s.waiting_for_config = n_cas == 1 || static_cast<size_t>(s.perm_fails) >= n_cas;
    } else {
        s.perm_fails = 0;
        s.waiting_for_config = false;
        if (n_cas > 1 && s.ca_fails >= kFailoverAfter) switch_ca = true;
    }

    if (s.waiting_for_config) {
        s.next_attempt = now + kPermanentRetry;
    } else {
        int64_t delay = backoff_delay(s.fails, rng);
        if (error.retry_after() <= now &&
            error.problem_type() == std::string(kProblemPrefix) + "rateLimited")
            delay = std::max(delay, kRateLimitedMinWait);
        s.next_attempt = now + delay;
    }

    if (switch_ca) {
        s.ca_index = (s.ca_index + 1) % n_cas;
        s.ca_fails = 0;
        s.retry_not_before = 0;  // the old CA's Retry-After does not bind the next one
    } else if (error.retry_after() > now) {
        // Honour the CA's word, up to a bound: a Retry-After of years (a bug, or a party on the
        // path) must not park a certificate past its expiry.
        s.retry_not_before =
            std::max(s.retry_not_before, std::min(error.retry_after(), now + kRetryAfterMax));
    }
    if (s.retry_not_before > s.next_attempt) s.next_attempt = s.retry_not_before;

    bool shortened = false;
    if (expires_at > now) {
        const int64_t limit = now + std::max(kBackoffBase, (expires_at - now) / 2);
        if (s.retry_not_before > limit) {
            shortened = error.retry_after() > limit;
            s.retry_not_before = limit;
        }
        s.next_attempt = std::min(s.next_attempt, limit);
    }
    s.next_at = s.next_attempt;
    return shortened;
}

void record_success(ScheduleState& s, int64_t now) {
    s.fails = 0;
    s.ca_fails = 0;
    s.perm_fails = 0;
    s.next_attempt = 0;
    s.retry_not_before = 0;
    s.waiting_for_config = false;
    s.failed_config_hash.clear();
    s.last_error.clear();
    s.last_error_type.clear();
    s.last_error_at = 0;
    s.last_attempt = now;
    s.last_success = now;
    s.renewal_at = 0;
    s.renewal_basis.clear();
    s.renewal_source.clear();
    s.next_at = 0;
}

}  // namespace acme::engine
