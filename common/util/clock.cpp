#include "util/clock.h"

#include <cctype>
#include <chrono>
#include <cstring>
#include <ctime>
#include <thread>

#include "util/error.h"

namespace acme {
namespace {

class SystemClock : public Clock {
public:
    int64_t now_ms() const override {
        using namespace std::chrono;
        return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    }
    void sleep_ms(int64_t ms) const override {
        if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    }
};

// Reads exactly `n` digits at s[pos], advancing pos; -1 when not digits.
int digits(std::string_view s, size_t& pos, size_t n) {
    if (pos + n > s.size()) return -1;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
        char c = s[pos + i];
        if (c < '0' || c > '9') return -1;
        v = v * 10 + (c - '0');
    }
    pos += n;
    return v;
}

bool expect(std::string_view s, size_t& pos, char c) {
    if (pos < s.size() && (s[pos] == c || std::tolower(static_cast<unsigned char>(s[pos])) ==
                                             std::tolower(static_cast<unsigned char>(c)))) {
        ++pos;
        return true;
    }
    return false;
}

int days_in_month(int y, int m) {
    static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) return 29;
    return kDays[m - 1];
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    // Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Clock& system_clock() {
    static SystemClock c;
    return c;
}

int64_t parse_rfc3339(std::string_view s) {
    size_t p = 0;
    int Y = digits(s, p, 4);
    bool ok = Y >= 0 && expect(s, p, '-');
    int M = ok ? digits(s, p, 2) : -1;
    ok = ok && M >= 1 && M <= 12 && expect(s, p, '-');
    int D = ok ? digits(s, p, 2) : -1;
    ok = ok && D >= 1 && D <= days_in_month(Y, M) && expect(s, p, 'T');
    int h = ok ? digits(s, p, 2) : -1;
    ok = ok && h >= 0 && h <= 23 && expect(s, p, ':');
    int m = ok ? digits(s, p, 2) : -1;
    ok = ok && m >= 0 && m <= 59 && expect(s, p, ':');
    int sec = ok ? digits(s, p, 2) : -1;
    ok = ok && sec >= 0 && sec <= 60;
    if (ok && p < s.size() && s[p] == '.') {
        ++p;
        size_t start = p;
        while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) ++p;
        ok = p > start;
    }
    int64_t offset = 0;
    if (ok) {
        if (expect(s, p, 'Z')) {
        } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
            int sign = s[p] == '-' ? -1 : 1;
            ++p;
            int oh = digits(s, p, 2);
            ok = oh >= 0 && expect(s, p, ':');
            int om = ok ? digits(s, p, 2) : -1;
            ok = ok && oh <= 23 && om >= 0 && om <= 59;
            offset = sign * (oh * 3600 + om * 60);
        } else {
            ok = false;
        }
    }
    if (!ok || p != s.size()) fail_invalid("malformed RFC 3339 timestamp '" + std::string(s) + "'");
    int64_t days = days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D));
    return days * 86400 + h * 3600 + m * 60 + sec - offset;
}

std::string format_rfc3339(int64_t t) {
    time_t tt = static_cast<time_t>(t);
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) fail_invalid("timestamp " + std::to_string(t) + " is out of range");
    // RFC 3339 years have exactly four digits (strftime's %Y does not pad years below 1000).
    const long year = tm.tm_year + 1900L;
    if (year < 0 || year > 9999)
        fail_invalid("timestamp " + std::to_string(t) + " is out of range");
    char buf[32];
    snprintf(buf, sizeof buf, "%04ld-%02d-%02dT%02d:%02d:%02dZ", year, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

int64_t parse_retry_after(std::string_view v, int64_t now) noexcept {
    while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
    while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
    if (v.empty()) return 0;
    bool all_digits = true;
    for (char c : v) all_digits = all_digits && c >= '0' && c <= '9';
    if (all_digits) {
        if (v.size() > 10) return 0;
        int64_t secs = 0;
        for (char c : v) secs = secs * 10 + (c - '0');
        return now + secs;
    }
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (v.size() != 29 || v.substr(3, 2) != ", " || v.substr(25) != " GMT") return 0;
    size_t p = 5;
    int D = digits(v, p, 2);
    if (D < 1 || v[p++] != ' ') return 0;
    int M = 0;
    for (int i = 0; i < 12; ++i) {
        if (v.substr(p, 3) == kMonths[i]) M = i + 1;
    }
    if (!M) return 0;
    p += 3;
    if (v[p++] != ' ') return 0;
    int Y = digits(v, p, 4);
    if (Y < 0 || D > days_in_month(Y, M) || v[p++] != ' ') return 0;
    int h = digits(v, p, 2);
    if (h < 0 || v[p++] != ':') return 0;
    int m = digits(v, p, 2);
    if (m < 0 || v[p++] != ':') return 0;
    int s = digits(v, p, 2);
    if (s < 0 || h > 23 || m > 59 || s > 60) return 0;
    return days_from_civil(Y, static_cast<unsigned>(M), static_cast<unsigned>(D)) * 86400 +
           h * 3600 + m * 60 + s;
}

int64_t parse_duration(std::string_view text) {
    std::string_view t = text;
    int64_t value = 0;
    size_t i = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
        if (value > (int64_t{1} << 40)) fail_invalid("duration '" + std::string(text) + "' is too large");
        value = value * 10 + (t[i] - '0');
        ++i;
    }
    if (i == 0) fail_invalid("invalid duration '" + std::string(text) + "' (expected e.g. 30d, 12h, 90m)");
    std::string_view unit = t.substr(i);
    int64_t mult;
    if (unit.empty() || unit == "s") mult = 1;
    else if (unit == "m") mult = 60;
    else if (unit == "h") mult = 3600;
    else if (unit == "d") mult = 86400;
    else if (unit == "w") mult = 7 * 86400;
    else fail_invalid("invalid duration '" + std::string(text) + "' (units: s, m, h, d, w)");
    return value * mult;
}

}  // namespace acme
