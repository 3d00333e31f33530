// One certificate order, start to finish (RFC 8555 section 7.4), resumable after a crash.
//
// Contract:
//  - run_order() blocks until the certificate is issued and verified, or throws acme::Error.
//  - The order in progress is persisted as orders/<name>.<keytype>.json with its private key in
//    orders/<name>.<keytype>.key (0600) from the moment the CA accepted it. A later run_order() for
//    the same certificate, key type, CA, account and identifiers resumes it (a process killed
//    during an order does not start over and does not waste the CA's rate limits). A resumed order
//    the CA no longer knows, or that turned invalid, is discarded and a new one is placed.
//  - The returned certificate has been verified: the leaf matches the key, covers every name, is
//    currently valid, and the chain's signatures link up. Anything else throws Error(verify) and
//    nothing is returned. The caller installs the result and then calls forget_order().
//  - Every solver present() is paired with a cleanup(), also on failure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "acme/client.h"
#include "acme/solver.h"
#include "crypto/crypto.h"
#include "store/store.h"

namespace acme::proto {

struct OrderRequest {
    std::string name;                   // store name
    std::vector<std::string> domains;   // normalised names (dns and ip)
    crypto::KeyType key_type = crypto::KeyType::ecdsa_p256;
    std::string profile;                // "" = CA default
    std::string replaces;               // ARI CertID of the certificate this one replaces
    std::string preferred_chain;        // issuer CN of the preferred chain's top, "" = default
    std::string chain_roots_pem;        // roots the chain must reach; "" = system trust store
    int64_t authz_timeout_ms = 120000;  // per authorization, after answering
    int64_t order_timeout_ms = 120000;  // finalize to valid
};

struct IssuedCertificate {
    std::string key_pem;    // PKCS#8 private key
    std::string chain_pem;  // leaf first
    std::string order_url;
};

IssuedCertificate run_order(Client& client, Store& store, const OrderRequest& request,
                            ChallengeSolver& solver);

// Removes the persisted order state of `name`/`key_type` (after the result was installed).
void forget_order(Store& store, const std::string& name, crypto::KeyType key_type);

// Checks an issued chain for `names` against `key`, and that a client trusting `roots_pem` (the
// system trust store when empty) verifies it (crypto::verify_chain); returns "" when good, else
// the reason.
std::string check_issued(const crypto::Chain& chain, EVP_PKEY* key,
                         const std::vector<std::string>& names, std::string_view roots_pem,
                         int64_t now);

}  // namespace acme::proto
