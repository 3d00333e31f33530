#include "cache/cache.h"

#include <ctime>

#include "store/layout.h"
#include "util/error.h"
#include "util/log.h"

namespace acme::cache {
namespace {

void free_chain(STACK_OF(X509) * s) {
    sk_X509_pop_free(s, X509_free);
}

// Milliseconds of CLOCK_MONOTONIC_COARSE (a vDSO read; only on the retry path).
int64_t coarse_ms() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Realtime seconds of CLOCK_REALTIME_COARSE (a vDSO read, no system call).
int64_t coarse_unix() noexcept {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return ts.tv_sec;
}

// An OCSP response, owned by the X509 it is attached to (freed with it).
struct Staple {
    int64_t next_update = 0;
    std::string der;
};

void free_staple(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<Staple*>(ptr);
}

int staple_index() {
    static const int index = X509_get_ex_new_index(0, const_cast<char*>("acme OCSP staple"),
                                                   nullptr, nullptr, free_staple);
    return index;
}

struct AlpnChallenge {
    crypto::X509Ptr cert;
    crypto::PKey key;
};

void free_alpn(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
    delete static_cast<AlpnChallenge*>(ptr);
}

int alpn_index() {
    static const int index =
        SSL_get_ex_new_index(0, const_cast<char*>("acme tls-alpn-01"), nullptr, nullptr, free_alpn);
    return index;
}

}  // namespace

std::unique_ptr<Entry> parse_bundle(const std::string& pem) {
    auto e = std::make_unique<Entry>();
    e->key = crypto::private_key_from_pem(pem);
    crypto::Chain chain = crypto::parse_pem_chain(pem);
    if (!crypto::cert_matches_key(chain.front().get(), e->key.get()))
        fail_invalid("the certificate does not match the private key");
    e->not_after = crypto::cert_info(chain.front().get()).not_after;
    e->chain = {sk_X509_new_null(), free_chain};
    if (!e->chain) fail(Status::crypto, "out of memory");
    for (size_t i = 1; i < chain.size(); ++i) {
        if (!sk_X509_push(e->chain.get(), chain[i].get())) fail(Status::crypto, "out of memory");
        chain[i].release();
    }
    e->leaf = std::move(chain.front());
    return e;
}

CachedCert::CachedCert(Store& store, std::string name, std::vector<crypto::KeyType> types,
                       int64_t retry_ms)
    : store_(store), name_(std::move(name)), types_(std::move(types)), retry_ms_(retry_ms) {
    if (types_.empty() || types_.size() > kMaxTypes)
        fail(Status::internal, "cache: a certificate has 1 or 2 key types");
}

CachedCert::~CachedCert() {
    for (auto& slot : current_) delete slot.load();
    for (const Entry* e : retired_) delete e;
}

int CachedCert::apply(SSL* ssl) noexcept {
    refresh_if_moved();
    // Sequentially consistent with retire()'s swap and reclaim()'s check: either reclaim() sees
    // this reader, or this reader loads the entry that replaced the one reclaimed.
    readers_.fetch_add(1, std::memory_order_seq_cst);
    int rc = 1;
    for (size_t i = 0; i < types_.size() && rc == 1; ++i) {
        const Entry* e = current_[i].load(std::memory_order_seq_cst);
        if (!e) continue;
        if (SSL_use_cert_and_key(ssl, e->leaf.get(), e->key.get(), e->chain.get(), 1) != 1)
            rc = 0;
    }
    readers_.fetch_sub(1, std::memory_order_seq_cst);
    // After an install: the first handshake that finds nobody else in flight frees what was
    // replaced (never waits for the lock).
    if (retired_pending_.load(std::memory_order_relaxed) && refresh_mu_.try_lock()) {
        reclaim();
        refresh_mu_.unlock();
    }
    return rc;
}

std::optional<std::pair<std::string, bool>> CachedCert::current_pem(size_t i) const {
    if (i >= kMaxTypes) return std::nullopt;
    readers_.fetch_add(1, std::memory_order_seq_cst);
    struct Leave {
        std::atomic<uint64_t>& r;
        ~Leave() { r.fetch_sub(1, std::memory_order_seq_cst); }
    } leave{readers_};
    const Entry* e = current_[i].load(std::memory_order_seq_cst);
    if (!e) return std::nullopt;
    return std::make_pair(entry_pem(*e), e->fallback);
}

size_t CachedCert::retired_count() {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    return retired_.size();
}

bool CachedCert::retry_pending(uint64_t gen) const noexcept {
    // retry_at_ms_ is stored before failed_generation_ (release), so it is at least as new.
    return gen == failed_generation_.load(std::memory_order_acquire) &&
           coarse_ms() < retry_at_ms_.load(std::memory_order_relaxed);
}

void CachedCert::refresh_if_moved() noexcept {
    // Steady state: one atomic load of the shared counter, one of ours.
    const uint64_t gen = store_.generation();
    if (gen == seen_generation_.load(std::memory_order_acquire)) return;
    // A reload of this generation failed: keep serving what we have until the retry is due.
    if (retry_pending(gen)) return;
    // Another thread may be refreshing: wait for it, then look again.
    std::lock_guard<std::mutex> lock(refresh_mu_);
    if (gen == seen_generation_.load(std::memory_order_acquire) || retry_pending(gen)) return;
    try {
        std::string failure;
        try {
            reload_locked(&failure);
        } catch (const std::exception& ex) {
            failure = *ex.what() ? ex.what() : "unknown error";
        }
        settle(gen, failure, true);
    } catch (...) {
        // Out of memory while recording the outcome: the next handshake tries again.
    }
}

bool CachedCert::reload() {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    const uint64_t gen = store_.generation();
    std::string failure;
    bool changed = reload_locked(&failure);
    // The caller reports the error; handshakes retry without logging it again.
    settle(gen, failure, false);
    if (!failure.empty()) throw Error(Status::io, "acme: " + name_ + ": " + failure);
    return changed;
}

void CachedCert::settle(uint64_t gen, const std::string& failure, bool log) {
    if (failure.empty()) {
        if (!failure_.empty()) {
            ACME_LOG_NOTICE("acme: %s: certificate reloaded after the earlier failure",
                            name_.c_str());
            failure_.clear();
        }
        seen_generation_.store(gen, std::memory_order_release);
        return;
    }
    retry_at_ms_.store(coarse_ms() + retry_ms_, std::memory_order_relaxed);
    failed_generation_.store(gen, std::memory_order_release);
    if (failure != failure_) {
        if (log) {
            ACME_LOG_ERROR(
                "acme: %s: reloading the certificate failed, keeping the current one "
                "and retrying: %s",
                name_.c_str(), failure.c_str());
        }
        failure_ = failure;
    }
}

bool CachedCert::reload_locked(std::string* failure) {
    bool changed = false;
    failure->clear();
    for (size_t i = 0; i < types_.size(); ++i) {
        try {
            changed = reload_type(i) || changed;
        } catch (const std::exception& ex) {
            if (!failure->empty()) *failure += "; ";
            *failure += ex.what();
        }
    }
    reclaim();
    return changed;
}

bool CachedCert::reload_type(size_t i) {
    const char* kt = crypto::key_type_name(types_[i]);
    std::string key = layout::cert_bundle(name_, kt);
    bool fallback = false;
    std::optional<FileIdentity> id = store_.identity_of(key);
    if (!id) {
        key = layout::fallback_bundle(name_, kt);
        fallback = true;
        id = store_.identity_of(key);
        if (!id) return false;  // nothing yet: keep what we have
    }
    // The response stapled with a stored certificate: a new one makes a new entry.
    const std::string ocsp_key = layout::cert_ocsp(name_, kt);
    const std::optional<FileIdentity> ocsp_id =
        fallback ? std::nullopt : store_.identity_of(ocsp_key);
    const Entry* cur = current_[i].load(std::memory_order_acquire);
    auto is_current = [&](const FileIdentity& v) {
        return cur && cur->fallback == fallback && cur->source == v &&
               cur->ocsp_source == ocsp_id;
    };
    auto is_refused = [&](const FileIdentity& v) {
        return refused_[i] && refused_[i]->fallback == fallback && refused_[i]->source == v;
    };
    if (is_current(*id) || is_refused(*id)) return false;
    FileIdentity read_id;
    std::optional<std::string> pem = store_.load_with_identity(key, &read_id);
    if (!pem) throw Error(Status::io, "store: " + key + " disappeared while it was being read");
    if (is_current(read_id) || is_refused(read_id)) return false;
    std::unique_ptr<Entry> e;
    try {
        e = parse_bundle(*pem);
    } catch (const Error& ex) {
        // Written atomically, so it will not get any better: wait for the next version.
        refused_[i] = Refused{fallback, read_id};
        ACME_LOG_ERROR("acme: %s: %s: %s; keeping the certificate in service", name_.c_str(),
                       key.c_str(), ex.what());
        return false;
    }
    refused_[i].reset();
    e->fallback = fallback;
    e->source = read_id;
    e->ocsp_source = ocsp_id;
    if (ocsp_id) {
        // Checked when the driver fetched it; here only whether it is about this certificate
        // and still current (a response of the certificate just replaced is not).
        FileIdentity oid;
        std::optional<std::string> der = store_.load_with_identity(ocsp_key, &oid);
        X509* issuer = e->chain && sk_X509_num(e->chain.get()) > 0
                           ? sk_X509_value(e->chain.get(), 0)
                           : nullptr;
        int64_t next_update = 0;
        e->ocsp_source = der ? std::optional<FileIdentity>(oid) : std::nullopt;
        if (der && issuer &&
            crypto::ocsp_staple_fits(*der, e->leaf.get(), issuer, coarse_unix(), &next_update))
            e->stapled = attach_staple(e->leaf.get(), std::move(*der), next_update);
    }
    const bool stapled = e->stapled;
    const Entry* old = current_[i].exchange(e.release(), std::memory_order_seq_cst);
    if (old) retire(old);
    ACME_LOG_INFO("acme: %s: %s %s certificate loaded%s", name_.c_str(), kt,
                  fallback ? "fallback" : "stored", stapled ? " with its OCSP response" : "");
    return true;
}

void CachedCert::adopt(size_t i, std::unique_ptr<Entry> entry) {
    if (i >= types_.size() || !entry) fail(Status::internal, "cache: adopt: bad entry");
    std::lock_guard<std::mutex> g(refresh_mu_);
    const Entry* old = current_[i].exchange(entry.release(), std::memory_order_seq_cst);
    if (old) retire(old);
}

void CachedCert::retire(const Entry* old) {
    retired_.push_back(old);
    retired_pending_.store(true, std::memory_order_relaxed);
    reclaim();
}

void CachedCert::reclaim() {
    if (retired_.empty()) return;
    // Every entry in the list was swapped out before this load: a reader that is not counted
    // here loads a newer entry.
    if (readers_.load(std::memory_order_seq_cst) != 0) return;
    for (const Entry* e : retired_) delete e;
    retired_.clear();
    retired_pending_.store(false, std::memory_order_relaxed);
}

bool attach_staple(X509* leaf, std::string der, int64_t next_update) noexcept {
    const int idx = staple_index();
    if (idx < 0 || !leaf) return false;
    auto* st = new (std::nothrow) Staple;
    if (!st) return false;
    st->next_update = next_update;
    st->der = std::move(der);
    delete static_cast<Staple*>(X509_get_ex_data(leaf, idx));
    if (!X509_set_ex_data(leaf, idx, st)) {
        delete st;
        return false;
    }
    return true;
}

int apply_staple(SSL* ssl) noexcept {
    const int idx = staple_index();
    X509* x = SSL_get_certificate(ssl);
    const auto* st = x && idx >= 0 ? static_cast<const Staple*>(X509_get_ex_data(x, idx)) : nullptr;
    if (!st || st->der.empty() || coarse_unix() >= st->next_update) return SSL_TLSEXT_ERR_NOACK;
    void* copy = OPENSSL_memdup(st->der.data(), st->der.size());
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    if (SSL_set_tlsext_status_ocsp_resp(ssl, static_cast<unsigned char*>(copy),
                                        static_cast<long>(st->der.size())) != 1) {
        OPENSSL_free(copy);
        return SSL_TLSEXT_ERR_NOACK;
    }
    return SSL_TLSEXT_ERR_OK;
}

bool attach_alpn_challenge(SSL* ssl, crypto::X509Ptr cert, crypto::PKey key) noexcept {
    int idx = alpn_index();
    if (idx < 0) return false;
    auto* c = new (std::nothrow) AlpnChallenge{std::move(cert), std::move(key)};
    if (!c) return false;
    delete static_cast<AlpnChallenge*>(SSL_get_ex_data(ssl, idx));
    if (!SSL_set_ex_data(ssl, idx, c)) {
        delete c;
        return false;
    }
    return true;
}

bool has_alpn_challenge(SSL* ssl) noexcept {
    int idx = alpn_index();
    return idx >= 0 && SSL_get_ex_data(ssl, idx) != nullptr;
}

bool apply_alpn_challenge(SSL* ssl) noexcept {
    int idx = alpn_index();
    if (idx < 0) return false;
    auto* c = static_cast<AlpnChallenge*>(SSL_get_ex_data(ssl, idx));
    if (!c) return false;
    SSL_certs_clear(ssl);
    return SSL_use_cert_and_key(ssl, c->cert.get(), c->key.get(), nullptr, 1) == 1;
}

std::string entry_pem(const Entry& e) {
    std::string pem = crypto::private_key_to_pem(e.key.get()) + crypto::cert_to_pem(e.leaf.get());
    for (int i = 0; e.chain && i < sk_X509_num(e.chain.get()); ++i)
        pem += crypto::cert_to_pem(sk_X509_value(e.chain.get(), i));
    return pem;
}

}  // namespace acme::cache
