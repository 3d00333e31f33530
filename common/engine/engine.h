// The engine: the managed certificates of one store, the background driver, and the one-shot
// operations acmectl uses. capi/ wraps it one-to-one.
//
// Contract:
//  - Lifecycle: construct, add() every certificate, prepare() (privileged parent, before fork),
//    then start() in each worker/child; stop() before that process exits (the destructor stops
//    too). add() after prepare() is refused.
//  - The driver thread: takes the store lock "driver-<config id>" (config id = digest of every
//    managed certificate's configuration, so two servers with different configurations on one
//    store each drive their own certificates) or retries it every lock_retry_ms. The holder
//    decides per certificate with engine/scheduler.h, orders with bounded concurrency (each order
//    on its own thread, holding the store lock "cert-<name>" so that no two processes ever order
//    the same certificate at once), polls ARI, installs, and bumps the store generation.
//  - Installing a certificate: the old bundle is archived, the new bundle (key + chain) written
//    atomically, meta.json updated, then the generation bumped: every process's cache picks it up
//    on its next handshake. Nothing that failed check_issued() is ever installed, and a failed
//    order leaves the certificate in service untouched.
//  - Handshake-side calls (cert(i)->cached().apply(), http01_lookup, tls_alpn01_*) are
//    thread-safe and never wait for the driver.
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "acme/client.h"
#include "cache/cache.h"
#include "engine/cert_meta.h"
#include "engine/config.h"
#include "engine/status.h"
#include "http/transport.h"
#include "json/json.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/error.h"

namespace acme::engine {

struct EngineOptions {
    std::string store_dir;
    std::string user_agent;  // appended to "acme-module/<version>"
    unsigned max_concurrency = 2;
    unsigned lock_retry_ms = 2000;
    const Clock* clock = nullptr;  // nullptr = system clock
    // A configuration test: the store is opened read-only (nothing created or written),
    // prepare() makes stand-ins in memory, start() refuses.
    bool read_only = false;
    // Tests: makes the transports (to the CA, to OCSP responders) instead of libcurl.
    std::function<std::unique_ptr<Transport>(const TransportOptions&)> transport_factory;
};

class ManagedCert {
public:
    ManagedCert(CertConfig cfg, Store& store);
    const CertConfig& config() const { return config_; }
    const std::string& name() const { return config_.name; }
    const std::string& hash() const { return hash_; }
    cache::CachedCert& cached() { return *cached_; }
    // A server staples OCSP responses for it (set in the parent before the fork; read after).
    void set_stapled() { stapled_ = true; }
    bool stapled() const { return stapled_; }
    bool config_has_key_type(std::string_view key_type) const;
    // Path of the bundle of key type i to load at startup: the stored one, or the fallback
    // (sets *fallback). Re-reads the store first.
    std::string startup_file(size_t i, bool* fallback);

private:
    friend class Engine;
    CertConfig config_;
    std::string hash_;
    Store& store_;
    std::unique_ptr<cache::CachedCert> cached_;
    bool in_flight_ = false;       // guarded by Engine::mu_
    bool account_checked_ = false;  // driver thread only: contacts compared since takeover
    bool stapled_ = false;
    // Not before this (ms): another process holds its lock, or work on it failed in a way the
    // schedule did not record. Guarded by Engine::mu_.
    int64_t not_before_ms_ = 0;
};

// An order failure that order() has already recorded in the schedule and logged.
class RecordedFailure : public Error {
public:
    explicit RecordedFailure(const Error& e) : Error(e) {}
};

class Engine {
public:
    explicit Engine(EngineOptions options);
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    ManagedCert& add(CertConfig cfg);
    void prepare(long uid, long gid);
    void start();
    void stop() noexcept;

    size_t size() const { return certs_.size(); }
    ManagedCert& cert(size_t i) { return *certs_.at(i); }
    FsStore& store() { return *store_; }

    // One-shot operations (acmectl). Block the calling thread.
    // Orders now when nothing is stored, the configuration changed, it is due, or `force`.
    // Returns false when nothing was due (and nothing was done).
    bool issue_now(ManagedCert& mc, bool force);
    void revoke(ManagedCert& mc, int reason, bool use_cert_key);
    Json account_show(AccountConfig cfg, bool create);
    void account_rollover(AccountConfig cfg, std::optional<crypto::KeyType> type);
    std::string status(bool prometheus, bool all_stored);

    // Challenge lookups for the servers.
    // Throws Error(invalid) for a malformed token; nullopt for an unknown one.
    std::optional<std::string> http01_lookup(std::string_view token);
    // PEM key + certificate for a pending tls-alpn-01 challenge of `server_name`, or nullopt.
    std::optional<std::string> tls_alpn01_bundle(std::string_view server_name);

private:
    struct Work;  // one order or ARI poll on its own thread

    void driver_loop();
    void drive_once(int64_t now, int64_t& next_wake);
    enum class Task { order, ari, account, ocsp };
    void launch(ManagedCert& mc, Task task);
    void hold_off(ManagedCert& mc, int64_t ms);
    void reap_finished();
    // The order itself, at the current CA and, while CAs cannot be reached or fail on their
    // side, at the next ones; records the outcome in meta.json and logs it. Throws
    // RecordedFailure on failure (Error(busy) when another process holds the certificate).
    void order(ManagedCert& mc, const std::vector<crypto::KeyType>& types,
               const std::atomic<bool>* cancel);
    // Whether a badNonce that survived the client's own retries gets another try of its step
    // (logs it); `retries` is how many it had.
    bool nonce_retry(const ManagedCert& mc, const Error& e, int retries,
                     const std::atomic<bool>* cancel) const;
    // One CA's part of order(): account, order, challenges, install. Throws on failure.
    void order_at(ManagedCert& mc, CertMeta& meta, const std::vector<crypto::KeyType>& types,
                  const std::string& ca_url, const std::atomic<bool>* cancel);
    void poll_ari(ManagedCert& mc, const std::atomic<bool>* cancel);
    // True when the configured contacts differ from the ones the stored account was given (a
    // store read, no request); sync_account() then updates them at the CA.
    bool account_outdated(ManagedCert& mc) noexcept;
    void sync_account(ManagedCert& mc, const std::atomic<bool>* cancel);
    // OCSP for a certificate a server staples: when the next response is due (0: none is, or it
    // is not stapled); fetch_ocsp() fetches, checks and stores the due ones and bumps the
    // generation, so every process staples them from its cache.
    int64_t ocsp_due(ManagedCert& mc) noexcept;
    void fetch_ocsp(ManagedCert& mc, const std::atomic<bool>* cancel);
    // The fetch itself, under the certificate's lock; true when a response was stored.
    bool fetch_ocsp_locked(ManagedCert& mc, CertMeta& meta, const std::atomic<bool>* cancel);
    // Removes pending challenges older than any order waits (left by a process killed in the
    // middle of one), so that they are no longer answered. On takeover and after each order.
    void sweep_stale_challenges() noexcept;
    // What needs ordering now; empty when nothing is due. Updates (and saves) the schedule:
    // under the certificate's lock, taken here unless the caller holds it (`cert_locked`).
    std::vector<crypto::KeyType> due_types(ManagedCert& mc, bool force, int64_t now,
                                           Decision* decision, bool cert_locked = false);
    // meta.json reconciled with the stored bundles. With `stale`, also which key types hold a
    // certificate that no longer fits the configuration (names, CA).
    CertMeta load_meta(const ManagedCert& mc, std::vector<bool>* stale = nullptr);
    void save_meta(const CertMeta& meta);
    bool matches_config(const ManagedCert& mc, const CertMeta& meta) const;
    void install(ManagedCert& mc, CertMeta& meta, crypto::KeyType type, const std::string& key_pem,
                 const std::string& chain_pem, const std::string& ca_url);
    void ensure_fallback(ManagedCert& mc, size_t i);
    void prune_archive(const std::string& name, const char* key_type);
    // A transport to the CA, or (ocsp) to an OCSP responder: plain http allowed, small answers.
    std::unique_ptr<Transport> transport_for(const AccountConfig& account,
                                             bool ocsp = false) const;
    // The roots an issued chain (and an OCSP signer) must reach; "" = the system trust store.
    std::string chain_roots_pem(const AccountConfig& account) const;
    void with_account(proto::Client& client, const AccountConfig& account, bool create);
    std::string config_id() const;
    void publish_driver_state();  // the driving process's DriverStatus into the store

    EngineOptions options_;
    const Clock& clock_;
    std::unique_ptr<FsStore> store_;
    std::vector<std::unique_ptr<ManagedCert>> certs_;
    bool prepared_ = false;

    // Driver state.
    std::mutex mu_;
    std::condition_variable cv_;
    std::thread driver_;
    std::atomic<bool> stopping_{false};
    std::atomic<bool> driver_active_{false};
    std::atomic<bool> started_{false};  // start() ran and stop() has not
    std::vector<std::unique_ptr<Work>> work_;  // guarded by mu_
    std::string working_on_;                   // guarded by mu_
    int64_t next_wakeup_ = 0;                  // guarded by mu_
    int64_t driving_since_ = 0;                // guarded by mu_
    std::string published_;                    // last driver state written (driver thread)
};

// RFC 8738 section 6: the IP address a reverse-DNS SNI name stands for ("4.3.2.1.in-addr.arpa"
// -> "1.2.3.4", ip6.arpa nibbles -> canonical IPv6); other names are returned unchanged.
std::string reverse_dns_to_ip(std::string_view sni);

// The scheduler's randomness in production.
int64_t random_between(int64_t lo, int64_t hi);

}  // namespace acme::engine
