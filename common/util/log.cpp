#include "util/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

namespace acme {
namespace {

struct Sink {
    std::mutex mu;  // guards fn/baton against a concurrent log_set
    LogFn fn = nullptr;
    void* baton = nullptr;
};

Sink& sink() {
    static Sink s;
    return s;
}

std::atomic<int> g_max_level{-1};  // -1: no callback, nothing is enabled

}  // namespace

void log_set(LogFn fn, void* baton, LogLevel max_level) noexcept {
    Sink& s = sink();
    std::lock_guard<std::mutex> lock(s.mu);
    s.fn = fn;
    s.baton = baton;
    g_max_level.store(fn ? static_cast<int>(max_level) : -1, std::memory_order_release);
}

bool log_enabled(LogLevel level) noexcept {
    return static_cast<int>(level) <= g_max_level.load(std::memory_order_acquire);
}

void log(LogLevel level, const char* fmt, ...) noexcept {
    if (!log_enabled(level)) return;
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (static_cast<size_t>(n) >= sizeof buf) {
        // Mark truncation visibly rather than silently.
        buf[sizeof buf - 4] = '.';
        buf[sizeof buf - 3] = '.';
        buf[sizeof buf - 2] = '.';
    }
    Sink& s = sink();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.fn) s.fn(s.baton, static_cast<int>(level), buf);
}

}  // namespace acme
