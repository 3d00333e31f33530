// The RFC 8555 protocol client: one CA directory, one account key.
//
// Contract:
//  - Thread-compatible: one thread uses a Client at a time (its Transport is single-threaded too).
//  - Every request to the CA goes through post() (JWS-signed POST or POST-as-GET) except the
//    directory, newNonce and renewalInfo GETs. post() keeps one Replay-Nonce from the last response
//    and, on badNonce, retries with the nonce of the error response (up to kMaxBadNonceRetries).
//  - Failures throw acme::Error: Status::ca with the problem type, subproblems, permanence and
//    Retry-After for problem documents; Status::protocol for answers we cannot use;
//    Status::network from the transport.
//  - Waits (polling) use the Clock and stop early, throwing Error(internal, "cancelled"), when the
//    cancel flag is set; they start fast (50 ms) and honour Retry-After.
//  - No method logs key material; debug logs name URLs and statuses only.
#pragma once

#include <atomic>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "acme/types.h"
#include "crypto/crypto.h"
#include "http/transport.h"
#include "util/clock.h"

namespace acme::proto {

class Client {
public:
    static constexpr int kMaxBadNonceRetries = 30;

    Client(Transport& transport, std::string directory_url, const Clock& clock = system_clock());

    // Fetched on first use and cached.
    const Directory& directory();
    const std::string& directory_url() const { return directory_url_; }

    void set_account_key(crypto::PKey key);
    EVP_PKEY* account_key() const { return account_key_.get(); }
    void set_account_url(std::string url) { account_url_ = std::move(url); }
    const std::string& account_url() const { return account_url_; }
    // Aborts waits when *flag becomes true; nullptr disables.
    void set_cancel_flag(const std::atomic<bool>* flag) { cancel_ = flag; }

    // token "." base64url(JWK thumbprint of the account key) (RFC 8555 section 8.1).
    std::string key_authorization(const std::string& token) const;
    // dns-01 TXT value: base64url(SHA-256(key authorization)) (RFC 8555 section 8.4).
    static std::string dns01_txt_value(const std::string& key_authorization);

    struct NewAccount {
        std::vector<std::string> contacts;  // "mailto:..." URLs
        bool agree_tos = false;
        bool only_return_existing = false;
        std::string eab_kid, eab_hmac_key, eab_alg;  // all empty: no EAB
    };
    // newAccount; on success the account URL is set on the client. With only_return_existing an
    // unknown key throws Error(ca, accountDoesNotExist).
    Account new_account(const NewAccount& request);
    Account fetch_account();
    // Replaces the account's contacts (RFC 8555 section 7.3.2); returns the account as updated.
    Account update_account_contacts(const std::vector<std::string>& contacts);
    // RFC 8555 section 7.3.5. On success the client signs with the new key from then on.
    void key_change(crypto::PKey new_key);

    Order new_order(const std::vector<Identifier>& identifiers, const std::string& profile = "",
                    const std::string& replaces = "");
    Order fetch_order(const std::string& url);
    Authorization fetch_authorization(const std::string& url);
    Challenge respond_challenge(const std::string& url);
    // Sends the CSR; returns the order as the CA answered (often "processing").
    Order finalize(const Order& order, const std::string& csr_der);

    // Polls until the status leaves `while_status`; returns the last state. Throws on timeout.
    Authorization wait_authorization(const std::string& url, int64_t timeout_ms);
    Order wait_order(const std::string& url, const std::set<std::string>& while_status,
                     int64_t timeout_ms);

    // Downloads the chain (PEM, leaf first). With a non-empty `preferred_issuer_cn`, alternate
    // chains (Link rel="alternate") are fetched too and the first chain whose topmost certificate
    // was issued by that common name is returned; the default chain when none matches.
    std::string download_certificate(const std::string& url,
                                     const std::string& preferred_issuer_cn = "");

    // revokeCert, signed by the account key or (cert_key != nullptr) by the certificate's key.
    void revoke(const std::string& cert_der, int reason, EVP_PKEY* cert_key = nullptr);

    // RFC 9773 renewalInfo for an ARI CertID; nullopt when the CA offers no ARI.
    std::optional<RenewalInfo> renewal_info(const std::string& cert_id);

    struct Response {
        HttpResponse http;
        Json body;             // parsed when the body is JSON, else null
        std::string location;  // Location header
    };
    // A signed POST; payload nullopt = POST-as-GET. use_jwk signs with the JWK instead of the
    // account URL (newAccount, revocation by certificate key). `signer` overrides the key.
    Response post(const std::string& url, const std::optional<Json>& payload,
                  const std::string& context, bool use_jwk = false, EVP_PKEY* signer = nullptr,
                  const char* accept = nullptr);

private:
    std::string take_nonce();
    void remember_nonce(const HttpResponse& r);
    void check_cancel() const;
    void sleep_poll(int64_t& interval_ms, const HttpResponse& last, int64_t deadline_ms);

    Transport& transport_;
    std::string directory_url_;
    const Clock& clock_;
    std::optional<Directory> directory_;
    crypto::PKey account_key_;
    std::string account_url_;
    std::string nonce_;
    const std::atomic<bool>* cancel_ = nullptr;
};

}  // namespace acme::proto
