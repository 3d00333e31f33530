#include "cache/cache.h"

#include <sys/stat.h>

#include <ctime>

#include "store/layout.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/log.h"

namespace acme::cache {
namespace {

void free_chain(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }

int64_t mono_seconds() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
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

CachedCert::CachedCert(Store& store, std::string name, std::vector<crypto::KeyType> types)
    : store_(store), name_(std::move(name)), types_(std::move(types)) {
    if (types_.empty() || types_.size() > kMaxTypes)
        fail(Status::internal, "cache: a certificate has 1 or 2 key types");
}

CachedCert::~CachedCert() {
    for (auto& slot : current_) delete slot.load();
    for (auto& r : retired_) delete r.second;
}

int CachedCert::apply(SSL* ssl) noexcept {
    refresh_if_moved();
    for (size_t i = 0; i < types_.size(); ++i) {
        const Entry* e = current_[i].load(std::memory_order_acquire);
        if (!e) continue;
        if (SSL_use_cert_and_key(ssl, e->leaf.get(), e->key.get(), e->chain.get(), 1) != 1)
            return 0;
    }
    return 1;
}

void CachedCert::refresh_if_moved() noexcept {
    const uint64_t gen = store_.generation();
    if (gen == seen_generation_.load(std::memory_order_acquire)) return;
    // Another thread may be refreshing: wait for it, then look again.
    std::lock_guard<std::mutex> lock(refresh_mu_);
    if (gen == seen_generation_.load(std::memory_order_acquire)) return;
    try {
        reload_locked();
    } catch (const std::exception& ex) {
        ACME_LOG_ERROR("acme: %s: reloading the certificate failed, keeping the current one: %s",
                       name_.c_str(), ex.what());
    }
    seen_generation_.store(gen, std::memory_order_release);
}

bool CachedCert::reload() {
    std::lock_guard<std::mutex> lock(refresh_mu_);
    const uint64_t gen = store_.generation();
    bool changed = reload_locked();
    seen_generation_.store(gen, std::memory_order_release);
    return changed;
}

bool CachedCert::reload_locked() {
    bool changed = false;
    for (size_t i = 0; i < types_.size(); ++i) {
        const char* kt = crypto::key_type_name(types_[i]);
        std::string path = store_.path_of(layout::cert_bundle(name_, kt));
        bool fallback = false;
        struct stat st;
        if (::stat(path.c_str(), &st) != 0) {
            path = store_.path_of(layout::fallback_bundle(name_, kt));
            fallback = true;
            if (::stat(path.c_str(), &st) != 0) continue;  // nothing yet: keep what we have
        }
        const Entry* cur = current_[i].load(std::memory_order_acquire);
        const int64_t mtime_ns = int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec;
        if (cur && cur->fallback == fallback && cur->dev == st.st_dev && cur->ino == st.st_ino &&
            cur->size == static_cast<uint64_t>(st.st_size) && cur->mtime_ns == mtime_ns) {
            continue;
        }
        std::unique_ptr<Entry> e;
        try {
            e = parse_bundle(fs::read_file(path));
        } catch (const Error& ex) {
            ACME_LOG_ERROR("acme: %s: %s: %s; keeping the certificate in service", name_.c_str(),
                           path.c_str(), ex.what());
            continue;
        }
        e->fallback = fallback;
        e->dev = st.st_dev;
        e->ino = st.st_ino;
        e->size = static_cast<uint64_t>(st.st_size);
        e->mtime_ns = mtime_ns;
        const Entry* old = current_[i].exchange(e.release(), std::memory_order_acq_rel);
        if (old) retire(old);
        changed = true;
        ACME_LOG_INFO("acme: %s: %s %s certificate loaded", name_.c_str(), kt,
                      fallback ? "fallback" : "stored");
    }
    return changed;
}

void CachedCert::retire(const Entry* old) {
    const int64_t now = mono_seconds();
    // Free what has been retired long enough; no handshake holds those pointers any more.
    for (auto it = retired_.begin(); it != retired_.end();) {
        if (now - it->first >= kRetireSeconds) {
            delete it->second;
            it = retired_.erase(it);
        } else {
            ++it;
        }
    }
    retired_.emplace_back(now, old);
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
