// acme/types: RFC 8555 resources parsed from the CA's JSON.
#include "acme/types.h"

#include <gtest/gtest.h>

#include <functional>

#include "util/error.h"

namespace acme::proto {
namespace {

Json parse(const std::string& s) {
    return Json::parse(s);
}

std::string error_of(const std::function<void()>& f, Status* status = nullptr) {
    try {
        f();
    } catch (const Error& e) {
        if (status) *status = e.status();
        return e.what();
    }
    return "(no error)";
}

TEST(Directory, ParsesEveryMember) {
    Directory d = Directory::from_json(parse(R"({
        "newNonce": "https://ca/nonce", "newAccount": "https://ca/acct",
        "newOrder": "https://ca/order", "newAuthz": "https://ca/authz",
        "revokeCert": "https://ca/revoke", "keyChange": "https://ca/kc",
        "renewalInfo": "https://ca/ari/",
        "unknownThing": {"x": 1},
        "meta": {"termsOfService": "https://ca/tos.pdf", "website": "https://ca/",
                 "externalAccountRequired": true, "caaIdentities": ["ca.example", 7],
                 "profiles": {"classic": "The usual", "shortlived": "Six days"}}})"),
                                       "https://ca/dir");
    EXPECT_EQ(d.url, "https://ca/dir");
    EXPECT_EQ(d.new_nonce, "https://ca/nonce");
    EXPECT_EQ(d.new_account, "https://ca/acct");
    EXPECT_EQ(d.new_order, "https://ca/order");
    EXPECT_EQ(d.new_authz, "https://ca/authz");
    EXPECT_EQ(d.revoke_cert, "https://ca/revoke");
    EXPECT_EQ(d.key_change, "https://ca/kc");
    EXPECT_EQ(d.renewal_info, "https://ca/ari/");
    EXPECT_EQ(d.terms_of_service, "https://ca/tos.pdf");
    EXPECT_EQ(d.website, "https://ca/");
    EXPECT_TRUE(d.external_account_required);
    EXPECT_EQ(d.caa_identities, std::vector<std::string>{"ca.example"});
    ASSERT_EQ(d.profiles.size(), 2u);
    EXPECT_EQ(d.profiles.at("classic"), "The usual");
    EXPECT_EQ(d.profiles.at("shortlived"), "Six days");
}

TEST(Directory, OptionalMembersMayBeAbsent) {
    Directory d = Directory::from_json(
        parse(R"({"newNonce": "n", "newAccount": "a", "newOrder": "o"})"), "u");
    EXPECT_EQ(d.renewal_info, "");
    EXPECT_EQ(d.key_change, "");
    EXPECT_EQ(d.terms_of_service, "");
    EXPECT_FALSE(d.external_account_required);
    EXPECT_TRUE(d.profiles.empty());
}

TEST(Directory, MissingRequiredMemberIsAProtocolErrorNamingIt) {
    Status st = Status::ok;
    std::string msg = error_of(
        [] { Directory::from_json(parse(R"({"newNonce": "n", "newAccount": "a"})"), "u"); }, &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("newOrder"), std::string::npos) << msg;
    msg = error_of([] { Directory::from_json(parse(R"(["not", "an", "object"])"), "https://x/d"); },
                   &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("https://x/d"), std::string::npos) << msg;
}

TEST(Identifier, ForName) {
    EXPECT_EQ(Identifier::for_name("Example.ORG").str(), "dns:example.org");
    EXPECT_EQ(Identifier::for_name("*.Example.org").str(), "dns:*.example.org");
    EXPECT_EQ(Identifier::for_name("192.0.2.1").str(), "ip:192.0.2.1");
    EXPECT_EQ(Identifier::for_name("2001:DB8:0:0:0:0:0:1").str(), "ip:2001:db8::1");
    Json j = Identifier::for_name("192.0.2.1").to_json();
    EXPECT_EQ(j.str("type"), "ip");
    EXPECT_EQ(j.str("value"), "192.0.2.1");
}

TEST(Order, ParsesEveryMember) {
    Order o = Order::from_json(parse(R"({
        "status": "valid", "expires": "2030-01-02T03:04:05Z",
        "identifiers": [{"type": "dns", "value": "WWW.example.org"}, {"type": "ip", "value": "192.0.2.1"}],
        "authorizations": ["https://ca/authz/1", "https://ca/authz/2"],
        "finalize": "https://ca/fin/1", "certificate": "https://ca/cert/1",
        "profile": "shortlived", "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE",
        "error": {"type": "urn:ietf:params:acme:error:malformed"}})"),
                               "https://ca/order/1");
    EXPECT_EQ(o.url, "https://ca/order/1");
    EXPECT_EQ(o.status, "valid");
    EXPECT_EQ(o.expires, 1893553445);
    ASSERT_EQ(o.identifiers.size(), 2u);
    EXPECT_EQ(o.identifiers[0].str(), "dns:www.example.org");
    EXPECT_EQ(o.identifiers[1].str(), "ip:192.0.2.1");
    EXPECT_EQ(o.authorizations,
              (std::vector<std::string>{"https://ca/authz/1", "https://ca/authz/2"}));
    EXPECT_EQ(o.finalize, "https://ca/fin/1");
    EXPECT_EQ(o.certificate, "https://ca/cert/1");
    EXPECT_EQ(o.profile, "shortlived");
    EXPECT_EQ(o.replaces, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
    EXPECT_EQ(o.error.str("type"), "urn:ietf:params:acme:error:malformed");
}

TEST(Order, RefusesMissingOrMalformedMembers) {
    Status st = Status::ok;
    std::string msg = error_of(
        [] {
            Order::from_json(parse(R"({"status": "pending", "identifiers": [],
                                        "authorizations": []})"),
                             "https://ca/order/9");
        },
        &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("finalize"), std::string::npos) << msg;
    EXPECT_NE(msg.find("https://ca/order/9"), std::string::npos) << msg;
    msg = error_of(
        [] {
            Order::from_json(parse(R"({"status": "pending", "identifiers": [], "authorizations": [],
                                        "finalize": "f", "expires": "yesterday"})"),
                             "o");
        },
        &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("expires"), std::string::npos) << msg;
    msg = error_of(
        [] {
            Order::from_json(parse(R"({"status": "pending", "identifiers": [],
                                        "authorizations": [3], "finalize": "f"})"),
                             "o");
        },
        &st);
    EXPECT_EQ(st, Status::protocol);
}

TEST(Authorization, WildcardAndChallenges) {
    Authorization a = Authorization::from_json(parse(R"({
        "status": "pending", "expires": "2030-01-01T00:00:00.123+01:00", "wildcard": true,
        "identifier": {"type": "dns", "value": "Example.org"},
        "challenges": [
            {"type": "dns-01", "url": "https://ca/ch/1", "token": "tok1", "status": "pending"},
            {"type": "dns-02", "status": "pending"},
            "not-an-object",
            {"type": "future-01", "url": "https://ca/ch/3", "weird": [1, 2]}]})"),
                                               "https://ca/authz/1");
    EXPECT_EQ(a.url, "https://ca/authz/1");
    EXPECT_EQ(a.status, "pending");
    EXPECT_TRUE(a.wildcard);
    EXPECT_EQ(a.identifier.str(), "dns:example.org");
    EXPECT_EQ(a.expires, 1893452400);
    // Unknown challenge types are skipped when unusable, kept (and ignored) otherwise.
    ASSERT_EQ(a.challenges.size(), 2u);
    ASSERT_NE(a.find("dns-01"), nullptr);
    EXPECT_EQ(a.find("dns-01")->token, "tok1");
    EXPECT_EQ(a.find("dns-01")->url, "https://ca/ch/1");
    EXPECT_EQ(a.find("http-01"), nullptr);
    EXPECT_EQ(a.find("dns-02"), nullptr);
}

TEST(Authorization, NotWildcardByDefaultAndRequiresIdentifier) {
    Authorization a = Authorization::from_json(
        parse(R"({"status": "valid", "identifier": {"type": "ip", "value": "192.0.2.1"},
                  "challenges": []})"),
        "u");
    EXPECT_FALSE(a.wildcard);
    EXPECT_EQ(a.identifier.str(), "ip:192.0.2.1");
    Status st = Status::ok;
    std::string msg = error_of(
        [] { Authorization::from_json(parse(R"({"status": "valid", "challenges": []})"), "u"); },
        &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("identifier"), std::string::npos) << msg;
}

TEST(Challenge, CarriesItsError) {
    Challenge c = Challenge::from_json(parse(R"({"type": "http-01", "url": "u", "token": "t",
        "status": "invalid", "error": {"type": "urn:ietf:params:acme:error:connection"}})"));
    EXPECT_EQ(c.status, "invalid");
    EXPECT_EQ(c.error.str("type"), "urn:ietf:params:acme:error:connection");
}

TEST(Account, DefaultsToValid) {
    Account a =
        Account::from_json(parse(R"({"contact": ["mailto:a@example.org"]})"), "https://ca/acct/1");
    EXPECT_EQ(a.url, "https://ca/acct/1");
    EXPECT_EQ(a.status, "valid");
    EXPECT_EQ(a.contacts, std::vector<std::string>{"mailto:a@example.org"});
    EXPECT_EQ(Account::from_json(parse(R"({"status": "deactivated"})"), "u").status, "deactivated");
}

TEST(RenewalInfo, ParsesTheWindow) {
    RenewalInfo r = RenewalInfo::from_json(parse(R"({"suggestedWindow": {
        "start": "2025-01-02T04:00:00Z", "end": "2025-01-03T04:00:00Z"},
        "explanationURL": "https://ca/why"})"));
    EXPECT_EQ(r.window_start, 1735790400);
    EXPECT_EQ(r.window_end, 1735876800);
    EXPECT_EQ(r.explanation_url, "https://ca/why");
    EXPECT_EQ(r.retry_after, 0);
}

TEST(RenewalInfo, RefusesBadWindows) {
    Status st = Status::ok;
    error_of([] { RenewalInfo::from_json(parse(R"({})")); }, &st);
    EXPECT_EQ(st, Status::protocol);
    st = Status::ok;
    std::string msg = error_of(
        [] {
            RenewalInfo::from_json(parse(R"({"suggestedWindow": {
                "start": "2025-01-03T04:00:00Z", "end": "2025-01-02T04:00:00Z"}})"));
        },
        &st);
    EXPECT_EQ(st, Status::protocol);
    EXPECT_NE(msg.find("end"), std::string::npos) << msg;
    st = Status::ok;
    error_of(
        [] {
            RenewalInfo::from_json(
                parse(R"({"suggestedWindow": {"start": "soon", "end": "later"}})"));
        },
        &st);
    EXPECT_EQ(st, Status::protocol);
}

}  // namespace
}  // namespace acme::proto
