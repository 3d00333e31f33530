// Time. Everything that decides "when" takes a Clock so tests can move time.
//
// Contract: now() and now_ms() are thread-safe and monotonic enough for scheduling (wall clock,
// Unix epoch). sleep_until_or_stop() is the only blocking wait the engine uses; a fake clock may
// advance time instead of sleeping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace acme {

class Clock {
public:
    virtual ~Clock() = default;
    virtual int64_t now_ms() const = 0;  // Unix epoch, milliseconds
    int64_t now() const { return now_ms() / 1000; }
    // Sleeps for `ms` (or less if the clock implementation decides). Thread-safe.
    virtual void sleep_ms(int64_t ms) const = 0;
};

// The real wall clock.
Clock& system_clock();

// RFC 3339 timestamps as ACME uses them ("2025-01-02T03:04:05Z", fractional seconds and
// numeric offsets accepted). Throws Error(invalid) on malformed input.
int64_t parse_rfc3339(std::string_view text);
std::string format_rfc3339(int64_t unix_seconds);  // always UTC with "Z"

// HTTP Retry-After (RFC 9110 section 10.2.3): delay-seconds or an IMF-fixdate. Returns the absolute
// Unix time, or 0 when the header is absent or unparseable. Never throws.
int64_t parse_retry_after(std::string_view value, int64_t now) noexcept;

// Durations in configuration: "90" (seconds), "30s", "15m", "12h", "30d", "2w". Throws
// Error(invalid) naming the value when malformed or negative.
int64_t parse_duration(std::string_view text);

}  // namespace acme
