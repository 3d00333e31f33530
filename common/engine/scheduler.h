// Renewal policy: when to order or renew a certificate, how to back off after failures, when to
// fail over to the next CA, when to poll ARI (RFC 9773). Pure logic: no I/O, no clock, no
// OpenSSL, no global state. Every time is Unix seconds; every function takes `now`.
//
// Contract:
//  1. Thread-safety: the functions are reentrant; a ScheduleState / AriInfo is a plain value that
//     the caller (the driver thread) owns and persists (cert_meta.h puts both in meta.json).
//  2. Randomness comes only from the Rng argument, so tests are deterministic. Production passes
//     crypto::random_between. An Rng must return a uniform value in [lo, hi] (inclusive); it is
//     only ever called with lo <= hi.
//  3. Random choices are made once and persisted in the state: decide() re-picks the renewal point
//     only when what it was picked for changes (the stored certificates' validity, the ARI window,
//     the override). A restart therefore never re-rolls a point.
//  4. Only parse_renew_window() and decide() (given no key types) throw: Error(invalid).
//
// How the driver uses it, per certificate:
//    Decision d = decide(cert_facts(meta, key_types, matches), meta.schedule, policy, now, rng);
//    persist meta (decide may have picked a point);
//    if (d.action == Decision::Action::order) { order the certificate at the CA of
//        current_ca(meta.schedule, n_cas); then record_success() or record_failure(); persist }
//    if (d.ari_poll_at && d.ari_poll_at <= now) { fetch renewalInfo for each key type with an
//        ARI cert id; record_ari() / record_ari_failure(); persist; decide() again }
//    sleep until the earliest d.wake_at() over all certificates.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace acme {
class Error;
}

namespace acme::engine {

// Uniform random integer in [lo, hi], inclusive (production: crypto::random_between).
using Rng = std::function<int64_t(int64_t lo, int64_t hi)>;

// ---- policy constants ---------------------------------------------------------------------------

constexpr int64_t kDay = 86400;
// Transient failures: 60 s, 120 s, 240 s ... (+-20 % jitter), never more than 24 h.
constexpr int64_t kBackoffBase = 60;
constexpr int64_t kBackoffCap = kDay;
constexpr int kBackoffJitterPercent = 20;
// The longest renew window accepted: the longest validity of a publicly trusted certificate.
constexpr int64_t kRenewWindowMax = 398 * kDay;
// The longest Retry-After honoured (a larger value is cut to this).
constexpr int64_t kRetryAfterMax = 7 * kDay;
// rateLimited without a Retry-After waits at least this long.
constexpr int64_t kRateLimitedMinWait = 3600;
// Permanent failures wait for a configuration change, with a safety retry after this long.
constexpr int64_t kPermanentRetry = kDay;
// Consecutive (transient) failures at one CA before moving on to the next one.
constexpr int kFailoverAfter = 3;
// ARI polling: the CA's Retry-After, clamped to [min, max]; default when absent; after a failed
// poll the default is kAriPollAfterFailure.
constexpr int64_t kAriPollMin = 3600;
constexpr int64_t kAriPollMax = kDay;
constexpr int64_t kAriPollDefault = 6 * 3600;
constexpr int64_t kAriPollAfterFailure = 3600;
// Lifetime rule: renew at 2/3 of the lifetime, at 1/2 below this lifetime, minus a jitter of up
// to 1/20 of the lifetime (so never later than the nominal point).
constexpr int64_t kShortLifetime = 10 * kDay;
constexpr int kLifetimeJitterDivisor = 20;

// ---- renew window override ------------------------------------------------------------------

// Configuration override of the renewal point (acme_renew_window / ACMERenewWindow).
struct RenewWindow {
    enum class Kind {
        none,           // no override: ARI window, else the lifetime rule
        before_expiry,  // renew `seconds` before not_after ("30d")
        percent_left,   // renew when `basis_points` / 100 % of the lifetime is left ("33%")
    };
    Kind kind = Kind::none;
    int64_t seconds = 0;   // before_expiry: > 0
    int basis_points = 0;  // percent_left: 1..9999 (33% = 3300, 12.5% = 1250)

    bool operator==(const RenewWindow& o) const {
        return kind == o.kind && seconds == o.seconds && basis_points == o.basis_points;
    }
};

// Parses an override: "" -> Kind::none; a duration with a unit ("30d", "12h", "2w", "90m",
// "3600s"; see util/clock.h parse_duration) -> before_expiry; a percentage with at most two
// decimals strictly between 0 and 100 ("33%", "12.5%") -> percent_left. A bare number is refused
// (ambiguous). Throws Error(invalid, permanent) with a message like "renew window '40x' is
// invalid: expected a duration like 30d or a percentage like 33%".
RenewWindow parse_renew_window(std::string_view text);

// ---- ARI --------------------------------------------------------------------------------------

// What the CA said about one certificate through renewalInfo (RFC 9773). Persisted per key type.
struct AriInfo {
    std::string cert_id;       // RFC 9773 certificate identifier; "" = cannot poll
    int64_t window_start = 0;  // suggestedWindow; both 0 = no window known
    int64_t window_end = 0;
    std::string explanation_url;  // "" when none
    int64_t fetched_at = 0;       // last successful poll; 0 = never
    int64_t next_poll = 0;        // when to poll again; 0 = as soon as possible

    bool has_window() const { return window_end != 0 && window_start <= window_end; }
};

// Records a successful renewalInfo answer. `retry_after` is the absolute time from the answer's
// Retry-After header (0 = absent). next_poll = now + clamp(retry_after - now, 1 h, 24 h), or now
// + 6 h without Retry-After. A window with end < start counts as no window (RFC 9773 4.2).
// Returns true when the stored window changed (the next decide() then re-picks the point).
bool record_ari(AriInfo& ari, int64_t window_start, int64_t window_end, std::string explanation_url,
                int64_t retry_after, int64_t now);
// Records a failed renewalInfo poll: the stored window (if any) stays in force; next_poll = now +
// clamp(retry_after - now, 1 h, 24 h), or now + 1 h without Retry-After.
void record_ari_failure(AriInfo& ari, int64_t retry_after, int64_t now);

// ---- schedule state -------------------------------------------------------------------------

// Persisted scheduling state of one certificate (all its key types together). A
// default-constructed state means "never scheduled, never failed".
struct ScheduleState {
    // Failures since the last success.
    int fails = 0;             // consecutive failures (any kind); drives the backoff
    int ca_fails = 0;          // consecutive transient failures at the current CA
    int perm_fails = 0;        // consecutive permanent failures (any CA)
    size_t ca_index = 0;       // index of the current CA in the configured list (see current_ca())
    int64_t next_attempt = 0;  // no order before this time (backoff); 0 = no gate
    int64_t retry_not_before = 0;     // the current CA's Retry-After; 0 = none
    bool waiting_for_config = false;  // permanent failure: wait for another configuration hash
    std::string failed_config_hash;   // configuration hash at the time of the last failure
    std::string last_error;           // message of the last failure; "" after a success
    std::string last_error_type;      // ACME problem type, else the Status name ("network")
    int64_t last_error_at = 0;
    int64_t last_attempt = 0;  // last order attempt that ended (success or failure)
    int64_t last_success = 0;

    // The chosen renewal point (written by decide()).
    int64_t renewal_at = 0;      // 0 = none (nothing stored yet, or an order is pending)
    std::string renewal_basis;   // opaque: what renewal_at was picked for
    std::string renewal_source;  // "ari", "lifetime", "override", "order-pending"; "" = never
    int64_t next_at = 0;         // the last decision's time (renewal point or retry gate)
};

// The CA to use: ca_index modulo the number of configured CAs (the list may have shrunk).
size_t current_ca(const ScheduleState& s, size_t n_cas);

// ---- decision -----------------------------------------------------------------------------

// What the scheduler needs to know about the stored certificates, one entry per configured key
// type, in configuration order (cert_meta.h cert_facts() builds it from meta.json).
struct CertFacts {
    struct Key {
        std::string key_type;  // "ecdsa-p256", ...
        bool present = false;  // a certificate of this key type is stored
        int64_t not_before = 0;
        int64_t not_after = 0;
        AriInfo ari;  // of the stored certificate
    };
    std::vector<Key> keys;
    // The stored certificates cover exactly the configured names and come from a configured CA:
    // computed by the caller. false = order now. (A changed profile or preferred chain applies
    // from the next renewal on.)
    bool matches_config = true;
};

struct Policy {
    RenewWindow renew_window;  // parse_renew_window(config.renew_window)
    std::string config_hash;   // CertConfig::hash() of the current configuration
};

struct Decision {
    enum class Action { order, wait };
    Action action = Action::wait;
    // order: == now. wait: when to decide again (the renewal point, or the end of a backoff).
    int64_t at = 0;
    // Earliest time any key type's ARI should be polled (max(next_poll, now)); 0 = no stored
    // certificate has an ARI cert id. The caller polls only if the CA offers renewalInfo.
    int64_t ari_poll_at = 0;
    std::string source;  // "ari", "lifetime", "override", "order-pending"
    std::string reason;  // for the log: "no ecdsa-p256 certificate stored", "renewal point ..."
    // Set when the renewal point was picked now and the configured override could not apply
    // (a window not shorter than the lifetime): the caller logs it, once per picked point.
    std::string warning;

    int64_t wake_at() const { return ari_poll_at && ari_poll_at < at ? ari_poll_at : at; }
};

// Decides what to do for one certificate at `now`, updating `s` (renewal point, next_at, and the
// release of a failure's wait when policy.config_hash differs from the hash at the failure).
//
// Order now (source "order-pending") when some key type has no stored certificate, when
// !facts.matches_config, or when a stored certificate is expired (or has not_after <=
// not_before). Otherwise the renewal point is the earliest over the key types of:
//   - override before_expiry / percent_left: not_after - 30d / not_after - 33% of the lifetime;
//     but when an ARI window ends before that point, a random point in the window (source
//     "ari"); a before_expiry override not shorter than the lifetime is ignored;
//   - else an ARI window: a random point in [start, end], never later than not_after - 1/10 of
//     the lifetime;
//   - else not_before + 2/3 of the lifetime (1/2 under 10 days) minus a random jitter in
//     [0, lifetime/20].
// The point is picked once and kept until the certificates, the windows or the override change.
// A point in the past means now. After failures, the order also waits for s.next_attempt and
// s.retry_not_before (a permanent failure: until the configuration hash changes, or the 24 h
// safety retry). Throws Error(invalid) when facts.keys is empty.
Decision decide(const CertFacts& facts, ScheduleState& s, const Policy& policy, int64_t now,
                const Rng& rng);

// Records a failed order attempt (error fields only; the message is kept for the status).
//  - transient: next_attempt = now + backoff_delay(fails); rateLimited without a Retry-After
//    waits at least 1 h;
//  - Retry-After (error.retry_after()): never before it (while at the same CA), up to 7 days;
//  - permanent: with one CA, or once every CA refused in a row, wait for a configuration change
//    (safety retry after 24 h); with several CAs a permanent refusal moves on to the next CA at
//    once and retries there after the transient backoff;
//  - failover: after 3 consecutive transient failures at one CA, move to the next (wrapping) and
//    forget the old CA's Retry-After;
//  - never past the certificate in service: when `expires_at` (the earliest not_after of the
//    stored certificates; 0 = none stored) is still ahead, every wait (backoff, Retry-After,
//    rateLimited, the permanent safety retry) ends by now + max(60 s, half the time left), so a
//    CA's long Retry-After on a short-lived certificate still leaves retries before it expires.
// n_cas is the number of configured CAs (0 is treated as 1); config_hash the current one.
// s.next_at becomes the next attempt. Returns true when the CA's Retry-After was shortened to
// stay before expiry (the caller logs it).
bool record_failure(ScheduleState& s, const Error& error, int64_t now, size_t n_cas,
                    const std::string& config_hash, const Rng& rng, int64_t expires_at = 0);

// Records a successful order: failures and the last error are cleared, the CA stays, the renewal
// point is forgotten (the next decide() picks one for the new certificate).
void record_success(ScheduleState& s, int64_t now);

// Backoff after `fails` (>= 1) consecutive failures: min(60 s * 2^(fails-1), 24 h), jittered by
// +-20 %, then capped at 24 h again. In [48 s, 72 s] for the first failure.
int64_t backoff_delay(int fails, const Rng& rng);

}  // namespace acme::engine
