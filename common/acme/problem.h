// ACME problem documents (RFC 7807 / RFC 8555 section 6.7) turned into acme::Error.
//
// The classification here is the only place that decides whether a CA refusal is permanent
// (retrying without a configuration change cannot help) or transient. The scheduler reads only the
// resulting Error fields.
#pragma once

#include <string>

#include "http/transport.h"
#include "json/json.h"
#include "util/error.h"

namespace acme::proto {

constexpr const char* kProblemPrefix = "urn:ietf:params:acme:error:";

// The short name of an ACME problem type ("badNonce" for "urn:ietf:params:acme:error:badNonce"),
// or the full type when it is not an ACME one.
std::string problem_short(const std::string& type);

// True for problem types that no retry without a configuration change can cure.
bool problem_is_permanent(const std::string& type);

// Builds the Error for a non-2xx ACME response: status Status::ca when the body is a problem
// document (type, detail, subproblems with identifiers, Retry-After), else Status::protocol (a 5xx
// without a problem document is transient). `context` prefixes the message ("newOrder").
Error problem_error(const HttpResponse& response, const std::string& context, int64_t now);

// The same for a problem object embedded in a resource (an order's or challenge's "error").
Error embedded_problem_error(const Json& problem, const std::string& context);

}  // namespace acme::proto
