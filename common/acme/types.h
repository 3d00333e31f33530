// RFC 8555 resource objects as the client uses them, parsed from the CA's JSON.
//
// Parsing contract: from_json() functions throw Error(protocol) naming the resource and the member
// when a required member is missing or of the wrong type; unknown members are ignored (RFC 8555
// section 7.1: clients MUST ignore unrecognised fields).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "json/json.h"

namespace acme::proto {

struct Directory {
    std::string url;
    std::string new_nonce, new_account, new_order, new_authz, revoke_cert, key_change;
    std::string renewal_info;  // RFC 9773; "" when the CA has no ARI
    std::string terms_of_service, website;
    bool external_account_required = false;
    std::vector<std::string> caa_identities;
    std::map<std::string, std::string> profiles;  // name -> description (draft-ietf-acme-profiles)

    static Directory from_json(const Json& j, const std::string& url);
};

// An identifier (RFC 8555 section 9.7.7, RFC 8738 for "ip").
struct Identifier {
    std::string type;   // "dns" or "ip"
    std::string value;  // "example.org", "*.example.org", "192.0.2.1", "2001:db8::1"

    // "ip" when `name` parses as an IPv4 or IPv6 address, else "dns" (lowercased).
    static Identifier for_name(const std::string& name);
    static Identifier from_json(const Json& j);
    Json to_json() const;
    std::string str() const { return type + ":" + value; }
    bool operator==(const Identifier& o) const { return type == o.type && value == o.value; }
    bool operator<(const Identifier& o) const {
        return type != o.type ? type < o.type : value < o.value;
    }
};

struct Challenge {
    std::string type;
    std::string url;
    std::string status;  // pending, processing, valid, invalid
    std::string token;
    Json error;          // problem document when invalid

    static Challenge from_json(const Json& j);
};

struct Authorization {
    std::string url;
    std::string status;  // pending, valid, invalid, deactivated, expired, revoked
    Identifier identifier;
    bool wildcard = false;
    int64_t expires = 0;
    std::vector<Challenge> challenges;

    static Authorization from_json(const Json& j, const std::string& url);
    // The challenge of `type`, or nullptr.
    const Challenge* find(const std::string& type) const;
};

struct Order {
    std::string url;
    std::string status;  // pending, ready, processing, valid, invalid
    int64_t expires = 0;
    std::vector<Identifier> identifiers;
    std::vector<std::string> authorizations;
    std::string finalize;
    std::string certificate;
    std::string profile;
    std::string replaces;
    Json error;

    static Order from_json(const Json& j, const std::string& url);
};

struct Account {
    std::string url;     // the "kid"
    std::string status;  // valid, deactivated, revoked
    std::vector<std::string> contacts;
    std::string orders;

    static Account from_json(const Json& j, const std::string& url);
};

// RFC 9773 renewalInfo response.
struct RenewalInfo {
    int64_t window_start = 0;
    int64_t window_end = 0;
    std::string explanation_url;
    int64_t retry_after = 0;  // absolute Unix time from the Retry-After header; 0 when absent

    static RenewalInfo from_json(const Json& j);
};

}  // namespace acme::proto
