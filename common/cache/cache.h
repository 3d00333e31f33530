// The per-process certificate cache that the TLS handshake reads.
//
// Contract:
//  - A CachedCert holds, per key type, an immutable Entry (parsed leaf, chain, key) published
//    through an atomic pointer. apply() is the handshake path: one atomic load of the store's
//    shared generation counter; when it is unchanged, one atomic load per key type and
//    SSL_use_cert_and_key with the cached objects: no allocation of ours, no parsing, no syscall.
//  - When the generation moved, the first handshake that sees it re-reads the bundle files whose
//    identity (inode, size, mtime) changed, parses, checks key/certificate match, and publishes
//    the new entries; handshakes of other threads that arrive meanwhile wait for it (well under a
//    millisecond, once per install) rather than present the certificate just replaced. A bundle
//    that does not parse or does not match keeps the previous entry in service.
//  - Replaced entries are retired, not freed, for kRetireSeconds, so a handshake that loaded
//    the old pointer just before the swap still reads valid objects (OpenSSL takes its own
//    references inside SSL_use_cert_and_key).
//  - reload() / apply() are thread-safe; the object is created and destroyed by one thread.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
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
    // Identity of the file it was read from.
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
};

class CachedCert {
public:
    static constexpr size_t kMaxTypes = 2;
    static constexpr int64_t kRetireSeconds = 120;

    CachedCert(Store& store, std::string name, std::vector<crypto::KeyType> types);
    ~CachedCert();
    CachedCert(const CachedCert&) = delete;
    CachedCert& operator=(const CachedCert&) = delete;

    // Handshake path (see the contract). Returns 1, or 0 when OpenSSL refused the objects.
    int apply(SSL* ssl) noexcept;

    // Reads the stored bundles (falling back to the fallback bundles) now. Throws on I/O errors;
    // a missing file is not an error (the entry stays empty). Returns true when something changed.
    bool reload();

    const std::string& name() const { return name_; }
    size_t type_count() const { return types_.size(); }
    crypto::KeyType type(size_t i) const { return types_.at(i); }
    // The entry in use for key type i, or nullptr (valid until the next reload + kRetireSeconds).
    const Entry* current(size_t i) const noexcept {
        return i < kMaxTypes ? current_[i].load(std::memory_order_acquire) : nullptr;
    }

private:
    void refresh_if_moved() noexcept;
    bool reload_locked();
    void retire(const Entry* old);

    Store& store_;
    std::string name_;
    std::vector<crypto::KeyType> types_;
    std::array<std::atomic<const Entry*>, kMaxTypes> current_{};
    std::atomic<uint64_t> seen_generation_{~uint64_t{0}};
    std::mutex refresh_mu_;
    std::vector<std::pair<int64_t, const Entry*>> retired_;  // guarded by refresh_mu_
};

// Parses a bundle (private key + leaf + chain in one PEM text) into an Entry; throws
// Error(invalid) when it lacks a key or a certificate, or when they do not match.
std::unique_ptr<Entry> parse_bundle(const std::string& pem);

// The PEM text of an entry: private key, leaf, chain.
std::string entry_pem(const Entry& e);

// tls-alpn-01: marks a handshake to be answered with a validation certificate.
// The SSL owns the attached objects (freed with the SSL).
bool attach_alpn_challenge(SSL* ssl, crypto::X509Ptr cert, crypto::PKey key) noexcept;
bool has_alpn_challenge(SSL* ssl) noexcept;
// Serves the attached validation certificate, if any, and nothing else (the certificates the SSL
// copied from its SSL_CTX are cleared, so OpenSSL cannot pick another key type). Returns true
// when it did.
bool apply_alpn_challenge(SSL* ssl) noexcept;

}  // namespace acme::cache
