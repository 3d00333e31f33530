#include "acme/types.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>

#include "util/clock.h"
#include "util/error.h"

namespace acme::proto {
namespace {

int64_t optional_time(const Json& j, const char* key, const char* what) {
    std::string s = j.str(key);
    if (s.empty()) return 0;
    try {
        return parse_rfc3339(s);
    } catch (const Error&) {
        fail(Status::protocol, std::string(what) + ": malformed '" + key + "' timestamp '" + s + "'");
    }
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

Directory Directory::from_json(const Json& j, const std::string& url) {
    if (!j.is_object()) fail(Status::protocol, "directory " + url + ": not a JSON object");
    Directory d;
    d.url = url;
    d.new_nonce = j.require_str("newNonce", "directory");
    d.new_account = j.require_str("newAccount", "directory");
    d.new_order = j.require_str("newOrder", "directory");
    d.new_authz = j.str("newAuthz");
    d.revoke_cert = j.str("revokeCert");
    d.key_change = j.str("keyChange");
    d.renewal_info = j.str("renewalInfo");
    Json meta = j.get("meta");
    d.terms_of_service = meta.str("termsOfService");
    d.website = meta.str("website");
    d.external_account_required = meta.boolean("externalAccountRequired");
    d.caa_identities = meta.strings("caaIdentities");
    Json profiles = meta.get("profiles");
    for (const std::string& name : profiles.keys()) d.profiles[name] = profiles.str(name.c_str());
    return d;
}

Identifier Identifier::for_name(const std::string& name) {
    unsigned char buf[16];
    if (inet_pton(AF_INET, name.c_str(), buf) == 1) return {"ip", name};
    if (inet_pton(AF_INET6, name.c_str(), buf) == 1) {
        // RFC 8738 section 3: the textual form of RFC 5952 (canonical, lowercase).
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, buf, text, sizeof text);
        return {"ip", text};
    }
    return {"dns", lower(name)};
}

Identifier Identifier::from_json(const Json& j) {
    Identifier id;
    id.type = j.require_str("type", "identifier");
    id.value = j.require_str("value", "identifier");
    if (id.type == "dns") id.value = lower(id.value);
    return id;
}

Json Identifier::to_json() const {
    Json j = Json::object();
    j.set("type", type);
    j.set("value", value);
    return j;
}

Challenge Challenge::from_json(const Json& j) {
    Challenge c;
    c.type = j.require_str("type", "challenge");
    c.url = j.require_str("url", "challenge");
    c.status = j.str("status");
    c.token = j.str("token");
    c.error = j.get("error");
    return c;
}

Authorization Authorization::from_json(const Json& j, const std::string& url) {
    const std::string what = "authorization " + url;
    Authorization a;
    a.url = url;
    a.status = j.require_str("status", what.c_str());
    a.identifier = Identifier::from_json(j.require_object("identifier", what.c_str()));
    a.wildcard = j.boolean("wildcard");
    a.expires = optional_time(j, "expires", what.c_str());
    Json chs = j.require_array("challenges", what.c_str());
    for (size_t i = 0; i < chs.size(); ++i) {
        Json c = chs.at(i);
        // A challenge of a type we do not know may lack members we require; skip it quietly
        // only when it lacks a type or url (RFC 8555: ignore what you do not understand).
        if (!c.is_object() || c.str("type").empty() || c.str("url").empty()) continue;
        a.challenges.push_back(Challenge::from_json(c));
    }
    return a;
}

const Challenge* Authorization::find(const std::string& type) const {
    for (const Challenge& c : challenges) {
        if (c.type == type) return &c;
    }
    return nullptr;
}

Order Order::from_json(const Json& j, const std::string& url) {
    const std::string what = "order " + url;
    Order o;
    o.url = url;
    o.status = j.require_str("status", what.c_str());
    o.expires = optional_time(j, "expires", what.c_str());
    Json ids = j.require_array("identifiers", what.c_str());
    for (size_t i = 0; i < ids.size(); ++i) o.identifiers.push_back(Identifier::from_json(ids.at(i)));
    Json authzs = j.require_array("authorizations", what.c_str());
    for (size_t i = 0; i < authzs.size(); ++i) {
        if (!authzs.at(i).is_string()) fail(Status::protocol, what + ": authorization is not a URL");
        o.authorizations.push_back(authzs.at(i).as_string());
    }
    o.finalize = j.require_str("finalize", what.c_str());
    o.certificate = j.str("certificate");
    o.profile = j.str("profile");
    o.replaces = j.str("replaces");
    o.error = j.get("error");
    return o;
}

Account Account::from_json(const Json& j, const std::string& url) {
    Account a;
    a.url = url;
    a.status = j.str("status", "valid");
    a.contacts = j.strings("contact");
    a.orders = j.str("orders");
    return a;
}

RenewalInfo RenewalInfo::from_json(const Json& j) {
    Json w = j.require_object("suggestedWindow", "renewalInfo");
    RenewalInfo r;
    try {
        r.window_start = parse_rfc3339(w.require_str("start", "renewalInfo suggestedWindow"));
        r.window_end = parse_rfc3339(w.require_str("end", "renewalInfo suggestedWindow"));
    } catch (const Error& e) {
        if (e.status() == Status::protocol) throw;
        fail(Status::protocol, std::string("renewalInfo: ") + e.what());
    }
    // RFC 9773 section 4.2: a window whose end is not after its start is invalid.
    if (r.window_end <= r.window_start)
        fail(Status::protocol, "renewalInfo: suggestedWindow end is not after start");
    r.explanation_url = j.str("explanationURL");
    return r;
}

}  // namespace acme::proto
