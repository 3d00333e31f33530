#include "acme/issuer.h"

#include <algorithm>

#include "acme/problem.h"
#include "store/layout.h"
#include "util/clock.h"
#include "util/log.h"

namespace acme::proto {
namespace {

std::vector<Identifier> identifiers_for(const std::vector<std::string>& names) {
    std::vector<Identifier> ids;
    for (const std::string& n : names) ids.push_back(Identifier::for_name(n));
    return ids;
}

std::vector<Identifier> sorted(std::vector<Identifier> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
}

Json order_state(const Client& client, const OrderRequest& req, const Order& order) {
    Json j = Json::object();
    j.set("ca", client.directory_url());
    j.set("account", client.account_url());
    j.set("url", order.url);
    j.set("key_type", crypto::key_type_name(req.key_type));
    j.set("profile", req.profile);
    j.set("replaces", req.replaces);
    Json ids = Json::array();
    for (const Identifier& id : order.identifiers) ids.append(id.to_json());
    j.set("identifiers", ids);
    j.set("created", format_rfc3339(system_clock().now()));
    return j;
}

// The saved order, when it belongs to this CA, account, request and is still worth resuming.
bool resume_order(Client& client, Store& store, const OrderRequest& req,
                  const std::vector<Identifier>& ids, Order& order, crypto::PKey& key) {
    const char* kt = crypto::key_type_name(req.key_type);
    std::optional<std::string> saved = store.load(layout::order_json(req.name, kt));
    if (!saved) return false;
    Json j;
    try {
        j = Json::parse(*saved);
    } catch (const Error& e) {
        ACME_LOG_WARN("acme: %s: discarding a corrupt saved order: %s", req.name.c_str(), e.what());
        return false;
    }
    std::vector<Identifier> saved_ids;
    Json jids = j.get("identifiers");
    try {
        for (size_t i = 0; i < jids.size(); ++i) saved_ids.push_back(Identifier::from_json(jids.at(i)));
    } catch (const Error&) {
        return false;
    }
    if (j.str("ca") != client.directory_url() || j.str("account") != client.account_url() ||
        j.str("profile") != req.profile || sorted(saved_ids) != sorted(ids) ||
        j.str("url").empty()) {
        return false;
    }
    try {
        order = client.fetch_order(j.str("url"));
    } catch (const Error& e) {
        if (e.status() == Status::network) throw;  // try again later, keep the order
        ACME_LOG_INFO("acme: %s: saved order is gone (%s), placing a new one", req.name.c_str(),
                      e.what());
        return false;
    }
    if (order.status == "invalid" || (order.expires && order.expires <= system_clock().now())) {
        ACME_LOG_INFO("acme: %s: saved order %s is %s, placing a new one", req.name.c_str(),
                      order.url.c_str(), order.status.c_str());
        return false;
    }
    std::optional<std::string> key_pem = store.load(layout::order_key(req.name, kt));
    if (!key_pem) {
        if (order.status != "pending" && order.status != "ready") return false;
        return true;  // key made below, before finalize
    }
    key = crypto::private_key_from_pem(*key_pem);
    ACME_LOG_NOTICE("acme: %s: resuming order %s (%s)", req.name.c_str(), order.url.c_str(),
                    order.status.c_str());
    return true;
}

struct PendingChallenge {
    Authorization authz;
    Challenge challenge;
    std::string key_authorization;
    bool presented = false;
};

// Cleans up every presented challenge when it goes out of scope.
class CleanupGuard {
public:
    CleanupGuard(ChallengeSolver& solver, std::vector<PendingChallenge>& todo)
        : solver_(solver), todo_(todo) {}
    ~CleanupGuard() {
        for (PendingChallenge& p : todo_) {
            if (p.presented) solver_.cleanup(p.authz.identifier, p.challenge, p.key_authorization);
            p.presented = false;
        }
    }
    CleanupGuard(const CleanupGuard&) = delete;
    CleanupGuard& operator=(const CleanupGuard&) = delete;

private:
    ChallengeSolver& solver_;
    std::vector<PendingChallenge>& todo_;
};

std::string offered_types(const Authorization& a) {
    std::string out;
    for (const Challenge& c : a.challenges) out += (out.empty() ? "" : ", ") + c.type;
    return out.empty() ? "none" : out;
}

Error authorization_failed(const Authorization& a, const std::string& type) {
    const std::string what = "authorization for " + a.identifier.value;
    for (const Challenge& c : a.challenges) {
        if (c.type == type && c.error.is_object()) return embedded_problem_error(c.error, what);
    }
    for (const Challenge& c : a.challenges) {
        if (c.error.is_object()) return embedded_problem_error(c.error, what);
    }
    return Error(Status::ca, what + " is " + a.status);
}

void solve_authorizations(Client& client, const Order& order, ChallengeSolver& solver,
                          const OrderRequest& req) {
    const std::string type = solver.type();
    std::vector<PendingChallenge> todo;
    for (const std::string& url : order.authorizations) {
        Authorization a = client.fetch_authorization(url);
        if (a.status == "valid") continue;
        if (a.status != "pending") throw authorization_failed(a, type);
        const Challenge* c = a.find(type);
        if (!c) {
            throw Error(Status::ca,
                        "acme: " + req.name + ": the CA offers no " + type + " challenge for " +
                            a.identifier.value + " (offered: " + offered_types(a) + ")",
                        true);
        }
        if (!layout::valid_token(c->token))
            fail(Status::protocol, "challenge " + c->url + ": malformed token");
        todo.push_back({a, *c, client.key_authorization(c->token)});
    }
    if (todo.empty()) return;

    CleanupGuard guard(solver, todo);
    for (PendingChallenge& p : todo) {
        solver.present(p.authz.identifier, p.challenge, p.key_authorization);
        p.presented = true;
    }
    for (PendingChallenge& p : todo) {
        if (p.challenge.status == "pending") client.respond_challenge(p.challenge.url);
    }
    for (PendingChallenge& p : todo) {
        Authorization a = client.wait_authorization(p.authz.url, req.authz_timeout_ms);
        if (a.status != "valid") throw authorization_failed(a, type);
        ACME_LOG_DEBUG("acme: %s: %s validated by %s", req.name.c_str(),
                       a.identifier.value.c_str(), type.c_str());
    }
}

}  // namespace

std::string check_issued(const crypto::Chain& chain, EVP_PKEY* key,
                         const std::vector<std::string>& names, std::string_view roots_pem,
                         int64_t now) {
    if (chain.empty()) return "the CA returned no certificate";
    X509* leaf = chain.front().get();
    if (!crypto::cert_matches_key(leaf, key)) return "the certificate does not match its key";
    if (!crypto::cert_covers_names(leaf, names)) return "the certificate does not cover every name";
    crypto::CertInfo info = crypto::cert_info(leaf);
    // A few minutes of clock skew between us and the CA is normal.
    if (info.not_before > now + 300) return "the certificate is not valid yet";
    if (info.not_after <= now) return "the certificate has expired";
    std::string chain_problem = crypto::verify_chain(chain, roots_pem, now);
    if (!chain_problem.empty())
        return "the chain does not verify against the trusted roots: " + chain_problem;
    return "";
}

IssuedCertificate run_order(Client& client, Store& store, const OrderRequest& req,
                            ChallengeSolver& solver) {
    const char* kt = crypto::key_type_name(req.key_type);
    const std::vector<Identifier> ids = identifiers_for(req.domains);
    Order order;
    crypto::PKey key;
    if (!resume_order(client, store, req, ids, order, key)) {
        forget_order(store, req.name, req.key_type);
        order = client.new_order(ids, req.profile, req.replaces);
        store.save(layout::order_json(req.name, kt), order_state(client, req, order).dump(),
                   Sensitivity::public_data);
        ACME_LOG_INFO("acme: %s: order %s placed (%s)", req.name.c_str(), order.url.c_str(), kt);
    }
    if (!key) {
        key = crypto::generate_key(req.key_type);
        store.save(layout::order_key(req.name, kt), crypto::private_key_to_pem(key.get()),
                   Sensitivity::secret);
    }

    if (order.status == "pending") {
        solve_authorizations(client, order, solver, req);
        order = client.wait_order(order.url, {"pending"}, req.order_timeout_ms);
    }
    if (order.status == "ready") {
        order = client.finalize(order, crypto::make_csr_der(key.get(), req.domains));
    }
    if (order.status == "processing" || order.status == "ready") {
        order = client.wait_order(order.url, {"processing", "ready"}, req.order_timeout_ms);
    }
    if (order.status == "invalid") {
        forget_order(store, req.name, req.key_type);
        throw embedded_problem_error(order.error, "acme: " + req.name + ": order " + order.url);
    }
    if (order.status != "valid" || order.certificate.empty())
        fail(Status::protocol, "order " + order.url + " ended as '" + order.status + "'");

    IssuedCertificate out;
    out.chain_pem = client.download_certificate(order.certificate, req.preferred_chain);
    out.key_pem = crypto::private_key_to_pem(key.get());
    out.order_url = order.url;
    crypto::Chain chain = crypto::parse_pem_chain(out.chain_pem);
    std::string problem = check_issued(chain, key.get(), req.domains, req.chain_roots_pem,
                                       system_clock().now());
    if (!problem.empty()) {
        // Keep the order: a later attempt re-downloads; the certificate in service stays.
        throw Error(Status::verify, "acme: " + req.name + ": " + problem);
    }
    return out;
}

void forget_order(Store& store, const std::string& name, crypto::KeyType key_type) {
    const char* kt = crypto::key_type_name(key_type);
    store.remove(layout::order_json(name, kt));
    store.remove(layout::order_key(name, kt));
}

}  // namespace acme::proto
