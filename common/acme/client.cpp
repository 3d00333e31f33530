#include "acme/client.h"

#include <algorithm>
#include <cctype>

#include "acme/problem.h"
#include "util/base64.h"
#include "util/log.h"

namespace acme::proto {
namespace {

constexpr const char* kJoseJson = "application/jose+json";

bool is_success(int status) { return status >= 200 && status < 300; }

Json parse_body(const HttpResponse& r, const std::string& context) {
    if (r.body.empty()) return Json();
    std::string ctype = r.header("content-type");
    if (ctype.find("json") == std::string::npos) return Json();
    try {
        return Json::parse(r.body);
    } catch (const Error& e) {
        fail(Status::protocol, context + ": " + e.what());
    }
}

bool iequals(const std::string& a, const std::string& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](unsigned char x, unsigned char y) {
               return std::tolower(x) == std::tolower(y);
           });
}

}  // namespace

Client::Client(Transport& transport, std::string directory_url, const Clock& clock)
    : transport_(transport), directory_url_(std::move(directory_url)), clock_(clock) {}

const Directory& Client::directory() {
    if (directory_) return *directory_;
    HttpRequest req;
    req.url = directory_url_;
    HttpResponse r = transport_.perform(req);
    if (!is_success(r.status)) throw problem_error(r, "directory " + directory_url_, clock_.now());
    remember_nonce(r);
    Json j;
    try {
        j = Json::parse(r.body);
    } catch (const Error& e) {
        fail(Status::protocol, "directory " + directory_url_ + ": " + e.what());
    }
    directory_ = Directory::from_json(j, directory_url_);
    return *directory_;
}

void Client::set_account_key(crypto::PKey key) { account_key_ = std::move(key); }

std::string Client::key_authorization(const std::string& token) const {
    if (!account_key_) fail(Status::internal, "key authorization without an account key");
    return token + "." + crypto::jwk_thumbprint(account_key_.get());
}

std::string Client::dns01_txt_value(const std::string& key_authorization) {
    return base64url_encode(crypto::sha256(key_authorization));
}

void Client::remember_nonce(const HttpResponse& r) {
    std::string n = r.header("replay-nonce");
    // RFC 8555 section 6.5.1: the nonce is base64url; ignore anything else.
    if (!n.empty() && is_base64url(n)) nonce_ = n;
}

std::string Client::take_nonce() {
    if (!nonce_.empty()) {
        std::string n;
        n.swap(nonce_);
        return n;
    }
    HttpRequest req;
    req.method = "HEAD";
    req.url = directory().new_nonce;
    HttpResponse r = transport_.perform(req);
    if (!is_success(r.status)) throw problem_error(r, "newNonce", clock_.now());
    remember_nonce(r);
    if (nonce_.empty()) fail(Status::protocol, "newNonce: no usable Replay-Nonce header");
    std::string n;
    n.swap(nonce_);
    return n;
}

void Client::check_cancel() const {
    if (cancel_ && cancel_->load(std::memory_order_relaxed)) fail(Status::internal, "cancelled");
}

Client::Response Client::post(const std::string& url, const std::optional<Json>& payload,
                              const std::string& context, bool use_jwk, EVP_PKEY* signer,
                              const char* accept) {
    EVP_PKEY* key = signer ? signer : account_key_.get();
    if (!key) fail(Status::internal, context + ": no account key");
    if (!use_jwk && account_url_.empty()) fail(Status::internal, context + ": no account URL");
    const std::string body_text = payload ? payload->dump() : std::string();
    for (int attempt = 0;; ++attempt) {
        check_cancel();
        Json header = Json::object();
        header.set("nonce", take_nonce());
        header.set("url", url);
        if (use_jwk) {
            header.set("jwk", crypto::jwk(key));
        } else {
            header.set("kid", account_url_);
        }
        Json jws = crypto::jws_sign(key, header, body_text);
        HttpRequest req;
        req.method = "POST";
        req.url = url;
        req.headers.emplace_back("Content-Type", kJoseJson);
        if (accept) req.headers.emplace_back("Accept", accept);
        req.body = jws.dump();
        HttpResponse r = transport_.perform(req);
        remember_nonce(r);
        if (is_success(r.status)) {
            Response out;
            out.body = parse_body(r, context);
            out.location = r.header("location");
            out.http = std::move(r);
            ACME_LOG_DEBUG("acme: %s: POST %s -> %d", context.c_str(), url.c_str(),
                           out.http.status);
            return out;
        }
        Error e = problem_error(r, context, clock_.now());
        if (problem_short(e.problem_type()) == "badNonce" && attempt < kMaxBadNonceRetries) {
            ACME_LOG_DEBUG("acme: %s: badNonce, retrying with the new nonce", context.c_str());
            continue;
        }
        throw e;
    }
}

Account Client::new_account(const NewAccount& request) {
    const Directory& dir = directory();
    Json payload = Json::object();
    if (!request.contacts.empty()) {
        Json contacts = Json::array();
        for (const std::string& c : request.contacts) contacts.append(c);
        payload.set("contact", contacts);
    }
    if (request.agree_tos) payload.set_bool("termsOfServiceAgreed", true);
    if (request.only_return_existing) payload.set_bool("onlyReturnExisting", true);
    if (!request.eab_kid.empty() && !request.only_return_existing) {
        payload.set("externalAccountBinding",
                    crypto::eab_jws(request.eab_kid, request.eab_hmac_key, account_key_.get(),
                                    dir.new_account,
                                    request.eab_alg.empty() ? "HS256" : request.eab_alg));
    }
    Response r = post(dir.new_account, payload, "newAccount", /*use_jwk=*/true);
    if (r.location.empty()) fail(Status::protocol, "newAccount: no Location header");
    account_url_ = r.location;
    return Account::from_json(r.body, r.location);
}

Account Client::fetch_account() {
    Response r = post(account_url_, std::nullopt, "account");
    return Account::from_json(r.body, account_url_);
}

Account Client::update_account_contacts(const std::vector<std::string>& contacts) {
    Json payload = Json::object();
    Json list = Json::array();
    for (const std::string& c : contacts) list.append(c);
    payload.set("contact", list);
    Response r = post(account_url_, payload, "account update");
    return Account::from_json(r.body, account_url_);
}

void Client::key_change(crypto::PKey new_key) {
    const Directory& dir = directory();
    if (dir.key_change.empty()) fail(Status::protocol, "keyChange: the CA has no keyChange URL");
    // Inner JWS: signed by the new key, with its JWK, over {account, oldKey}.
    Json inner_header = Json::object();
    inner_header.set("jwk", crypto::jwk(new_key.get()));
    inner_header.set("url", dir.key_change);
    Json inner_payload = Json::object();
    inner_payload.set("account", account_url_);
    inner_payload.set("oldKey", crypto::jwk(account_key_.get()));
    Json inner = crypto::jws_sign(new_key.get(), inner_header, inner_payload.dump());
    post(dir.key_change, inner, "keyChange");
    account_key_ = std::move(new_key);
}

Order Client::new_order(const std::vector<Identifier>& identifiers, const std::string& profile,
                        const std::string& replaces) {
    const Directory& dir = directory();
    Json ids = Json::array();
    for (const Identifier& id : identifiers) ids.append(id.to_json());
    Json payload = Json::object();
    payload.set("identifiers", ids);
    if (!profile.empty()) payload.set("profile", profile);
    if (!replaces.empty()) payload.set("replaces", replaces);
    Response r = post(dir.new_order, payload, "newOrder");
    if (r.location.empty()) fail(Status::protocol, "newOrder: no Location header");
    return Order::from_json(r.body, r.location);
}

Order Client::fetch_order(const std::string& url) {
    Response r = post(url, std::nullopt, "order");
    return Order::from_json(r.body, url);
}

Authorization Client::fetch_authorization(const std::string& url) {
    Response r = post(url, std::nullopt, "authorization");
    return Authorization::from_json(r.body, url);
}

Challenge Client::respond_challenge(const std::string& url) {
    Response r = post(url, Json::object(), "challenge");
    return Challenge::from_json(r.body);
}

Order Client::finalize(const Order& order, const std::string& csr_der) {
    Json payload = Json::object();
    payload.set("csr", base64url_encode(csr_der));
    Response r = post(order.finalize, payload, "finalize");
    return Order::from_json(r.body, order.url);
}

void Client::sleep_poll(int64_t& interval_ms, const HttpResponse& last, int64_t deadline_ms) {
    int64_t now_ms = clock_.now_ms();
    int64_t wait = interval_ms;
    // Retry-After has second precision: measure the delay from the whole second it was resolved
    // against, so "Retry-After: 3" never waits less than 3 s.
    const int64_t now_s = now_ms / 1000;
    int64_t retry_at = parse_retry_after(last.header("retry-after"), now_s);
    if (retry_at > 0) {
        // The CA's word wins, but a server saying "retry in an hour" while we hold a pending
        // order is still bounded by our own deadline.
        wait = std::max<int64_t>(wait, (retry_at - now_s) * 1000);
    }
    wait = std::min(wait, std::max<int64_t>(0, deadline_ms - now_ms));
    // Sleep in slices so a stop request is seen quickly.
    while (wait > 0) {
        check_cancel();
        int64_t slice = std::min<int64_t>(wait, 100);
        clock_.sleep_ms(slice);
        wait -= slice;
    }
    check_cancel();
    interval_ms = std::min<int64_t>(interval_ms * 2, 5000);
}

Authorization Client::wait_authorization(const std::string& url, int64_t timeout_ms) {
    const int64_t deadline = clock_.now_ms() + timeout_ms;
    int64_t interval = 50;
    for (;;) {
        Response r = post(url, std::nullopt, "authorization");
        Authorization a = Authorization::from_json(r.body, url);
        if (a.status != "pending") return a;
        // A challenge that already failed makes the authorization invalid shortly; but some CAs
        // keep it pending while they retry, so we keep polling until the status moves.
        if (clock_.now_ms() >= deadline)
            throw Error(Status::network, "authorization " + a.identifier.str() +
                                             ": still pending after " +
                                             std::to_string(timeout_ms / 1000) + " s");
        sleep_poll(interval, r.http, deadline);
    }
}

Order Client::wait_order(const std::string& url, const std::set<std::string>& while_status,
                         int64_t timeout_ms) {
    const int64_t deadline = clock_.now_ms() + timeout_ms;
    int64_t interval = 50;
    for (;;) {
        Response r = post(url, std::nullopt, "order");
        Order o = Order::from_json(r.body, url);
        if (!while_status.count(o.status)) return o;
        if (clock_.now_ms() >= deadline)
            throw Error(Status::network, "order " + url + ": still " + o.status + " after " +
                                             std::to_string(timeout_ms / 1000) + " s");
        sleep_poll(interval, r.http, deadline);
    }
}

std::string Client::download_certificate(const std::string& url,
                                         const std::string& preferred_issuer_cn) {
    static const char* kPemChain = "application/pem-certificate-chain";
    Response r = post(url, std::nullopt, "certificate", false, nullptr, kPemChain);
    std::string chain = r.http.body;
    try {
        crypto::parse_pem_chain(chain);
    } catch (const Error& e) {
        // The CA's answer, not our configuration, is at fault: transient, like any unusable
        // answer (parse_pem_chain's Error(invalid) would wait for a configuration change).
        throw Error(Status::protocol,
                    "certificate " + url + ": the CA's answer is not a PEM certificate chain (" +
                        e.what() + ")");
    }
    if (preferred_issuer_cn.empty()) return chain;

    auto topmost_issuer = [](const std::string& pem) {
        crypto::Chain c = crypto::parse_pem_chain(pem);
        return crypto::cert_info(c.back().get()).issuer_cn;
    };
    if (iequals(topmost_issuer(chain), preferred_issuer_cn)) return chain;
    for (const std::string& alt :
         parse_link_header(r.http.headers_all("link"), "alternate", url)) {
        try {
            Response ar = post(alt, std::nullopt, "alternate certificate", false, nullptr, kPemChain);
            if (iequals(topmost_issuer(ar.http.body), preferred_issuer_cn)) {
                ACME_LOG_INFO("acme: using the alternate chain issued by '%s'",
                              preferred_issuer_cn.c_str());
                return ar.http.body;
            }
        } catch (const Error& e) {
            ACME_LOG_WARN("acme: alternate chain %s: %s", alt.c_str(), e.what());
        }
    }
    ACME_LOG_NOTICE("acme: no chain issued by '%s' offered, using the default chain",
                    preferred_issuer_cn.c_str());
    return chain;
}

void Client::revoke(const std::string& cert_der, int reason, EVP_PKEY* cert_key) {
    const Directory& dir = directory();
    if (dir.revoke_cert.empty()) fail(Status::protocol, "revokeCert: the CA has no revokeCert URL");
    Json payload = Json::object();
    payload.set("certificate", base64url_encode(cert_der));
    if (reason != 0) payload.set("reason", reason);
    post(dir.revoke_cert, payload, "revokeCert", cert_key != nullptr, cert_key);
}

std::optional<RenewalInfo> Client::renewal_info(const std::string& cert_id) {
    const Directory& dir = directory();
    if (dir.renewal_info.empty()) return std::nullopt;
    HttpRequest req;
    req.url = dir.renewal_info;
    if (req.url.empty() || req.url.back() != '/') req.url += '/';
    req.url += cert_id;
    HttpResponse r = transport_.perform(req);
    if (!is_success(r.status)) throw problem_error(r, "renewalInfo", clock_.now());
    Json j;
    try {
        j = Json::parse(r.body);
    } catch (const Error& e) {
        fail(Status::protocol, std::string("renewalInfo: ") + e.what());
    }
    RenewalInfo info = RenewalInfo::from_json(j);
    info.retry_after = parse_retry_after(r.header("retry-after"), clock_.now());
    return info;
}

}  // namespace acme::proto
