// The per-process certificate cache that the TLS handshake reads.
//
// Contract:
//  - A CachedCert holds, per key type, an immutable Entry (parsed leaf, chain, key) published
//    through an atomic pointer. apply() is the handshake path: one atomic load of the store's
//    shared generation counter; when it is unchanged, one atomic load per key type and
//    SSL_use_cert_and_key with the cached objects: no allocation of ours, no parsing, no syscall.
//  - When the generation moved, the first handshake that sees it re-reads the bundles whose
//    identity (Store::identity_of: inode, size, mtime) changed, through the store's safe reads
//    (Store::load_with_identity: no symbolic link followed, nothing but a regular file of the
//    store's owner opened, never blocking on a FIFO), parses, checks key/certificate match, and
//    publishes the new entries; handshakes of other threads that arrive meanwhile wait for it
//    (well under a millisecond, once per install) rather than present the certificate just
//    replaced. A bundle that does not parse or does not match keeps the previous entry in service
//    (logged once per bundle version).
//  - When a bundle cannot be read for an I/O reason (anything but "missing": EMFILE, EACCES, a
//    refused link or FIFO, ...), the generation is not marked as seen: a later handshake retries,
//    at most once per retry interval (kRetryMs; read from CLOCK_MONOTONIC_COARSE on that rare
//    path only), and the certificate in service stays meanwhile. The failure is logged once (and
//    again only when it changes), the recovery once.
//  - A replaced entry is freed as soon as no handshake can still be using it: apply() counts
//    itself in `readers_` (two atomic operations, no lock) from before it loads an entry until
//    OpenSSL has taken its own references (SSL_use_cert_and_key); replaced entries wait in a
//    retired list that is emptied whenever no reader is in flight (checked at every reload, and
//    by the first handshake after an install that finds the list non-empty, with a try-lock that
//    never waits). So memory does not grow with the number of installs: a process holds the
//    entries in service plus, at most for the moment of a swap, the ones just replaced; OpenSSL
//    frees the certificates and keys when the last connection using them goes.
//  - reload() / apply() are thread-safe; the object is created and destroyed by one thread.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "crypto/crypto.h"
#include "store/store.h"

namespace acme::cache {

struct Entry {
    crypto::X509Ptr leaf;
    std::unique_ptr<STACK_OF(X509), void (*)(STACK_OF(X509)*)> chain{nullptr, nullptr};
    crypto::PKey key;
    int64_t not_after = 0;
    bool fallback = false;
    // Identity of the stored value it was read from.
    FileIdentity source;
    // Identity of the OCSP response read with it (std::nullopt: none was stored). A response that
    // fits the leaf is attached to the leaf (see apply_staple).
    std::optional<FileIdentity> ocsp_source;
    bool stapled = false;
};

class CachedCert {
public:
    static constexpr size_t kMaxTypes = 2;
    static constexpr int64_t kRetryMs = 1000;

    // `retry_ms`: how long after a failed reload the next attempt waits (tests shorten it).
    CachedCert(Store& store, std::string name, std::vector<crypto::KeyType> types,
               int64_t retry_ms = kRetryMs);
    ~CachedCert();
    CachedCert(const CachedCert&) = delete;
    CachedCert& operator=(const CachedCert&) = delete;

    // Handshake path (see the contract). Returns 1, or 0 when OpenSSL refused the objects.
    int apply(SSL* ssl) noexcept;

    // Reads the stored bundles (falling back to the fallback bundles) now. Throws Error(io) after
    // an I/O error (the bundles that could be read are published; handshakes retry the rest as
    // above); a missing file is not an error (the entry stays empty). Returns true when something
    // changed.
    bool reload();

    // Publishes `entry` (a stand-in made in memory) for key type i; a later reload() replaces it
    // only with what the store holds.
    void adopt(size_t i, std::unique_ptr<Entry> entry);

    const std::string& name() const { return name_; }
    size_t type_count() const { return types_.size(); }
    crypto::KeyType type(size_t i) const { return types_.at(i); }
    // The PEM text (key, leaf, chain) of the entry in use for key type i, and whether it is the
    // fallback; nullopt when there is none. Safe while handshakes reload the entry.
    std::optional<std::pair<std::string, bool>> current_pem(size_t i) const;

    // Replaced entries not freed yet (tests).
    size_t retired_count();

    // The entry in use for key type i, or nullptr. Only for a caller that no reload can run
    // beside (configuration time, tests): another thread's reload may free it.
    const Entry* current(size_t i) const noexcept {
        return i < kMaxTypes ? current_[i].load(std::memory_order_acquire) : nullptr;
    }

private:
    // A bundle version that did not parse (not retried until it changes).
    struct Refused {
        bool fallback = false;
        FileIdentity source;
    };

    void refresh_if_moved() noexcept;
    // Reloads every key type; I/O failures are collected in *failure ("" when there were none).
    bool reload_locked(std::string* failure);
    bool reload_type(size_t i);  // throws on I/O errors
    // Records the outcome of a reload of generation `gen` (retry state, logging).
    void settle(uint64_t gen, const std::string& failure, bool log);
    bool retry_pending(uint64_t gen) const noexcept;
    // Under refresh_mu_: queues `old` and frees the queue when no reader is in flight.
    void retire(const Entry* old);
    void reclaim();

    Store& store_;
    std::string name_;
    std::vector<crypto::KeyType> types_;
    const int64_t retry_ms_;
    std::array<std::atomic<const Entry*>, kMaxTypes> current_{};
    std::atomic<uint64_t> seen_generation_{~uint64_t{0}};
    // The generation whose reload failed, and when (CLOCK_MONOTONIC_COARSE, ms) to try again.
    std::atomic<uint64_t> failed_generation_{~uint64_t{0}};
    std::atomic<int64_t> retry_at_ms_{0};
    std::mutex refresh_mu_;
    // Handshakes between loading an entry pointer and OpenSSL's own references to its objects.
    mutable std::atomic<uint64_t> readers_{0};
    std::atomic<bool> retired_pending_{false};
    std::vector<const Entry*> retired_;  // guarded by refresh_mu_
    std::string failure_;                                    // guarded: the failure last logged
    std::array<std::optional<Refused>, kMaxTypes> refused_;  // guarded by refresh_mu_
};

// Parses a bundle (private key + leaf + chain in one PEM text) into an Entry; throws
// Error(invalid) when it lacks a key or a certificate, or when they do not match.
std::unique_ptr<Entry> parse_bundle(const std::string& pem);

// The PEM text of an entry: private key, leaf, chain.
std::string entry_pem(const Entry& e);

// SSL_CTX_set_tlsext_status_cb() callback body: staples the OCSP response attached to the
// certificate OpenSSL chose for this handshake, if any and still current. One copy of the
// response is made, because OpenSSL frees the buffer it is given (nginx's own stapling does the
// same); nothing is parsed or read. Returns SSL_TLSEXT_ERR_OK or SSL_TLSEXT_ERR_NOACK.
int apply_staple(SSL* ssl) noexcept;
// Attaches a (checked) OCSP response to `leaf` until it is freed; for parse_bundle's callers.
bool attach_staple(X509* leaf, std::string der, int64_t next_update) noexcept;

// tls-alpn-01: marks a handshake to be answered with a validation certificate.
// The SSL owns the attached objects (freed with the SSL).
bool attach_alpn_challenge(SSL* ssl, crypto::X509Ptr cert, crypto::PKey key) noexcept;
bool has_alpn_challenge(SSL* ssl) noexcept;
// Serves the attached validation certificate, if any, and nothing else (the certificates the SSL
// copied from its SSL_CTX are cleared, so OpenSSL cannot pick another key type). Returns true
// when it did.
bool apply_alpn_challenge(SSL* ssl) noexcept;

}  // namespace acme::cache
