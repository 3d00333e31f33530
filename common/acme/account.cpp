#include "acme/account.h"

#include "acme/problem.h"
#include "store/layout.h"
#include "util/clock.h"
#include "util/log.h"

namespace acme::proto {
namespace {

std::string next_key_name(const std::string& ca_id) { return layout::account_key(ca_id) + ".next"; }

void check_terms(const Client::NewAccount& req, const Directory& dir) {
    if (!dir.terms_of_service.empty() && !req.agree_tos) {
        throw Error(Status::invalid,
                    "acme: the CA " + dir.url + " requires agreeing to its terms of service (" +
                        dir.terms_of_service +
                        "); agree to them (nginx: acme_agree_tos on; httpd: ACMEAgreeTOS On; "
                        "acmectl: --agree-tos)",
                    true);
    }
    if (dir.external_account_required && req.eab_kid.empty()) {
        throw Error(Status::invalid,
                    "acme: the CA " + dir.url +
                        " requires an external account binding (nginx: acme_eab KID KEY; httpd: "
                        "ACMEExternalAccountBinding KID KEY; acmectl: --eab-kid KID --eab-hmac KEY)",
                    true);
    }
}

Client::NewAccount new_account_request(const AccountSettings& s) {
    Client::NewAccount req;
    req.contacts = s.contacts;
    req.agree_tos = s.agree_tos;
    req.eab_kid = s.eab_kid;
    req.eab_hmac_key = s.eab_hmac_key;
    req.eab_alg = s.eab_alg;
    return req;
}

void save_account_json(Client& client, Store& store, const std::string& ca_id,
                       const AccountSettings& s, const Account& account,
                       const std::string& created = "") {
    Json j = Json::object();
    j.set("ca", client.directory_url());
    j.set("url", client.account_url());
    j.set("status", account.status);
    Json contacts = Json::array();
    for (const std::string& c : s.contacts) contacts.append(c);
    j.set("contacts", contacts);
    if (!s.eab_kid.empty()) j.set("eab_kid", s.eab_kid);  // the kid only, never the HMAC key
    j.set("created", created.empty() ? format_rfc3339(system_clock().now()) : created);
    store.save(layout::account_json(ca_id), j.dump(Json::pretty), Sensitivity::public_data);
}

std::string joined(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& x : v) out += (out.empty() ? "" : ", ") + x;
    return out.empty() ? "none" : out;
}

// The configured contacts reach the CA (RFC 8555 section 7.3.2) when they differ from the ones
// the account was last given. An empty configuration leaves the account's contacts alone.
void update_contacts(Client& client, Store& store, const std::string& id,
                     const AccountSettings& s, const Json& stored) {
    const std::vector<std::string> before = stored.strings("contacts");
    if (s.contacts.empty() || before == s.contacts) return;
    Account a = client.update_account_contacts(s.contacts);
    save_account_json(client, store, id, s, a, stored.str("created"));
    ACME_LOG_NOTICE("acme: account %s: contacts updated at the CA (%s, before: %s)",
                    client.account_url().c_str(), joined(s.contacts).c_str(),
                    joined(before).c_str());
}

// Registers the key the client holds: first a lookup (no EAB spent), then a real newAccount.
Account register_key(Client& client, const AccountSettings& s) {
    Client::NewAccount lookup;
    lookup.only_return_existing = true;
    try {
        Account a = client.new_account(lookup);
        ACME_LOG_INFO("acme: found the existing account %s at %s", client.account_url().c_str(),
                      client.directory_url().c_str());
        return a;
    } catch (const Error& e) {
        if (problem_short(e.problem_type()) != "accountDoesNotExist") throw;
    }
    Client::NewAccount req = new_account_request(s);
    check_terms(req, client.directory());
    Account a = client.new_account(req);
    ACME_LOG_NOTICE("acme: registered account %s at %s", client.account_url().c_str(),
                    client.directory_url().c_str());
    return a;
}

}  // namespace

std::string account_id(Store& store, const std::string& directory_url,
                       const AccountSettings& s) {
    std::string id = layout::account_id(directory_url, s.eab_kid);
    if (s.eab_kid.empty() || store.load(layout::account_json(id))) return id;
    // Stores written before accounts were kept per EAB key id hold it under the CA's id alone.
    const std::string legacy = layout::ca_id(directory_url);
    if (std::optional<std::string> info = store.load(layout::account_json(legacy))) {
        try {
            if (Json::parse(*info).str("eab_kid") == s.eab_kid) return legacy;
        } catch (const Error&) {
            // not that account
        }
    }
    return id;
}

bool is_account_missing(const Error& e) {
    return problem_short(e.problem_type()) == "accountDoesNotExist";
}

bool ensure_account(Client& client, Store& store, const AccountSettings& s) {
    const std::string ca_id = account_id(store, client.directory_url(), s);
    std::optional<std::string> key_pem = store.load(layout::account_key(ca_id));
    std::optional<std::string> info = store.load(layout::account_json(ca_id));
    std::optional<std::string> next_pem = store.load(next_key_name(ca_id));

    if (key_pem && info) {
        Json j;
        try {
            j = Json::parse(*info);
        } catch (const Error& e) {
            ACME_LOG_WARN("acme: %s is corrupt (%s); looking the account up again",
                          layout::account_json(ca_id).c_str(), e.what());
        }
        std::string url = j.str("url");
        if (!url.empty()) {
            client.set_account_key(crypto::private_key_from_pem(*key_pem));
            client.set_account_url(url);
            if (next_pem) {
                // An interrupted rollover: find out which key the CA has now.
                try {
                    client.fetch_account();
                    store.remove(next_key_name(ca_id));
                } catch (const Error& e) {
                    if (e.status() != Status::ca) throw;
                    client.set_account_key(crypto::private_key_from_pem(*next_pem));
                    client.fetch_account();
                    store.save(layout::account_key(ca_id), *next_pem, Sensitivity::secret);
                    store.remove(next_key_name(ca_id));
                    ACME_LOG_NOTICE("acme: completed an interrupted account key rollover");
                }
            }
            update_contacts(client, store, ca_id, s, j);
            return false;
        }
    }

    // No usable account record: reuse a stored key (a previous run may have registered it) or make
    // one, and store it before the CA sees it.
    if (key_pem) {
        client.set_account_key(crypto::private_key_from_pem(*key_pem));
    } else {
        crypto::PKey key = crypto::generate_key(s.key_type);
        store.save(layout::account_key(ca_id), crypto::private_key_to_pem(key.get()),
                   Sensitivity::secret);
        client.set_account_key(std::move(key));
    }
    Account a = register_key(client, s);
    if (a.status != "valid")
        throw Error(Status::ca, "acme: account " + client.account_url() + " is " + a.status, true);
    save_account_json(client, store, ca_id, s, a);
    return true;
}

void reregister_account(Client& client, Store& store, const AccountSettings& s) {
    const std::string ca_id = account_id(store, client.directory_url(), s);
    ACME_LOG_WARN("acme: the CA %s does not know account %s; registering the key again",
                  client.directory_url().c_str(), client.account_url().c_str());
    client.set_account_url("");
    Client::NewAccount req = new_account_request(s);
    check_terms(req, client.directory());
    Account a = client.new_account(req);
    save_account_json(client, store, ca_id, s, a);
}

Json account_info(Client& client, Store& store, const AccountSettings& s, bool refresh) {
    const std::string ca_id = account_id(store, client.directory_url(), s);
    std::optional<std::string> info = store.load(layout::account_json(ca_id));
    std::optional<std::string> key_pem = store.load(layout::account_key(ca_id));
    if (!info || !key_pem)
        throw Error(Status::not_found, "acme: no account stored for " + client.directory_url());
    Json j = Json::parse(*info);
    crypto::PKey key = crypto::private_key_from_pem(*key_pem);
    Json out = Json::object();
    out.set("ca", client.directory_url());
    out.set("url", j.str("url"));
    out.set("key_type", crypto::key_type_name(crypto::key_type_of(key.get())));
    out.set("thumbprint", crypto::jwk_thumbprint(key.get()));
    out.set("created", j.str("created"));
    Json contacts = Json::array();
    for (const std::string& c : j.strings("contacts")) contacts.append(c);
    out.set("contacts", contacts);
    out.set("status", j.str("status", "valid"));
    if (refresh) {
        client.set_account_key(std::move(key));
        client.set_account_url(j.str("url"));
        Account a = client.fetch_account();
        out.set("status", a.status);
        Json live = Json::array();
        for (const std::string& c : a.contacts) live.append(c);
        out.set("contacts", live);
    }
    return out;
}

void rollover_account_key(Client& client, Store& store, const AccountSettings& s,
                          crypto::KeyType new_type) {
    const std::string ca_id = account_id(store, client.directory_url(), s);
    crypto::PKey next = crypto::generate_key(new_type);
    const std::string next_pem = crypto::private_key_to_pem(next.get());
    store.save(next_key_name(ca_id), next_pem, Sensitivity::secret);
    try {
        client.key_change(std::move(next));
    } catch (const Error& e) {
        // A refusal means the CA still has the old key. Anything else (a lost answer) leaves
        // account.key.next for ensure_account() to reconcile.
        if (e.status() == Status::ca) store.remove(next_key_name(ca_id));
        throw;
    }
    store.save(layout::account_key(ca_id), next_pem, Sensitivity::secret);
    store.remove(next_key_name(ca_id));
    ACME_LOG_NOTICE("acme: account %s now uses a new %s key", client.account_url().c_str(),
                    crypto::key_type_name(new_type));
}

}  // namespace acme::proto
