// A small in-test ACME CA behind the Transport interface (header-only): directory, nonces,
// accounts (EAB, onlyReturnExisting, key change), orders with authorizations and challenges,
// finalize (signs the CSR with a test CA made with crypto), download, revocation and
// renewalInfo. Every POST is checked like a real CA does (nonce, url, kid/jwk, signature) and
// recorded, so tests can assert what the client sent. Not thread-safe (one client at a time).
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "support/fakes.h"
#include "support/test_pki.h"

namespace acme::testing {

class FakeCA : public Transport {
public:
    // What the CA does with a finalized order's certificate.
    enum class IssueMode { good, wrong_key, wrong_names };

    struct Post {
        std::string url, kind;  // kind: "new-acct", "acct", "key-change", "new-order", "order",
                                // "authz", "chall", "finalize", "cert", "revoke"
        Json header;
        std::string payload;
        Json payload_json;
    };

    struct Account {
        std::string url;
        crypto::PKey key;
        std::string status = "valid";
        Json contact;
        std::string eab_kid;
    };
    struct Challenge {
        std::string type, url, token, status = "pending";
    };
    struct Authz {
        std::string url, type, value, status = "pending";
        bool wildcard = false;
        std::vector<Challenge> challenges;
    };
    struct Order {
        std::string url, status = "pending", account, finalize, certificate, profile, replaces;
        std::vector<std::pair<std::string, std::string>> identifiers;  // (type, value)
        std::vector<std::string> authzs;
        std::string csr_der;
    };

    FakeCA()
        : root(TestCA::make("Fake Root X1")),
          intermediate(TestCA::make("Fake Intermediate", &root)) {}

    // ---- settings
    std::string base = "https://ca.test";
    bool ari = false;
    std::string terms_of_service;
    bool eab_required = false;
    std::map<std::string, std::string> eab_keys;  // kid -> base64url HMAC key
    std::map<std::string, std::string> profiles;  // name -> description
    std::string validation_result = "valid";      // what a responded challenge turns into
    IssueMode issue_mode = IssueMode::good;
    bool authz_already_valid = false;
    int64_t poll_retry_after = 0;        // Retry-After (seconds) on order/authz polls; 0 = none
    Json renewal_window;                 // {"start","end"} RFC 3339; null = 404
    std::string unknown_challenge_type;  // when set, each authz also offers this type first
    // Called before a request is handled; may return a response (or throw) instead.
    std::function<std::optional<HttpResponse>(const HttpRequest&)> intercept;

    // ---- records and state
    std::vector<HttpRequest> requests;
    std::vector<Post> posts;
    std::vector<Account> accounts;
    std::map<std::string, Order> orders;
    std::map<std::string, Authz> authzs;
    std::map<std::string, std::string> certificates;   // url -> PEM chain
    std::vector<std::pair<std::string, int>> revoked;  // (serial hex, reason)
    std::vector<std::string> used_eab_kids;
    TestCA root, intermediate;

    std::string directory_url() const { return base + "/dir"; }
    // Drops what the CA recorded of finished work (requests, posts, orders, authorizations,
    // certificates, unused nonces), for tests that count the memory of the code under test.
    void forget_history() {
        requests.clear();
        posts.clear();
        orders.clear();
        authzs.clear();
        certificates.clear();
        nonces_.clear();
    }
    size_t count(const std::string& kind) const {
        return static_cast<size_t>(std::count_if(posts.begin(), posts.end(),
                                                 [&](const Post& p) { return p.kind == kind; }));
    }
    const Post* last(const std::string& kind) const {
        for (auto it = posts.rbegin(); it != posts.rend(); ++it)
            if (it->kind == kind) return &*it;
        return nullptr;
    }

    HttpResponse perform(const HttpRequest& req) override {
        requests.push_back(req);
        if (intercept) {
            if (std::optional<HttpResponse> r = intercept(req)) return *r;
        }
        const std::string path =
            req.url.compare(0, base.size(), base) == 0 ? req.url.substr(base.size()) : req.url;
        if (req.method == "GET" && path == "/dir") return directory();
        if (req.method == "HEAD" && path == "/nonce")
            return make_response(200, "", {nonce_header()});
        if (req.method == "GET" && path.compare(0, 14, "/renewal-info/") == 0) {
            if (!ari || renewal_window.is_null())
                return problem_response(404, "malformed", "no such certificate");
            Json j = Json::object();
            j.set("suggestedWindow", renewal_window);
            return json_response(200, j, {{"retry-after", "3600"}});
        }
        if (req.method == "POST") return post(req, path);
        return make_response(405);
    }

private:
    std::set<std::string> nonces_;
    int next_nonce_ = 0, next_id_ = 0;

    std::string id() { return std::to_string(++next_id_); }

    std::pair<std::string, std::string> nonce_header() {
        std::string n = "nonce" + std::to_string(++next_nonce_) + "x";
        nonces_.insert(n);
        return {"replay-nonce", n};
    }

    HttpResponse reply(int status, const Json& body,
                       std::vector<std::pair<std::string, std::string>> headers = {}) {
        headers.push_back(nonce_header());
        return json_response(status, body, std::move(headers));
    }
    HttpResponse problem(int status, const std::string& type, const std::string& detail) {
        return problem_response(status, type, detail, {nonce_header()});
    }

    HttpResponse directory() {
        Json d = Json::object();
        d.set("newNonce", base + "/nonce");
        d.set("newAccount", base + "/new-acct");
        d.set("newOrder", base + "/new-order");
        d.set("revokeCert", base + "/revoke");
        d.set("keyChange", base + "/key-change");
        if (ari) d.set("renewalInfo", base + "/renewal-info/");
        Json meta = Json::object();
        if (!terms_of_service.empty()) meta.set("termsOfService", terms_of_service);
        if (eab_required) meta.set_bool("externalAccountRequired", true);
        if (!profiles.empty()) {
            Json p = Json::object();
            for (const auto& kv : profiles) p.set(kv.first.c_str(), kv.second);
            meta.set("profiles", p);
        }
        d.set("meta", meta);
        return json_response(200, d);
    }

    Account* account_by_url(const std::string& url) {
        for (Account& a : accounts)
            if (a.url == url) return &a;
        return nullptr;
    }
    Account* account_by_key(EVP_PKEY* key) {
        const std::string tp = crypto::jwk_thumbprint(key);
        for (Account& a : accounts)
            if (crypto::jwk_thumbprint(a.key.get()) == tp) return &a;
        return nullptr;
    }

    Json order_json(const Order& o) {
        Json j = Json::object();
        j.set("status", o.status);
        j.set("expires", "2099-01-01T00:00:00Z");
        Json ids = Json::array();
        for (const auto& id : o.identifiers) {
            Json i = Json::object();
            i.set("type", id.first);
            i.set("value", id.second);
            ids.append(i);
        }
        j.set("identifiers", ids);
        Json az = Json::array();
        for (const std::string& a : o.authzs) az.append(a);
        j.set("authorizations", az);
        j.set("finalize", o.finalize);
        if (!o.certificate.empty() && o.status == "valid") j.set("certificate", o.certificate);
        if (!o.profile.empty()) j.set("profile", o.profile);
        if (o.status == "invalid") {
            Json e = Json::object();
            e.set("type", "urn:ietf:params:acme:error:unauthorized");
            e.set("detail", "order is invalid");
            j.set("error", e);
        }
        return j;
    }

    Json authz_json(const Authz& a) {
        Json j = Json::object();
        j.set("status", a.status);
        Json id = Json::object();
        id.set("type", a.type);
        id.set("value", a.value);
        j.set("identifier", id);
        if (a.wildcard) j.set_bool("wildcard", true);
        Json chs = Json::array();
        if (!unknown_challenge_type.empty()) {
            Json c = Json::object();  // an unknown type without url/token: must be skipped
            c.set("type", unknown_challenge_type);
            c.set("status", "pending");
            chs.append(c);
        }
        for (const Challenge& c : a.challenges) chs.append(challenge_json(c, a));
        j.set("challenges", chs);
        return j;
    }

    Json challenge_json(const Challenge& c, const Authz& a) {
        Json j = Json::object();
        j.set("type", c.type);
        j.set("url", c.url);
        j.set("token", c.token);
        j.set("status", c.status);
        if (c.status == "invalid") {
            Json e = Json::object();
            e.set("type", "urn:ietf:params:acme:error:incorrectResponse");
            e.set("detail", "fake CA: wrong key authorization for " + a.value);
            j.set("error", e);
        }
        return j;
    }

    // Moves processing challenges to their result, and orders to ready.
    void progress(Authz& a) {
        for (Challenge& c : a.challenges) {
            if (c.status != "processing") continue;
            c.status = validation_result;
            a.status = validation_result;
        }
    }
    void progress(Order& o) {
        if (o.status == "pending") {
            bool all_valid = true, any_invalid = false;
            for (const std::string& u : o.authzs) {
                progress(authzs[u]);
                all_valid = all_valid && authzs[u].status == "valid";
                any_invalid = any_invalid || authzs[u].status == "invalid";
            }
            if (any_invalid)
                o.status = "invalid";
            else if (all_valid)
                o.status = "ready";
        } else if (o.status == "processing") {
            o.status = "valid";
        }
    }

    std::vector<std::pair<std::string, std::string>> poll_headers() {
        if (!poll_retry_after) return {};
        return {{"retry-after", std::to_string(poll_retry_after)}};
    }

    HttpResponse post(const HttpRequest& req, const std::string& path) {
        Post p;
        p.url = req.url;
        DecodedJws d;
        try {
            d = decode_jws(req.body);
        } catch (const Error& e) {
            return problem(400, "malformed", std::string("fake CA: not a JWS: ") + e.what());
        }
        p.header = d.header;
        p.payload = d.payload;
        p.payload_json = d.payload_json;
        p.kind = path.substr(
            1, path.find('/', 1) == std::string::npos ? std::string::npos : path.find('/', 1) - 1);
        posts.push_back(p);
        const std::string nonce = d.header.str("nonce");
        if (!nonces_.erase(nonce)) return problem(400, "badNonce", "fake CA: unknown nonce");
        if (d.header.str("url") != req.url)
            return problem(401, "unauthorized", "fake CA: url in the JWS does not match");
        crypto::PKey jwk_key;
        Account* acct = nullptr;
        EVP_PKEY* verify_key = nullptr;
        if (d.header.has("jwk") == d.header.has("kid"))
            return problem(400, "malformed", "fake CA: exactly one of jwk and kid");
        if (d.header.has("jwk")) {
            jwk_key = pkey_from_jwk(d.header.get("jwk"));
            verify_key = jwk_key.get();
            if (p.kind != "new-acct" && p.kind != "revoke")
                return problem(400, "malformed", "fake CA: jwk on " + p.kind);
        } else {
            acct = account_by_url(d.header.str("kid"));
            if (!acct) return problem(400, "accountDoesNotExist", "fake CA: unknown kid");
            verify_key = acct->key.get();
        }
        if (!crypto::jws_verify(verify_key, d.jws))
            return problem(400, "malformed", "fake CA: JWS signature does not verify");

        if (p.kind == "new-acct") return new_account(d, jwk_key);
        if (p.kind == "acct") {
            // An update (RFC 8555 section 7.3.2) carries the new contacts; POST-as-GET nothing.
            if (d.payload_json.is_object() && d.payload_json.get("contact").is_array())
                acct->contact = d.payload_json.get("contact");
            return reply(200, account_json(*acct));
        }
        if (p.kind == "key-change") return key_change(d, *acct);
        if (p.kind == "new-order") return new_order(d, *acct);
        if (p.kind == "order") {
            auto it = orders.find(req.url);
            if (it == orders.end()) return problem(404, "malformed", "fake CA: no such order");
            progress(it->second);
            return reply(200, order_json(it->second), poll_headers());
        }
        if (p.kind == "authz") {
            auto it = authzs.find(req.url);
            if (it == authzs.end()) return problem(404, "malformed", "fake CA: no such authz");
            progress(it->second);
            return reply(200, authz_json(it->second), poll_headers());
        }
        if (p.kind == "chall") return respond(req.url);
        if (p.kind == "finalize") return finalize(req.url, d);
        if (p.kind == "cert") {
            auto it = certificates.find(req.url);
            if (it == certificates.end()) return problem(404, "malformed", "fake CA: no such cert");
            return make_response(
                200, it->second,
                {{"content-type", "application/pem-certificate-chain"}, nonce_header()});
        }
        if (p.kind == "revoke") return revoke(d, acct, jwk_key.get());
        return problem(404, "malformed", "fake CA: unknown resource " + path);
    }

    Json account_json(const Account& a) {
        Json j = Json::object();
        j.set("status", a.status);
        if (!a.contact.is_null()) j.set("contact", a.contact);
        j.set("orders", a.url + "/orders");
        return j;
    }

    HttpResponse new_account(const DecodedJws& d, crypto::PKey& key) {
        if (Account* a = account_by_key(key.get()))
            return reply(200, account_json(*a), {{"location", a->url}});
        if (d.payload_json.boolean("onlyReturnExisting"))
            return problem(400, "accountDoesNotExist", "fake CA: no account for this key");
        if (!terms_of_service.empty() && !d.payload_json.boolean("termsOfServiceAgreed"))
            return problem(403, "userActionRequired", "fake CA: agree to the terms");
        Account a;
        Json eab = d.payload_json.get("externalAccountBinding");
        if (eab_required && !eab.is_object())
            return problem(400, "externalAccountRequired", "fake CA: EAB required");
        if (eab.is_object()) {
            Json h = Json::parse(base64url_decode(eab.str("protected")));
            const std::string kid = h.str("kid");
            auto k = eab_keys.find(kid);
            if (k == eab_keys.end())
                return problem(400, "unauthorized", "fake CA: unknown EAB kid");
            const std::string mac =
                crypto::hmac(h.str("alg"), base64url_decode(k->second), jws_signing_input(eab));
            if (base64url_encode(mac) != eab.str("signature") ||
                h.str("url") != base + "/new-acct" ||
                Json::parse(base64url_decode(eab.str("payload"))).dump() !=
                    crypto::jwk(key.get()).dump()) {
                return problem(400, "unauthorized", "fake CA: EAB does not verify");
            }
            used_eab_kids.push_back(kid);
            a.eab_kid = kid;
        }
        a.url = base + "/acct/" + id();
        a.key = std::move(key);
        a.contact = d.payload_json.get("contact");
        accounts.push_back(std::move(a));
        return reply(201, account_json(accounts.back()), {{"location", accounts.back().url}});
    }

    HttpResponse key_change(const DecodedJws& outer, Account& acct) {
        Json inner = outer.payload_json;
        Json h = Json::parse(base64url_decode(inner.str("protected")));
        crypto::PKey new_key = pkey_from_jwk(h.get("jwk"));
        if (!crypto::jws_verify(new_key.get(), inner))
            return problem(400, "malformed", "fake CA: inner JWS does not verify");
        Json payload = Json::parse(base64url_decode(inner.str("payload")));
        if (h.str("url") != base + "/key-change" || payload.str("account") != acct.url ||
            payload.get("oldKey").dump() != crypto::jwk(acct.key.get()).dump()) {
            return problem(400, "malformed", "fake CA: inner JWS content is wrong");
        }
        if (account_by_key(new_key.get())) return problem(409, "conflict", "fake CA: key in use");
        acct.key = std::move(new_key);
        return reply(200, account_json(acct));
    }

    HttpResponse new_order(const DecodedJws& d, Account& acct) {
        Order o;
        o.url = base + "/order/" + id();
        o.account = acct.url;
        o.finalize = base + "/finalize/" + id();
        o.profile = d.payload_json.str("profile");
        o.replaces = d.payload_json.str("replaces");
        if (!o.profile.empty() && !profiles.count(o.profile))
            return problem(400, "invalidProfile", "fake CA: unknown profile " + o.profile);
        Json ids = d.payload_json.get("identifiers");
        for (size_t i = 0; i < ids.size(); ++i) {
            const std::string type = ids.at(i).str("type"), value = ids.at(i).str("value");
            o.identifiers.emplace_back(type, value);
            Authz a;
            a.url = base + "/authz/" + id();
            a.type = type;
            a.wildcard = value.rfind("*.", 0) == 0;
            a.value = a.wildcard ? value.substr(2) : value;
            a.status = authz_already_valid ? "valid" : "pending";
            std::vector<std::string> types = {"dns-01"};
            if (!a.wildcard) types = {"http-01", "dns-01", "tls-alpn-01"};
            for (const std::string& t : types) {
                Challenge c;
                c.type = t;
                c.url = base + "/chall/" + id();
                c.token = "tok" + id() + "_x-Y";
                a.challenges.push_back(c);
            }
            o.authzs.push_back(a.url);
            authzs[a.url] = a;
        }
        if (authz_already_valid) o.status = "ready";
        orders[o.url] = o;
        return reply(201, order_json(o), {{"location", o.url}});
    }

    HttpResponse respond(const std::string& url) {
        for (auto& kv : authzs) {
            for (Challenge& c : kv.second.challenges) {
                if (c.url != url) continue;
                if (c.status == "pending") c.status = "processing";
                return reply(200, challenge_json(c, kv.second));
            }
        }
        return problem(404, "malformed", "fake CA: no such challenge");
    }

    HttpResponse finalize(const std::string& url, const DecodedJws& d) {
        Order* o = nullptr;
        for (auto& kv : orders)
            if (kv.second.finalize == url) o = &kv.second;
        if (!o) return problem(404, "malformed", "fake CA: no such order");
        progress(*o);
        if (o->status != "ready")
            return problem(403, "orderNotReady", "fake CA: order is " + o->status);
        o->csr_der = base64url_decode(d.payload_json.str("csr"));
        CsrInfo csr = parse_csr(o->csr_der);
        std::vector<std::string> want;
        for (const auto& id : o->identifiers) want.push_back(id.second);
        std::vector<std::string> got = csr.names;
        std::sort(want.begin(), want.end());
        std::sort(got.begin(), got.end());
        if (want != got) return problem(400, "badCSR", "fake CA: CSR names differ from the order");
        crypto::PKey other;
        EVP_PKEY* pub = csr.key.get();
        std::vector<std::string> names = csr.names;
        if (issue_mode == IssueMode::wrong_key) {
            other = crypto::generate_key(crypto::KeyType::ecdsa_p256);
            pub = other.get();
        } else if (issue_mode == IssueMode::wrong_names) {
            names = {"other.example.net"};
        }
        crypto::X509Ptr leaf = intermediate.issue(pub, names);
        o->certificate = base + "/cert/" + id();
        certificates[o->certificate] = crypto::cert_to_pem(leaf.get()) + intermediate.pem();
        o->status = "processing";
        return reply(200, order_json(*o), {{"location", o->url}});
    }

    HttpResponse revoke(const DecodedJws& d, Account* acct, EVP_PKEY* jwk_key) {
        crypto::X509Ptr cert =
            crypto::parse_der_cert(base64url_decode(d.payload_json.str("certificate")));
        if (jwk_key && !crypto::cert_matches_key(cert.get(), jwk_key))
            return problem(403, "unauthorized", "fake CA: not the certificate's key");
        (void)acct;
        revoked.emplace_back(crypto::cert_info(cert.get()).serial_hex,
                             static_cast<int>(d.payload_json.integer("reason")));
        return make_response(200, "", {nonce_header()});
    }
};

}  // namespace acme::testing
