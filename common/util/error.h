// Errors inside the core.
//
// Contract:
//  1. Core code reports failure by throwing acme::Error (never anything else on purpose; the C ABI
//     guard maps any other exception to Status::internal).
//  2. An Error carries what a scheduler needs, as fields: a Status class, the ACME problem type and
//     subproblems when the CA sent a problem document, whether retrying without a configuration
//     change can help (`permanent`), and the earliest retry time the CA asked for (`retry_after`).
//     Nobody parses `message()`.
//  3. Messages name the thing that failed and carry context ("store: write certs/a.pem: ...").
//     They never contain private key material.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace acme {

// Mirrors acme_status in include/acme/acme.h (same values).
enum class Status : int {
    ok = 0,
    invalid = 1,     // bad argument, bad configuration, malformed input
    not_found = 2,   // a looked-up thing does not exist
    io = 3,          // filesystem / store
    crypto = 4,      // OpenSSL failure
    network = 5,     // DNS, connect, TLS, timeout, truncated response
    protocol = 6,    // the CA answered something we cannot use
    ca = 7,          // the CA refused with a problem document
    busy = 8,        // a lock is held elsewhere
    verify = 9,      // an issued certificate failed verification
    internal = 10,   // bug
};

const char* status_name(Status s) noexcept;

struct Subproblem {
    std::string type;
    std::string detail;
    std::string identifier;  // "dns:example.org" / "ip:192.0.2.1", empty when absent
};

class Error : public std::runtime_error {
public:
    explicit Error(Status status, const std::string& message, bool permanent = false)
        : std::runtime_error(message), status_(status), permanent_(permanent) {}

    Status status() const noexcept { return status_; }
    bool permanent() const noexcept { return permanent_; }
    // Unix time (seconds) before which the CA asked us not to retry; 0 when it did not say.
    int64_t retry_after() const noexcept { return retry_after_; }
    // Full problem type URN ("urn:ietf:params:acme:error:rateLimited"); empty when none.
    const std::string& problem_type() const noexcept { return problem_type_; }
    const std::vector<Subproblem>& subproblems() const noexcept { return subproblems_; }
    int http_status() const noexcept { return http_status_; }
    // The configuration setting a validation error is about: the name of the acme_cert_config /
    // acme_account_config member ("renew_window", "ca_urls", "eab_hmac_key", ...); empty when the
    // error is about no single setting. Servers map it to their directive and its file:line.
    const std::string& field() const noexcept { return field_; }

    Error& set_permanent(bool p) {
        permanent_ = p;
        return *this;
    }
    Error& set_retry_after(int64_t t) {
        retry_after_ = t;
        return *this;
    }
    Error& set_problem(std::string type, std::vector<Subproblem> subs = {}) {
        problem_type_ = std::move(type);
        subproblems_ = std::move(subs);
        return *this;
    }
    Error& set_http_status(int s) {
        http_status_ = s;
        return *this;
    }
    Error& set_field(std::string f) {
        field_ = std::move(f);
        return *this;
    }

private:
    Status status_;
    bool permanent_;
    int64_t retry_after_ = 0;
    std::string problem_type_;
    std::vector<Subproblem> subproblems_;
    int http_status_ = 0;
    std::string field_;
};

// Shorthands: throw acme::Error(status, message).
[[noreturn]] void fail(Status status, const std::string& message);
[[noreturn]] void fail_invalid(const std::string& message);
[[noreturn]] void fail_io(const std::string& what, int errnum);  // appends strerror(errnum)

}  // namespace acme
