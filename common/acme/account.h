// ACME accounts: one per CA directory URL and EAB key id, created once and reused forever (across
// orders, restarts and processes), stored as accounts/<account-id>/account.json + account.key
// (see account_id()). Two EAB keys at one CA are two accounts: a single-use key is spent on its
// own account and never silently replaced by another's.
//
// Contract:
//  - ensure_account() sets the account key and URL on the client, loading them from the store or
//    registering a new account. The key is saved (0600) BEFORE the CA sees it, so a crash after
//    the CA created the account never loses it: the next run re-registers the same key, which the
//    CA answers with the existing account (RFC 8555 section 7.3.1) without spending a single-use
//    EAB key again (lookup with onlyReturnExisting comes first).
//  - A loaded account whose stored contacts differ from the configured ones (when any are
//    configured) is updated at the CA (RFC 8555 section 7.3.2) before it is used.
//  - Refuses (permanent Error(invalid)) to register when the CA has terms of service that the
//    configuration does not agree to, or requires EAB that the configuration lacks.
//  - Callers serialise account creation per CA (the engine holds the store lock
//    "account-<ca-id>" around it, across processes);
//    rollover_account_key() writes the new key as account.key.next before asking the CA and
//    promotes it after, so an interrupted rollover is recovered on the next load.
#pragma once

#include <string>
#include <vector>

#include "acme/client.h"
#include "crypto/crypto.h"
#include "json/json.h"
#include "store/store.h"
#include "util/error.h"

namespace acme::proto {

struct AccountSettings {
    std::vector<std::string> contacts;  // "mailto:..." URLs
    bool agree_tos = false;
    std::string eab_kid, eab_hmac_key, eab_alg;
    crypto::KeyType key_type = crypto::KeyType::ecdsa_p256;
};

// The account's id in the store (layout::account_id), or, for an EAB account that a store made
// before accounts were kept per key id holds under the CA's id alone, that id.
std::string account_id(Store& store, const std::string& directory_url,
                       const AccountSettings& settings);

// Returns true when a new account was registered, false when a stored one was loaded.
bool ensure_account(Client& client, Store& store, const AccountSettings& settings);

// True when `e` says the CA does not know the account the client signs as.
bool is_account_missing(const Error& e);

// Re-registers the stored key after the CA said accountDoesNotExist (e.g. a CA that lost its
// state); the client keeps its key and gets the (possibly new) account URL.
void reregister_account(Client& client, Store& store, const AccountSettings& settings);

// {"ca","url","status","contacts","key_type","thumbprint","created"}; fetches the account from the
// CA when `refresh` is set. Throws Error(not_found) when no account is stored and none is created.
Json account_info(Client& client, Store& store, const AccountSettings& settings, bool refresh);

void rollover_account_key(Client& client, Store& store, const AccountSettings& settings,
                          crypto::KeyType new_type);

}  // namespace acme::proto
