// Logging: the core never prints. Messages go to one process-wide callback that the glue sets
// (nginx: ngx_log_error, httpd: ap_log_error, acmectl: stderr). Without a callback they are dropped.
//
// Contract:
//  - log() may be called from any thread, including the driver thread; the callback must cope.
//  - Messages carry their context as a prefix: "acme: example.org: order ...". Callers never put
//    private keys, EAB HMAC keys or key authorizations' account part in a message.
//  - Formatting cost is only paid when the level is enabled.
#pragma once

#include <cstdarg>
#include <string>

namespace acme {

// Mirrors acme_log_level in include/acme/acme.h (same values).
enum class LogLevel : int { error = 0, warn = 1, notice = 2, info = 3, debug = 4 };

using LogFn = void (*)(void* baton, int level, const char* message);

void log_set(LogFn fn, void* baton, LogLevel max_level) noexcept;
bool log_enabled(LogLevel level) noexcept;
void log(LogLevel level, const char* fmt, ...) noexcept __attribute__((format(printf, 2, 3)));

#define ACME_LOG_ERROR(...) ::acme::log(::acme::LogLevel::error, __VA_ARGS__)
#define ACME_LOG_WARN(...) ::acme::log(::acme::LogLevel::warn, __VA_ARGS__)
#define ACME_LOG_NOTICE(...) ::acme::log(::acme::LogLevel::notice, __VA_ARGS__)
#define ACME_LOG_INFO(...) ::acme::log(::acme::LogLevel::info, __VA_ARGS__)
#define ACME_LOG_DEBUG(...)                                                        \
    do {                                                                           \
        if (::acme::log_enabled(::acme::LogLevel::debug))                          \
            ::acme::log(::acme::LogLevel::debug, __VA_ARGS__);                     \
    } while (0)

}  // namespace acme
