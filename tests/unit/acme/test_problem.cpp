// acme/problem: problem documents -> acme::Error (type, detail, subproblems, permanence,
// Retry-After).
#include "acme/problem.h"

#include <gtest/gtest.h>

#include "support/fakes.h"

namespace acme::proto {
namespace {

using acme::testing::make_response;

constexpr int64_t kNow = 1700000000;

HttpResponse problem_doc(int status, const std::string& body,
                         std::vector<std::pair<std::string, std::string>> extra = {}) {
    extra.emplace_back("content-type", "application/problem+json");
    return make_response(status, body, std::move(extra));
}

TEST(Problem, ShortNames) {
    EXPECT_EQ(problem_short("urn:ietf:params:acme:error:badNonce"), "badNonce");
    EXPECT_EQ(problem_short("about:blank"), "about:blank");
    EXPECT_EQ(problem_short(""), "");
}

TEST(Problem, PermanentClassification) {
    for (const char* t : {"malformed", "badCSR", "rejectedIdentifier", "unsupportedIdentifier",
                          "caa", "invalidContact", "externalAccountRequired", "invalidProfile",
                          "userActionRequired", "badSignatureAlgorithm", "alreadyRevoked"}) {
        EXPECT_TRUE(problem_is_permanent(std::string(kProblemPrefix) + t)) << t;
    }
    for (const char* t : {"badNonce", "rateLimited", "serverInternal", "connection", "dns",
                          "incorrectResponse", "tls", "unauthorized", "orderNotReady"}) {
        EXPECT_FALSE(problem_is_permanent(std::string(kProblemPrefix) + t)) << t;
    }
    EXPECT_FALSE(problem_is_permanent("about:blank"));
}

TEST(Problem, DocumentBecomesACaError) {
    HttpResponse r = problem_doc(403, R"({
        "type": "urn:ietf:params:acme:error:rejectedIdentifier",
        "detail": "Error creating new order :: Cannot issue for \"bad.example\"",
        "status": 403})");
    Error e = problem_error(r, "newOrder", kNow);
    EXPECT_EQ(e.status(), Status::ca);
    EXPECT_EQ(e.problem_type(), "urn:ietf:params:acme:error:rejectedIdentifier");
    EXPECT_TRUE(e.permanent());
    EXPECT_EQ(e.http_status(), 403);
    EXPECT_EQ(e.retry_after(), 0);
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("newOrder: rejectedIdentifier: ", 0), 0u) << msg;
    EXPECT_NE(msg.find("Cannot issue for \"bad.example\""), std::string::npos) << msg;
}

TEST(Problem, SubproblemsWithIdentifiers) {
    HttpResponse r = problem_doc(400, R"({
        "type": "urn:ietf:params:acme:error:compound", "detail": "Several problems",
        "subproblems": [
            {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "detail": "no .local",
             "identifier": {"type": "dns", "value": "printer.local"}},
            {"type": "urn:ietf:params:acme:error:caa", "detail": "CAA forbids",
             "identifier": {"type": "dns", "value": "b.example"}},
            {"type": "urn:ietf:params:acme:error:malformed", "detail": "no identifier"}]})");
    Error e = problem_error(r, "newOrder", kNow);
    ASSERT_EQ(e.subproblems().size(), 3u);
    EXPECT_EQ(e.subproblems()[0].type, "urn:ietf:params:acme:error:rejectedIdentifier");
    EXPECT_EQ(e.subproblems()[0].detail, "no .local");
    EXPECT_EQ(e.subproblems()[0].identifier, "dns:printer.local");
    EXPECT_EQ(e.subproblems()[1].identifier, "dns:b.example");
    EXPECT_EQ(e.subproblems()[2].identifier, "");
    const std::string msg = e.what();
    EXPECT_NE(msg.find("dns:printer.local: rejectedIdentifier: no .local"), std::string::npos)
        << msg;
    EXPECT_NE(msg.find("dns:b.example: caa: CAA forbids"), std::string::npos) << msg;
    // Every subproblem is permanent: so is the compound.
    EXPECT_TRUE(e.permanent());
}

TEST(Problem, CompoundWithATransientSubproblemIsTransient) {
    HttpResponse r = problem_doc(400, R"({
        "type": "urn:ietf:params:acme:error:compound",
        "subproblems": [
            {"type": "urn:ietf:params:acme:error:rejectedIdentifier", "identifier": {"type": "dns", "value": "a.example"}},
            {"type": "urn:ietf:params:acme:error:dns", "identifier": {"type": "dns", "value": "b.example"}}]})");
    EXPECT_FALSE(problem_error(r, "newOrder", kNow).permanent());
    // A compound without subproblems is not permanent either.
    EXPECT_FALSE(
        problem_error(problem_doc(400, R"({"type": "urn:ietf:params:acme:error:compound"})"), "x",
                      kNow)
            .permanent());
}

TEST(Problem, RetryAfterDelaySeconds) {
    HttpResponse r = problem_doc(429, R"({"type": "urn:ietf:params:acme:error:rateLimited",
                                          "detail": "too many certificates"})",
                                 {{"retry-after", "3600"}});
    Error e = problem_error(r, "newOrder", kNow);
    EXPECT_EQ(e.retry_after(), kNow + 3600);
    EXPECT_FALSE(e.permanent());
    EXPECT_EQ(e.problem_type(), "urn:ietf:params:acme:error:rateLimited");
}

TEST(Problem, RetryAfterHttpDate) {
    HttpResponse r = problem_doc(503, R"({"type": "urn:ietf:params:acme:error:serverInternal"})",
                                 {{"retry-after", "Wed, 21 Oct 2015 07:28:00 GMT"}});
    EXPECT_EQ(problem_error(r, "finalize", kNow).retry_after(), 1445412480);
    // Garbage is ignored.
    r = problem_doc(503, R"({"type": "urn:ietf:params:acme:error:serverInternal"})",
                    {{"retry-after", "soon-ish"}});
    EXPECT_EQ(problem_error(r, "finalize", kNow).retry_after(), 0);
}

TEST(Problem, ServerErrorWithoutDocumentIsTransientProtocolError) {
    Error e = problem_error(make_response(503, "<html>Service Unavailable</html>",
                                          {{"content-type", "text/html"}, {"retry-after", "30"}}),
                            "newNonce", kNow);
    EXPECT_EQ(e.status(), Status::protocol);
    EXPECT_FALSE(e.permanent());
    EXPECT_EQ(e.http_status(), 503);
    EXPECT_EQ(e.problem_type(), "");
    EXPECT_EQ(e.retry_after(), kNow + 30);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("newNonce"), std::string::npos) << msg;
    EXPECT_NE(msg.find("503"), std::string::npos) << msg;
    // Empty body, and a body that claims to be a problem but is not JSON.
    EXPECT_EQ(problem_error(make_response(502), "x", kNow).status(), Status::protocol);
    Error broken = problem_error(problem_doc(500, "{not json"), "x", kNow);
    EXPECT_EQ(broken.status(), Status::protocol);
    EXPECT_FALSE(broken.permanent());
}

TEST(Problem, JsonBodyWithTypeIsAProblemEvenWithoutTheContentType) {
    Error e = problem_error(
        make_response(400, R"({"type": "urn:ietf:params:acme:error:badNonce", "detail": "stale"})",
                      {{"content-type", "application/json"}}),
        "newOrder", kNow);
    EXPECT_EQ(e.status(), Status::ca);
    EXPECT_EQ(problem_short(e.problem_type()), "badNonce");
}

TEST(Problem, EmbeddedProblem) {
    Error e = embedded_problem_error(
        Json::parse(R"({"type": "urn:ietf:params:acme:error:incorrectResponse", "status": 403,
                        "detail": "key authorization mismatch"})"),
        "authorization for example.org");
    EXPECT_EQ(e.status(), Status::ca);
    EXPECT_EQ(e.http_status(), 403);
    EXPECT_FALSE(e.permanent());
    EXPECT_NE(std::string(e.what()).find("authorization for example.org: incorrectResponse"),
              std::string::npos)
        << e.what();
    Error none = embedded_problem_error(Json(), "order https://ca/o/1");
    EXPECT_EQ(none.status(), Status::ca);
    EXPECT_NE(std::string(none.what()).find("order https://ca/o/1"), std::string::npos);
}

}  // namespace
}  // namespace acme::proto
