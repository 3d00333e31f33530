#include "acme/problem.h"

#include <set>

#include "util/clock.h"

namespace acme::proto {
namespace {

std::vector<Subproblem> parse_subproblems(const Json& problem) {
    std::vector<Subproblem> out;
    Json subs = problem.get("subproblems");
    for (size_t i = 0; i < subs.size(); ++i) {
        Json s = subs.at(i);
        Subproblem sp;
        sp.type = s.str("type");
        sp.detail = s.str("detail");
        Json id = s.get("identifier");
        if (id.is_object()) sp.identifier = id.str("type") + ":" + id.str("value");
        out.push_back(std::move(sp));
    }
    return out;
}

std::string describe(const Json& problem, const std::vector<Subproblem>& subs) {
    std::string type = problem.str("type");
    std::string msg = type.empty() ? "problem" : problem_short(type);
    std::string detail = problem.str("detail");
    if (!detail.empty()) msg += ": " + detail;
    for (const Subproblem& sp : subs) {
        msg += "; ";
        if (!sp.identifier.empty()) msg += sp.identifier + ": ";
        msg += problem_short(sp.type);
        if (!sp.detail.empty()) msg += ": " + sp.detail;
    }
    return msg;
}

Error make_error(const Json& problem, const std::string& context, int http_status) {
    std::vector<Subproblem> subs = parse_subproblems(problem);
    std::string type = problem.str("type");
    Error e(Status::ca, context + ": " + describe(problem, subs));
    bool permanent = problem_is_permanent(type);
    // A compound problem is permanent only when every subproblem is.
    if (problem_short(type) == "compound" && !subs.empty()) {
        permanent = true;
        for (const Subproblem& sp : subs) permanent = permanent && problem_is_permanent(sp.type);
    }
    e.set_permanent(permanent).set_problem(type, std::move(subs)).set_http_status(http_status);
    return e;
}

}  // namespace

std::string problem_short(const std::string& type) {
    const std::string prefix = kProblemPrefix;
    if (type.compare(0, prefix.size(), prefix) == 0) return type.substr(prefix.size());
    return type;
}

bool problem_is_permanent(const std::string& type) {
    // Transient: badNonce (retried at once), rateLimited (Retry-After), serverInternal,
    // orderNotReady, and validation failures (connection, dns, incorrectResponse, tls,
    // unauthorized): a server that was not reachable a minute ago may be now, and the backoff
    // keeps us well inside the CA's failed-validation limits.
    static const std::set<std::string> permanent = {
        "accountDoesNotExist" /* handled by re-registering; if it surfaces, config */,
        "alreadyRevoked",
        "badCSR",
        "badPublicKey",
        "badRevocationReason",
        "badSignatureAlgorithm",
        "caa",
        "externalAccountRequired",
        "invalidContact",
        "invalidProfile",
        "malformed",
        "rejectedIdentifier",
        "unsupportedContact",
        "unsupportedIdentifier",
        "userActionRequired",
    };
    return permanent.count(problem_short(type)) != 0;
}

Error problem_error(const HttpResponse& response, const std::string& context, int64_t now) {
    Json problem;
    std::string ctype = response.header("content-type");
    bool is_problem = ctype.find("problem+json") != std::string::npos;
    if (!response.body.empty()) {
        try {
            problem = Json::parse(response.body);
        } catch (const Error&) {
            is_problem = false;
        }
    }
    Error e = (is_problem || problem.has("type"))
                  ? make_error(problem, context, response.status)
                  : Error(Status::protocol, context + ": HTTP " + std::to_string(response.status) +
                                                " without a problem document");
    if (!is_problem && !problem.has("type")) {
        e.set_http_status(response.status);
        // 4xx without a problem document is a CA we cannot talk to; 5xx may pass.
        e.set_permanent(false);
    }
    int64_t retry_after = parse_retry_after(response.header("retry-after"), now);
    if (retry_after > 0) e.set_retry_after(retry_after);
    return e;
}

Error embedded_problem_error(const Json& problem, const std::string& context) {
    if (!problem.is_object()) return Error(Status::ca, context + ": failed without a problem document");
    return make_error(problem, context, problem.integer("status"));
}

}  // namespace acme::proto
