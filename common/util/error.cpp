#include "util/error.h"

#include <cstring>

namespace acme {

const char* status_name(Status s) noexcept {
    switch (s) {
        case Status::ok: return "ok";
        case Status::invalid: return "invalid";
        case Status::not_found: return "not-found";
        case Status::io: return "io";
        case Status::crypto: return "crypto";
        case Status::network: return "network";
        case Status::protocol: return "protocol";
        case Status::ca: return "ca";
        case Status::busy: return "busy";
        case Status::verify: return "verify";
        case Status::internal: return "internal";
    }
    return "unknown";
}

void fail(Status status, const std::string& message) { throw Error(status, message); }

void fail_invalid(const std::string& message) { throw Error(Status::invalid, message, true); }

void fail_io(const std::string& what, int errnum) {
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char* text = strerror_r(errnum, buf, sizeof buf);
    throw Error(Status::io, what + ": " + text);
}

}  // namespace acme
