// RFC 3339 timestamps, Retry-After and configuration durations.
#include "util/clock.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "util/error.h"

namespace acme {
namespace {

void expect_invalid_naming(const std::function<void()>& f, const std::string& value) {
    try {
        f();
        FAIL() << "expected Error(invalid) for '" << value << "'";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), Status::invalid) << e.what();
        EXPECT_NE(std::string(e.what()).find("'" + value + "'"), std::string::npos)
            << "message '" << e.what() << "' does not name '" << value << "'";
    }
}

TEST(Rfc3339, ParsesUtcTimestamps) {
    EXPECT_EQ(parse_rfc3339("1970-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_rfc3339("2025-01-02T03:04:05Z"), 1735787045);
    EXPECT_EQ(parse_rfc3339("1994-11-06T08:49:37Z"), 784111777);
    EXPECT_EQ(parse_rfc3339("1969-12-31T23:59:59Z"), -1);
    // RFC 3339 allows lowercase "t" and "z".
    EXPECT_EQ(parse_rfc3339("2025-01-02t03:04:05z"), 1735787045);
}

TEST(Rfc3339, FractionalSecondsAreTruncated) {
    EXPECT_EQ(parse_rfc3339("2025-01-02T03:04:05.999999999Z"), 1735787045);
    EXPECT_EQ(parse_rfc3339("2025-01-02T03:04:05.1Z"), 1735787045);
}

TEST(Rfc3339, NumericOffsets) {
    EXPECT_EQ(parse_rfc3339("2025-01-02T05:04:05+02:00"), 1735787045);
    EXPECT_EQ(parse_rfc3339("2025-01-01T21:34:05-05:30"), 1735787045);
    EXPECT_EQ(parse_rfc3339("2025-01-02T03:04:05+00:00"), 1735787045);
    EXPECT_EQ(parse_rfc3339("2025-01-02T03:04:05-00:00"), 1735787045);
}

TEST(Rfc3339, LeapYears) {
    EXPECT_EQ(parse_rfc3339("2024-02-29T23:59:59Z"), 1709251199);
    EXPECT_EQ(parse_rfc3339("2000-02-29T00:00:00Z"), 951782400);
    expect_invalid_naming([] { parse_rfc3339("2023-02-29T00:00:00Z"); }, "2023-02-29T00:00:00Z");
    expect_invalid_naming([] { parse_rfc3339("2100-02-29T00:00:00Z"); }, "2100-02-29T00:00:00Z");
    expect_invalid_naming([] { parse_rfc3339("2025-04-31T00:00:00Z"); }, "2025-04-31T00:00:00Z");
}

TEST(Rfc3339, MalformedInputThrowsInvalidNamingTheValue) {
    for (const char* bad : {
             "",
             "2025",
             "2025-01-02",
             "2025-01-02T03:04:05",        // no zone
             "2025-01-02T03:04Z",          // no seconds
             "2025-1-02T03:04:05Z",        // short month
             "2025-13-01T00:00:00Z",       // month 13
             "2025-00-01T00:00:00Z",       // month 0
             "2025-01-00T00:00:00Z",       // day 0
             "2025-01-32T00:00:00Z",       // day 32
             "2025-01-02T24:00:00Z",       // hour 24
             "2025-01-02T03:60:00Z",       // minute 60
             "2025-01-02T03:04:61Z",       // second 61
             "2025-01-02T03:04:05.Z",      // empty fraction
             "2025-01-02T03:04:05+2:00",   // short offset
             "2025-01-02T03:04:05+24:00",  // offset hour out of range
             "2025-01-02T03:04:05+02:60",  // offset minute out of range
             "2025-01-02T03:04:05+0200",   // offset without colon
             "2025-01-02T03:04:05ZZ",      // trailing junk
             "2025-01-02T03:04:05Z ",      // trailing space
             " 2025-01-02T03:04:05Z",      // leading space
             "2025-01-02 03:04:05Z",       // space separator
             "2025/01/02T03:04:05Z",       // wrong separators
             "abcd-ef-ghTij:kl:mnZ",
             "Sun, 06 Nov 1994 08:49:37 GMT",
         }) {
        expect_invalid_naming([&] { parse_rfc3339(bad); }, bad);
    }
}

TEST(Rfc3339, Format) {
    EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(format_rfc3339(1735787045), "2025-01-02T03:04:05Z");
    EXPECT_EQ(format_rfc3339(1709251199), "2024-02-29T23:59:59Z");
    EXPECT_EQ(format_rfc3339(-1), "1969-12-31T23:59:59Z");
    EXPECT_EQ(format_rfc3339(253402300799), "9999-12-31T23:59:59Z");
    // Years below 1000 keep four digits (found by fuzz_meta: strftime's %Y does not pad), so
    // what was read back is written in a form that reads again.
    const int64_t y498 = parse_rfc3339("0498-11-23T12:40:12Z");
    EXPECT_EQ(format_rfc3339(y498), "0498-11-23T12:40:12Z");
    EXPECT_EQ(format_rfc3339(parse_rfc3339("0000-01-01T00:00:00Z")), "0000-01-01T00:00:00Z");
}

TEST(Rfc3339, RoundTrip) {
    // Every ~37 hours over 1960..2100, plus day boundaries.
    for (int64_t t = -315619200; t < 4102444800; t += 133337) {
        ASSERT_EQ(parse_rfc3339(format_rfc3339(t)), t) << format_rfc3339(t);
    }
    for (int64_t day = 0; day < 366 * 5; ++day) {
        int64_t t = 1577836800 + day * 86400;  // 2020-01-01 and the following five years
        ASSERT_EQ(parse_rfc3339(format_rfc3339(t)), t);
        ASSERT_EQ(parse_rfc3339(format_rfc3339(t - 1)), t - 1);
    }
}

TEST(RetryAfter, DelaySeconds) {
    EXPECT_EQ(parse_retry_after("120", 1000), 1120);
    EXPECT_EQ(parse_retry_after("0", 1000), 1000);
    EXPECT_EQ(parse_retry_after("  5 ", 1000), 1005);
    EXPECT_EQ(parse_retry_after("86400", 1735787045), 1735787045 + 86400);
}

TEST(RetryAfter, HttpDate) {
    EXPECT_EQ(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 0), 784111777);
    EXPECT_EQ(parse_retry_after("Thu, 02 Jan 2025 03:04:05 GMT", 5), 1735787045);
    EXPECT_EQ(parse_retry_after("Thu, 29 Feb 2024 23:59:59 GMT", 5), 1709251199);
}

TEST(RetryAfter, AbsentOrMalformedGivesZero) {
    for (const char* bad : {
             "",
             "   ",
             "-5",
             "1.5",
             "+5",
             "5s",
             "12345678901",                      // absurdly long delay
             "Sun, 06 Nov 1994 08:49:37 UTC",    // not GMT
             "Sun, 06 Nov 1994 08:49:37",        // no zone
             "Sun, 32 Nov 1994 08:49:37 GMT",    // day 32
             "Sun, 31 Nov 1994 08:49:37 GMT",    // November has 30 days
             "Sun, 00 Nov 1994 08:49:37 GMT",    // day 0
             "Sun, 06 Foo 1994 08:49:37 GMT",    // month
             "Sun, 06 nov 1994 08:49:37 GMT",    // month names are case-sensitive
             "Sun, 06 Nov 1994 24:00:00 GMT",    // hour
             "Sun, 06 Nov 1994 08:60:00 GMT",    // minute
             "Sun, 06 Nov 1994 08:49:61 GMT",    // second
             "Sun,06 Nov 1994 08:49:37 GMT ",    // shifted
             "Sun, 6 Nov 1994 08:49:37 GMT",     // one-digit day
             "Sun, 06 Nov 94 08:49:37 GMT",      // two-digit year
             "Sunday, 06-Nov-94 08:49:37 GMT",   // obsolete RFC 850 form
             "Sun Nov  6 08:49:37 1994",         // obsolete asctime form
             "2025-01-02T03:04:05Z",             // RFC 3339 is not an HTTP date
             "Sun, 06 Nov 1994 08:49:37 GMT\n",  // control character
         }) {
        EXPECT_EQ(parse_retry_after(bad, 1000), 0) << "'" << bad << "'";
    }
}

TEST(Duration, Units) {
    EXPECT_EQ(parse_duration("90"), 90);
    EXPECT_EQ(parse_duration("0"), 0);
    EXPECT_EQ(parse_duration("30s"), 30);
    EXPECT_EQ(parse_duration("15m"), 900);
    EXPECT_EQ(parse_duration("12h"), 43200);
    EXPECT_EQ(parse_duration("30d"), 2592000);
    EXPECT_EQ(parse_duration("2w"), 1209600);
    EXPECT_EQ(parse_duration("007m"), 420);
}

TEST(Duration, MalformedThrowsInvalidNamingTheValue) {
    for (const char* bad : {"", "-5", "-5d", "5x", "1.5h", " 5", "5 ", "h", "d30", "5dd", "5D",
                            "5 d", "30days", "+5", "99999999999999999999d"}) {
        expect_invalid_naming([&] { parse_duration(bad); }, bad);
    }
}

TEST(Duration, LargeButValidValuesDoNotOverflow) {
    // Up to 2^40 units (plus one digit) is accepted; the product stays far below 2^63.
    int64_t v = parse_duration("1000000000000w");
    EXPECT_EQ(v, int64_t{1000000000000} * 7 * 86400);
    EXPECT_GT(v, 0);
}

}  // namespace
}  // namespace acme
