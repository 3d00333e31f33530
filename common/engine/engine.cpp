#include "engine/engine.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include <algorithm>
#include <cctype>
#include <set>

#include "acme/account.h"
#include "acme/issuer.h"
#include "acme/problem.h"
#include "engine/solvers.h"
#include "store/layout.h"
#include "util/fs.h"
#include "util/log.h"

#ifndef ACME_VERSION_STRING
#define ACME_VERSION_STRING "0"
#endif

namespace acme::engine {
namespace {

constexpr int64_t kFallbackValidity = 30 * kDay;
constexpr int64_t kAccountLockWaitMs = 30000;
// After a failure that the schedule did not record (the store, an ARI poll), wait this long
// before looking at the certificate again.
constexpr int64_t kFailureHoldOffMs = 30000;

Rng production_rng() { return [](int64_t lo, int64_t hi) { return random_between(lo, hi); }; }

std::vector<std::string> type_names(const std::vector<crypto::KeyType>& types) {
    std::vector<std::string> out;
    for (crypto::KeyType t : types) out.push_back(crypto::key_type_name(t));
    return out;
}

proto::AccountSettings settings_for(const AccountConfig& a) {
    proto::AccountSettings s;
    s.contacts = a.contacts;
    s.agree_tos = a.agree_tos;
    s.eab_kid = a.eab_kid;
    s.eab_hmac_key = a.eab_hmac_key;
    s.eab_alg = a.eab_alg;
    return s;
}

std::string join_names(const std::vector<std::string>& v) {
    std::string out;
    for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
    return out;
}

// What meta.json records of an installed certificate.
KeyCert key_cert(X509* leaf, const crypto::CertInfo& info, const char* key_type) {
    KeyCert k;
    k.key_type = key_type;
    k.issuer = info.issuer;
    k.issuer_cn = info.issuer_cn;
    k.serial = info.serial_hex;
    k.not_before = info.not_before;
    k.not_after = info.not_after;
    k.sha256 = info.sha256_fingerprint_hex;
    try {
        k.ari.cert_id = crypto::ari_cert_id(leaf);
    } catch (const Error&) {
        // no AKI: no ARI for this certificate
    }
    k.ocsp_url = crypto::ocsp_responder_url(leaf);
    return k;
}

// The name a challenge for `domain` is about: "*.example.org" is validated at
// _acme-challenge.example.org, like "example.org".
std::string validated_name(const std::string& domain) {
    return domain.compare(0, 2, "*.") == 0 ? domain.substr(2) : domain;
}

// A name that both configurations order, or "". Two orders of one driver never validate such a
// name at the same time: a tls-alpn-01 validation certificate, and the dns-01 record of a hook
// that replaces what is there, exist once per name.
std::string shared_name(const CertConfig& a, const CertConfig& b) {
    for (const std::string& x : a.domains) {
        for (const std::string& y : b.domains) {
            if (validated_name(x) == validated_name(y)) return validated_name(x);
        }
    }
    return "";
}

std::string in_context(const std::string& name, const std::string& what) {
    // Messages of the core often carry their own "acme: <name>: " prefix; say it once.
    std::string_view w = what;
    const std::string_view acme = "acme: ";
    if (w.substr(0, acme.size()) == acme) w.remove_prefix(acme.size());
    const std::string own = name + ": ";
    if (w.substr(0, own.size()) == own) w.remove_prefix(own.size());
    return "acme: " + own + std::string(w);
}

// Certificates at one CA with one EAB key id (or none) share one account: they must agree on
// what the account is given (its contacts, the EAB key), or one would silently win.
void check_shared_account(const CertConfig& other, const CertConfig& cfg) {
    const AccountConfig& a = other.account;
    const AccountConfig& b = cfg.account;
    if (a.eab_kid != b.eab_kid) return;
    std::string ca;
    for (const std::string& u : b.ca_urls) {
        if (std::find(a.ca_urls.begin(), a.ca_urls.end(), u) != a.ca_urls.end()) {
            ca = u;
            break;
        }
    }
    if (ca.empty()) return;
    if (a.eab_hmac_key != b.eab_hmac_key) {
        throw Error(Status::invalid,
                    "the external account binding key id \"" + b.eab_kid + "\" at " + ca +
                        " has another HMAC key for the certificate \"" + other.name + "\"",
                    true)
            .set_field("eab_hmac_key");
    }
    if (a.contacts != b.contacts) {
        auto list = [](const std::vector<std::string>& v) {
            std::string out;
            for (const std::string& c : v) out += (out.empty() ? "" : ", ") + c.substr(7);
            return out.empty() ? std::string("none") : out;
        };
        throw Error(Status::invalid,
                    "the certificates \"" + other.name + "\" and \"" + cfg.name +
                        "\" share one account at " + ca +
                        " but give it different contacts (" + list(a.contacts) + " and " +
                        list(b.contacts) +
                        "); give both the same contacts, or each its own EAB key id",
                    true)
            .set_field("contacts");
    }
}

// A CA that keeps rejecting nonces (badNonce after the client's own retries of one request)
// gets this many more tries of the step that failed.
constexpr int kOrderNonceRetries = 10;

int64_t earliest_expiry(const CertMeta& meta, const CertConfig& cfg) {
    int64_t earliest = 0;
    for (crypto::KeyType t : cfg.key_types) {
        const KeyCert* k = meta.find(crypto::key_type_name(t));
        if (k && k->not_after && (!earliest || k->not_after < earliest)) earliest = k->not_after;
    }
    return earliest;
}

}  // namespace

int64_t random_between(int64_t lo, int64_t hi) { return crypto::random_between(lo, hi); }

// ---- ManagedCert ---------------------------------------------------------------------------

ManagedCert::ManagedCert(CertConfig cfg, Store& store)
    : config_(std::move(cfg)), hash_(config_.hash()), store_(store) {
    cached_ = std::make_unique<cache::CachedCert>(store_, config_.name, config_.key_types);
}

bool ManagedCert::config_has_key_type(std::string_view key_type) const {
    for (crypto::KeyType t : config_.key_types) {
        if (key_type == crypto::key_type_name(t)) return true;
    }
    return false;
}

std::string ManagedCert::startup_file(size_t i, bool* fallback) {
    const char* kt = crypto::key_type_name(config_.key_types.at(i));
    cached_->reload();
    const cache::Entry* e = cached_->current(i);
    if (fallback) *fallback = !e || e->fallback;
    if (e && !e->fallback) return store_.path_of(layout::cert_bundle(config_.name, kt));
    return store_.path_of(layout::fallback_bundle(config_.name, kt));
}

// ---- Engine: setup ------------------------------------------------------------------------------

struct Engine::Work {
    ManagedCert* cert = nullptr;
    bool ordering = false;  // an order, not an ARI poll
    std::thread thread;
    std::atomic<bool> done{false};
};

Engine::Engine(EngineOptions options)
    : options_(std::move(options)), clock_(options_.clock ? *options_.clock : system_clock()) {
    if (options_.store_dir.empty()) fail_invalid("no store directory configured");
    if (options_.max_concurrency == 0) options_.max_concurrency = 2;
    if (options_.lock_retry_ms == 0) options_.lock_retry_ms = 2000;
    store_ = std::make_unique<FsStore>(options_.store_dir, options_.read_only
                                                               ? FsStore::Access::read_only
                                                               : FsStore::Access::read_write);
}

Engine::~Engine() { stop(); }

ManagedCert& Engine::add(CertConfig cfg) {
    if (prepared_) fail(Status::internal, "certificates must be added before prepare()");
    validate(cfg);
    for (const auto& mc : certs_) {
        if (mc->name() == cfg.name) {
            fail_invalid("two certificates would share the store name \"" + cfg.name +
                         "\" (give one of them different names, or the same names in one place)");
        }
        check_shared_account(mc->config(), cfg);
    }
    certs_.push_back(std::make_unique<ManagedCert>(std::move(cfg), *store_));
    return *certs_.back();
}

void Engine::ensure_fallback(ManagedCert& mc, size_t i) {
    const CertConfig& c = mc.config();
    const char* kt = crypto::key_type_name(c.key_types[i]);
    const std::string key = layout::fallback_bundle(c.name, kt);
    if (std::optional<std::string> pem = store_->load(key)) {
        try {
            std::unique_ptr<cache::Entry> e = cache::parse_bundle(*pem);
            if (e->not_after > clock_.now() + kDay && crypto::cert_covers_names(e->leaf.get(), c.domains))
                return;
        } catch (const Error&) {
            // regenerate below
        }
    }
    crypto::PKey pkey = crypto::generate_key(c.key_types[i]);
    crypto::X509Ptr cert = crypto::make_self_signed(pkey.get(), c.domains, kFallbackValidity);
    const std::string pem =
        crypto::private_key_to_pem(pkey.get()) + crypto::cert_to_pem(cert.get());
    if (options_.read_only) {
        // A configuration test: the stand-in lives in memory only.
        std::unique_ptr<cache::Entry> e = cache::parse_bundle(pem);
        e->fallback = true;
        mc.cached().adopt(i, std::move(e));
        return;
    }
    store_->save(key, pem, Sensitivity::secret);
    ACME_LOG_INFO("acme: %s: made a self-signed %s fallback certificate to serve until the first "
                  "certificate arrives", c.name.c_str(), kt);
}

void Engine::prepare(long uid, long gid) {
    for (auto& mc : certs_) {
        for (size_t i = 0; i < mc->config().key_types.size(); ++i) {
            const char* kt = crypto::key_type_name(mc->config().key_types[i]);
            bool stored_ok = false;
            if (std::optional<std::string> pem = store_->load(layout::cert_bundle(mc->name(), kt))) {
                try {
                    cache::parse_bundle(*pem);
                    stored_ok = true;
                } catch (const Error& e) {
                    ACME_LOG_ERROR("acme: %s: stored %s certificate is unusable (%s); serving the "
                                   "fallback until a new one is issued",
                                   mc->name().c_str(), kt, e.what());
                }
            }
            if (!stored_ok) ensure_fallback(*mc, i);
        }
        mc->cached().reload();
    }
    // Read-only (a configuration test): checks that the hand-over could be done, changes nothing.
    store_->prepare_ownership(uid, gid);
    prepared_ = true;
}

std::string Engine::config_id() const {
    std::vector<std::string> hashes;
    for (const auto& mc : certs_) hashes.push_back(mc->hash());
    std::sort(hashes.begin(), hashes.end());
    std::string all;
    for (const std::string& h : hashes) all += h + "\n";
    static const char hex[] = "0123456789abcdef";
    std::string digest = crypto::sha256(all), out;
    for (size_t i = 0; i < 6; ++i) {
        out += hex[static_cast<unsigned char>(digest[i]) >> 4];
        out += hex[static_cast<unsigned char>(digest[i]) & 15];
    }
    return out;
}

// ---- meta ---------------------------------------------------------------------------------------

CertMeta Engine::load_meta(const ManagedCert& mc, std::vector<bool>* stale) {
    if (stale) stale->assign(mc.config().key_types.size(), false);
    CertMeta meta;
    if (std::optional<std::string> text = store_->load(layout::cert_meta(mc.name()))) {
        try {
            meta = cert_meta_from_json(*text);
        } catch (const Error& e) {
            ACME_LOG_WARN("acme: %s: %s; rebuilding it from the stored certificates",
                          mc.name().c_str(), e.what());
            meta = CertMeta();
        }
    }
    meta.name = mc.name();
    // The bundles are the truth: a key type whose bundle is missing or unreadable is not stored,
    // whatever meta.json says; a bundle meta.json does not know about is described from itself.
    const auto& cas = mc.config().account.ca_urls;
    for (size_t i = 0; i < mc.config().key_types.size(); ++i) {
        const char* kt = crypto::key_type_name(mc.config().key_types[i]);
        std::optional<std::string> pem = store_->load(layout::cert_bundle(mc.name(), kt));
        std::unique_ptr<cache::Entry> e;
        if (pem) {
            try {
                e = cache::parse_bundle(*pem);
            } catch (const Error&) {
            }
        }
        if (!e) {
            meta.certs.erase(std::remove_if(meta.certs.begin(), meta.certs.end(),
                                            [&](const KeyCert& k) { return k.key_type == kt; }),
                             meta.certs.end());
            continue;
        }
        crypto::CertInfo info = crypto::cert_info(e->leaf.get());
        KeyCert* known = meta.find(kt);
        if (stale) {
            // Each key type on its own: with dual certificates one may have been renewed for new
            // names (or from a new CA) while the other's order failed.
            const std::string ca = known ? known->ca : "";
            (*stale)[i] = !crypto::cert_covers_names(e->leaf.get(), mc.config().domains) ||
                          (!ca.empty() && std::find(cas.begin(), cas.end(), ca) == cas.end());
        }
        if (known && known->sha256 == info.sha256_fingerprint_hex) continue;
        KeyCert k = key_cert(e->leaf.get(), info, kt);
        if (meta.domains.empty()) {
            meta.domains = info.dns_names;
            meta.domains.insert(meta.domains.end(), info.ip_addresses.begin(),
                                info.ip_addresses.end());
        }
        meta.put(std::move(k));
    }
    return meta;
}

void Engine::save_meta(const CertMeta& meta) {
    store_->save(layout::cert_meta(meta.name), to_json(meta), Sensitivity::public_data);
}

bool Engine::matches_config(const ManagedCert& mc, const CertMeta& meta) const {
    std::set<std::string> want(mc.config().domains.begin(), mc.config().domains.end());
    std::set<std::string> have(meta.domains.begin(), meta.domains.end());
    if (want != have) return false;
    // A certificate from a CA that is no longer configured (staging -> production) is replaced.
    const auto& cas = mc.config().account.ca_urls;
    if (!meta.ca.empty() && std::find(cas.begin(), cas.end(), meta.ca) == cas.end()) return false;
    // Another profile (e.g. "shortlived" now) is ordered now, not at the next renewal.
    if (meta.profile && *meta.profile != mc.config().profile) return false;
    return true;
}

std::vector<crypto::KeyType> Engine::due_types(ManagedCert& mc, bool force, int64_t now,
                                               Decision* decision, bool cert_locked) {
    std::vector<bool> stale;
    CertMeta meta = load_meta(mc, &stale);
    const std::string before = to_json(meta);
    bool matches = matches_config(mc, meta);
    CertFacts facts = cert_facts(meta, type_names(mc.config().key_types), matches);
    for (size_t i = 0; i < facts.keys.size() && i < stale.size(); ++i) {
        if (stale[i]) facts.keys[i].present = false;  // ordered anew, on its own
    }
    Policy policy;
    policy.renew_window = parse_renew_window(mc.config().renew_window);
    policy.config_hash = mc.hash();
    Decision d = decide(facts, meta.schedule, policy, now, production_rng());
    if (!d.warning.empty()) ACME_LOG_WARN("acme: %s: %s", mc.name().c_str(), d.warning.c_str());
    if (to_json(meta) != before) {
        // Only under the certificate's lock: another process (acmectl) may be installing it, and
        // a stale copy written back would undo its record. (A second lock of this process's
        // own would fail: flock is per open file.)
        if (cert_locked) {
            save_meta(meta);
        } else if (std::unique_ptr<StoreLock> lock = store_->try_lock("cert-" + mc.name())) {
            CertMeta now_stored = load_meta(mc);
            if (to_json(now_stored) == before) save_meta(meta);
        }
    }
    if (decision) *decision = d;

    std::vector<crypto::KeyType> out;
    if (force || (matches && d.action == Decision::Action::order &&
                  d.source != "order-pending")) {
        return mc.config().key_types;  // renewal (or forced): every key type together
    }
    if (d.action != Decision::Action::order) return out;
    for (size_t i = 0; i < facts.keys.size(); ++i) {
        const auto& k = facts.keys[i];
        if (!matches || !k.present || k.not_after <= now) out.push_back(mc.config().key_types[i]);
    }
    if (out.empty()) out = mc.config().key_types;
    return out;
}

// ---- ordering -----------------------------------------------------------------------------------

std::unique_ptr<Transport> Engine::transport_for(const AccountConfig& account, bool ocsp) const {
    TransportOptions t;
    t.cancel = &stopping_;
    t.ca_file = account.ca_root;
    t.user_agent = std::string("acme-module/") + ACME_VERSION_STRING;
    if (!options_.user_agent.empty()) t.user_agent += " " + options_.user_agent;
    if (ocsp) {
        t.allow_plain_http = true;  // OCSP responders answer over http:// (RFC 6960 A.1)
        t.max_response_bytes = 64 * 1024;
    }
    return options_.transport_factory ? options_.transport_factory(t) : make_curl_transport(t);
}

std::string Engine::chain_roots_pem(const AccountConfig& account) const {
    // Read at every use, so that an operator's new roots apply without a restart.
    return account.chain_roots.empty() ? std::string() : fs::read_file(account.chain_roots);
}

void Engine::with_account(proto::Client& client, const AccountConfig& account, bool create) {
    // Account registration is serialised per account (CA and EAB key id) across processes, so
    // that a single-use EAB key is spent once and one account is shared.
    const proto::AccountSettings settings = settings_for(account);
    const std::string id = proto::account_id(*store_, client.directory_url(), settings);
    const std::string lock_name = "account-" + id;
    std::unique_ptr<StoreLock> lock;
    const int64_t deadline = clock_.now_ms() + kAccountLockWaitMs;
    while (!(lock = store_->try_lock(lock_name))) {
        if (stopping_.load() || clock_.now_ms() > deadline)
            throw Error(Status::busy, "acme: another process is registering the account at " +
                                          client.directory_url());
        clock_.sleep_ms(50);
    }
    if (!create && !store_->load(layout::account_json(id)))
        throw Error(Status::not_found, "acme: no account stored for " + client.directory_url());
    proto::ensure_account(client, *store_, settings);
}

void Engine::install(ManagedCert& mc, CertMeta& meta, crypto::KeyType type,
                     const std::string& key_pem, const std::string& chain_pem,
                     const std::string& ca_url) {
    const char* kt = crypto::key_type_name(type);
    const std::string bundle_key = layout::cert_bundle(mc.name(), kt);
    if (std::optional<std::string> old = store_->load(bundle_key)) {
        store_->save(layout::cert_archive(mc.name(), kt, clock_.now()), *old, Sensitivity::secret);
        prune_archive(mc.name(), kt);
    }
    // The response stapled with the certificate replaced is not about the new one.
    store_->remove(layout::cert_ocsp(mc.name(), kt));
    store_->save(bundle_key, key_pem + chain_pem, Sensitivity::secret);

    crypto::Chain chain = crypto::parse_pem_chain(chain_pem);
    crypto::CertInfo info = crypto::cert_info(chain.front().get());
    KeyCert k = key_cert(chain.front().get(), info, kt);
    k.installed_at = clock_.now();
    k.ca = ca_url;
    meta.put(std::move(k));
    meta.domains = mc.config().domains;
    meta.ca = ca_url;
    meta.config_hash = mc.hash();
    meta.profile = mc.config().profile;
    save_meta(meta);
    proto::forget_order(*store_, mc.name(), type);
    store_->bump_generation();
    ACME_LOG_NOTICE("acme: %s: %s certificate installed (issuer \"%s\", serial %s, valid until %s)",
                    mc.name().c_str(), kt, info.issuer_cn.c_str(), info.serial_hex.c_str(),
                    format_rfc3339(info.not_after).c_str());
}

void Engine::prune_archive(const std::string& name, const char* key_type) {
    // Keep the newest kArchiveKeep replaced bundles per key type (names start with the Unix time).
    constexpr size_t kArchiveKeep = 10;
    const std::string suffix = std::string("-") + key_type + ".pem";
    std::vector<std::string> mine;
    for (const std::string& f : store_->list(layout::cert_archive_dir(name))) {
        if (f.size() > suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0)
            mine.push_back(f);
    }
    if (mine.size() <= kArchiveKeep) return;
    std::sort(mine.begin(), mine.end(), [&](const std::string& a, const std::string& b) {
        return std::strtoll(a.c_str(), nullptr, 10) < std::strtoll(b.c_str(), nullptr, 10);
    });
    for (size_t i = 0; i + kArchiveKeep < mine.size(); ++i)
        store_->remove(layout::cert_archive_dir(name) + "/" + mine[i]);
}

void Engine::order(ManagedCert& mc, const std::vector<crypto::KeyType>& types,
                   const std::atomic<bool>* cancel) {
    std::unique_ptr<StoreLock> lock = store_->try_lock("cert-" + mc.name());
    if (!lock) throw Error(Status::busy, "acme: " + mc.name() + ": another process is ordering it");
    const CertConfig& cfg = mc.config();
    CertMeta meta = load_meta(mc);
    const size_t n_cas = cfg.account.ca_urls.size();
    const size_t first = current_ca(meta.schedule, n_cas);
    const int64_t started = clock_.now_ms();
    // Every CA of the list in this one attempt, for as long as they cannot be reached or fail
    // on their side (5xx): a dead first CA costs seconds, not a backoff (certmagic does so too).
    for (size_t k = 0;; ++k) {
        const size_t index = (first + k) % n_cas;
        const std::string& ca_url = cfg.account.ca_urls.at(index);
        try {
            order_at(mc, meta, types, ca_url, cancel);
            meta.schedule.ca_index = index;
            record_success(meta.schedule, clock_.now());
            save_meta(meta);
            if (mc.stapled() || meta.stapled) {
                // A server staples it: the new certificate's response before anything else (also
                // when acmectl renewed it), so that the staple follows the swap.
                if (fetch_ocsp_locked(mc, meta, cancel)) {
                    save_meta(meta);
                    store_->bump_generation();
                }
            }
            due_types(mc, false, clock_.now(), nullptr, true);  // picks and saves the renewal point
            ACME_LOG_NOTICE("acme: %s: done in %lld ms", mc.name().c_str(),
                            static_cast<long long>(clock_.now_ms() - started));
            return;
        } catch (const Error& e) {
            if (cancel && cancel->load()) throw;  // shutting down: not a failure of the CA's
            const bool ca_side = e.status() == Status::network || e.http_status() >= 500;
            if (ca_side && k + 1 < n_cas) {
                ACME_LOG_WARN("%s; trying %s now",
                              in_context(mc.name(), e.what()).c_str(),
                              cfg.account.ca_urls.at((index + 1) % n_cas).c_str());
                continue;
            }
            meta = load_meta(mc);  // keep what was installed before the failure
            meta.schedule.ca_index = index;
            const int64_t now = clock_.now();
            const int64_t expires = earliest_expiry(meta, cfg);
            const int64_t asked = e.retry_after();
            const bool shortened = record_failure(meta.schedule, e, now, n_cas, mc.hash(),
                                                  production_rng(), expires);
            save_meta(meta);
            const std::string next = format_rfc3339(meta.schedule.next_attempt);
            ACME_LOG_ERROR("%s; next attempt %s%s", in_context(mc.name(), e.what()).c_str(),
                           meta.schedule.waiting_for_config
                               ? "after a configuration change, or "
                               : "",
                           next.c_str());
            if (shortened) {
                ACME_LOG_WARN("acme: %s: the CA asked not to retry before %s; retrying at %s "
                              "instead, before the certificate in service expires (%s)",
                              mc.name().c_str(), format_rfc3339(asked).c_str(), next.c_str(),
                              format_rfc3339(expires).c_str());
            }
            throw RecordedFailure(e);
        }
    }
}

bool Engine::nonce_retry(const ManagedCert& mc, const Error& e, int retries,
                         const std::atomic<bool>* cancel) const {
    if (proto::problem_short(e.problem_type()) != "badNonce" || retries >= kOrderNonceRetries ||
        (cancel && cancel->load()))
        return false;
    ACME_LOG_INFO("acme: %s: the CA keeps rejecting nonces; trying again (%d of %d)",
                  mc.name().c_str(), retries + 1, kOrderNonceRetries);
    return true;
}

void Engine::order_at(ManagedCert& mc, CertMeta& meta, const std::vector<crypto::KeyType>& types,
                      const std::string& ca_url, const std::atomic<bool>* cancel) {
    const CertConfig& cfg = mc.config();
    ACME_LOG_NOTICE("acme: %s: ordering a certificate for %s (%s) from %s", mc.name().c_str(),
                    join_names(cfg.domains).c_str(), join_names(type_names(types)).c_str(),
                    ca_url.c_str());
    std::unique_ptr<Transport> transport = transport_for(cfg.account);
    proto::Client client(*transport, ca_url, clock_);
    client.set_cancel_flag(cancel);
    // The client retries a rejected nonce a few times per request; a CA that keeps rejecting
    // them gets a few more tries of each step (an order resumes where it stopped).
    for (int retries = 0;; ++retries) {
        try {
            with_account(client, cfg.account, true);
            break;
        } catch (const Error& e) {
            if (!nonce_retry(mc, e, retries, cancel)) throw;
        }
    }
    const proto::Directory& dir = client.directory();
    if (!cfg.profile.empty()) {
        if (dir.profiles.empty()) {
            throw Error(Status::invalid, "acme: " + mc.name() + ": the CA " + ca_url +
                                             " offers no ACME profiles, but profile \"" +
                                             cfg.profile + "\" is configured", true);
        }
        if (!dir.profiles.count(cfg.profile)) {
            std::vector<std::string> offered;
            for (const auto& p : dir.profiles) offered.push_back(p.first);
            throw Error(Status::invalid, "acme: " + mc.name() + ": the CA " + ca_url +
                                             " does not offer the profile \"" + cfg.profile +
                                             "\" (offered: " + join_names(offered) + ")", true);
        }
    }
    std::unique_ptr<proto::ChallengeSolver> solver = make_solver(cfg, *store_, clock_, cancel);
    const std::string chain_roots = chain_roots_pem(cfg.account);
    for (crypto::KeyType t : types) {
        proto::OrderRequest req;
        req.name = mc.name();
        req.domains = cfg.domains;
        req.key_type = t;
        req.profile = cfg.profile;
        req.preferred_chain = cfg.preferred_chain;
        req.chain_roots_pem = chain_roots;
        const KeyCert* current = meta.find(crypto::key_type_name(t));
        if (current && !dir.renewal_info.empty() && meta.ca == ca_url)
            req.replaces = current->ari.cert_id;
        proto::IssuedCertificate issued;
        int nonce_retries = 0;
        bool reregistered = false;
        for (;;) {
            try {
                issued = proto::run_order(client, *store_, req, *solver);
                break;
            } catch (const Error& e) {
                if (nonce_retry(mc, e, nonce_retries++, cancel)) continue;
                if (!reregistered && proto::is_account_missing(e)) {
                    reregistered = true;
                    proto::reregister_account(client, *store_, settings_for(cfg.account));
                    continue;
                }
                const std::string ptype = proto::problem_short(e.problem_type());
                if (!req.replaces.empty() &&
                    (ptype == "alreadyReplaced" || ptype == "conflict" ||
                     (ptype == "malformed" &&
                      std::string(e.what()).find("replaces") != std::string::npos))) {
                    ACME_LOG_WARN("acme: %s: the CA refused 'replaces' (%s); ordering "
                                  "without it", mc.name().c_str(), e.what());
                    req.replaces.clear();
                    continue;
                }
                throw;
            }
        }
        install(mc, meta, t, issued.key_pem, issued.chain_pem, ca_url);
    }
}

bool Engine::account_outdated(ManagedCert& mc) noexcept {
    // Local only (no request to the CA): the stored account's contacts against the configured
    // ones, for the CA the certificate is ordered from.
    try {
        const CertConfig& cfg = mc.config();
        if (cfg.account.contacts.empty()) return false;
        const CertMeta meta = load_meta(mc);
        const std::string& url =
            cfg.account.ca_urls.at(current_ca(meta.schedule, cfg.account.ca_urls.size()));
        const std::string id = proto::account_id(*store_, url, settings_for(cfg.account));
        std::optional<std::string> info = store_->load(layout::account_json(id));
        return info && Json::parse(*info).strings("contacts") != cfg.account.contacts;
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: %s: reading the stored account: %s", mc.name().c_str(), e.what());
        return false;
    }
}

void Engine::sync_account(ManagedCert& mc, const std::atomic<bool>* cancel) {
    const CertConfig& cfg = mc.config();
    const CertMeta meta = load_meta(mc);
    const std::string& url =
        cfg.account.ca_urls.at(current_ca(meta.schedule, cfg.account.ca_urls.size()));
    std::unique_ptr<Transport> transport = transport_for(cfg.account);
    proto::Client client(*transport, url, clock_);
    client.set_cancel_flag(cancel);
    with_account(client, cfg.account, false);  // updates the contacts at the CA
}

int64_t Engine::ocsp_due(ManagedCert& mc) noexcept {
    if (!mc.stapled()) return 0;  // only the process of a server that staples fetches
    try {
        const CertMeta meta = load_meta(mc);
        int64_t due = 0;
        for (const KeyCert& k : meta.certs) {
            if (k.ocsp_url.empty() || !mc.config_has_key_type(k.key_type)) continue;
            const int64_t at = std::max<int64_t>(k.ocsp_refresh_at, 1);
            if (!due || at < due) due = at;
        }
        return due;
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: %s: %s", mc.name().c_str(), e.what());
        return 0;
    }
}

void Engine::fetch_ocsp(ManagedCert& mc, const std::atomic<bool>* cancel) {
    std::unique_ptr<StoreLock> lock = store_->try_lock("cert-" + mc.name());
    if (!lock) throw Error(Status::busy, "acme: " + mc.name() + ": another process is ordering it");
    CertMeta meta = load_meta(mc);
    const bool stored = fetch_ocsp_locked(mc, meta, cancel);
    save_meta(meta);
    if (stored) store_->bump_generation();
}

bool Engine::fetch_ocsp_locked(ManagedCert& mc, CertMeta& meta,
                               const std::atomic<bool>* cancel) {
    const CertConfig& cfg = mc.config();
    meta.stapled = true;
    const std::string roots = chain_roots_pem(cfg.account);
    std::unique_ptr<Transport> transport = transport_for(cfg.account, true);
    bool stored = false;
    for (KeyCert& k : meta.certs) {
        const int64_t now = clock_.now();
        if (k.ocsp_url.empty() || !mc.config_has_key_type(k.key_type) || k.ocsp_refresh_at > now)
            continue;
        try {
            std::optional<std::string> pem =
                store_->load(layout::cert_bundle(mc.name(), k.key_type));
            if (!pem) continue;
            crypto::Chain chain = crypto::parse_pem_chain(*pem);
            if (chain.size() < 2)
                throw Error(Status::invalid, "the stored chain has no issuer certificate");
            HttpRequest req;
            req.method = "POST";
            req.url = k.ocsp_url;
            req.headers = {{"Content-Type", "application/ocsp-request"},
                           {"Accept", "application/ocsp-response"}};
            req.body = crypto::ocsp_request_der(chain[0].get(), chain[1].get());
            HttpResponse resp = transport->perform(req);
            if (resp.status != 200)
                throw Error(Status::network, "the OCSP responder " + k.ocsp_url + " answered " +
                                                 std::to_string(resp.status));
            const crypto::OcspStatus st = crypto::check_ocsp_response(
                resp.body, chain[0].get(), chain[1].get(), roots, clock_.now());
            if (st.status == crypto::OcspStatus::Kind::unknown)
                throw Error(Status::protocol, "the OCSP responder does not know the certificate");
            if (st.status == crypto::OcspStatus::Kind::revoked) {
                // Not stapled; replaced at once.
                ACME_LOG_ERROR("acme: %s: the CA reports the %s certificate (serial %s) as "
                               "revoked at %s; ordering a new one", mc.name().c_str(),
                               k.key_type.c_str(), k.serial.c_str(),
                               format_rfc3339(st.revoked_at).c_str());
                meta.schedule.renewal_at = now;
                k.ocsp_error = "revoked";
                k.ocsp_refresh_at = now + 3600;
                continue;
            }
            store_->save(layout::cert_ocsp(mc.name(), k.key_type), resp.body,
                         Sensitivity::public_data);
            stored = true;
            k.ocsp_next_update = st.next_update;
            // Again at half of the response's validity, and at least an hour before it ends.
            const int64_t half = st.this_update + (st.next_update - st.this_update) / 2;
            k.ocsp_refresh_at = std::max(now + 60, std::min(half, st.next_update - 3600));
            k.ocsp_fails = 0;
            k.ocsp_error.clear();
            ACME_LOG_INFO("acme: %s: %s OCSP response stored (good until %s; next fetch %s)",
                          mc.name().c_str(), k.key_type.c_str(),
                          format_rfc3339(st.next_update).c_str(),
                          format_rfc3339(k.ocsp_refresh_at).c_str());
        } catch (const Error& e) {
            if (cancel && cancel->load()) throw;
            k.ocsp_fails += 1;
            k.ocsp_error = e.what();
            // 1, 2, 4 ... minutes, at most an hour; before the stored response ends.
            int64_t delay = kBackoffBase << std::min(k.ocsp_fails - 1, 6);
            delay = std::min<int64_t>(delay, 3600);
            int64_t at = now + delay;
            if (k.ocsp_next_update > now)
                at = std::min(at, std::max(now + 60, k.ocsp_next_update - 300));
            k.ocsp_refresh_at = at;
            ACME_LOG_WARN("acme: %s: %s OCSP response: %s; again at %s", mc.name().c_str(),
                          k.key_type.c_str(), e.what(), format_rfc3339(at).c_str());
        }
    }
    return stored;
}

void Engine::sweep_stale_challenges() noexcept {
    // Longer than an order waits for its authorizations and its finalization together.
    constexpr int64_t kStaleChallengeSeconds = 15 * 60;
    size_t removed = 0;
    try {
        const int64_t now = clock_.now();
        for (const char* dir : {layout::kHttp01Dir, layout::kTlsAlpn01Dir}) {
            for (const std::string& entry : store_->list(dir)) {
                const std::string key = std::string(dir) + "/" + entry;
                std::optional<int64_t> at = store_->modified_at(key);
                if (at && now - *at > kStaleChallengeSeconds) {
                    store_->remove(key);
                    ++removed;
                }
            }
        }
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: removing stale challenges: %s", e.what());
    }
    if (removed)
        ACME_LOG_INFO("acme: removed %zu stale challenge(s) left by an interrupted order", removed);
}

void Engine::poll_ari(ManagedCert& mc, const std::atomic<bool>* cancel) {
    std::unique_ptr<StoreLock> lock = store_->try_lock("cert-" + mc.name());
    if (!lock) throw Error(Status::busy, "acme: " + mc.name() + ": another process is ordering it");
    CertMeta meta = load_meta(mc);
    const auto& cas = mc.config().account.ca_urls;
    // A certificate whose issuing CA is unknown (meta.json rebuilt from the bundle) is asked
    // about at the CA in use.
    const std::string ca =
        !meta.ca.empty() ? meta.ca : cas.at(current_ca(meta.schedule, cas.size()));
    std::unique_ptr<Transport> transport = transport_for(mc.config().account);
    proto::Client client(*transport, ca, clock_);
    client.set_cancel_flag(cancel);
    const int64_t now = clock_.now();
    for (KeyCert& k : meta.certs) {
        if (k.ari.cert_id.empty() || k.ari.next_poll > now) continue;
        try {
            std::optional<proto::RenewalInfo> info = client.renewal_info(k.ari.cert_id);
            if (!info) {
                // The CA has no ARI (any more): look again in a day.
                record_ari_failure(k.ari, now + kDay, now);
                continue;
            }
            if (record_ari(k.ari, info->window_start, info->window_end, info->explanation_url,
                           info->retry_after, now)) {
                ACME_LOG_NOTICE("acme: %s: %s: the CA suggests renewing between %s and %s%s%s",
                                mc.name().c_str(), k.key_type.c_str(),
                                format_rfc3339(info->window_start).c_str(),
                                format_rfc3339(info->window_end).c_str(),
                                info->explanation_url.empty() ? "" : " (see ",
                                info->explanation_url.empty()
                                    ? ""
                                    : (info->explanation_url + ")").c_str());
            }
        } catch (const Error& e) {
            record_ari_failure(k.ari, e.retry_after(), now);
            ACME_LOG_WARN("acme: %s: renewalInfo: %s", mc.name().c_str(), e.what());
        }
    }
    save_meta(meta);
}

// ---- driver -------------------------------------------------------------------------------------

void Engine::start() {
    if (options_.read_only)
        fail(Status::invalid, "acme: a configuration-test context does not drive");
    std::lock_guard<std::mutex> g(mu_);
    if (driver_.joinable() || certs_.empty()) return;
    stopping_.store(false);
    driver_ = std::thread([this] { driver_loop(); });
    started_.store(true);
}

void Engine::stop() noexcept {
    {
        std::lock_guard<std::mutex> g(mu_);
        if (!driver_.joinable()) return;
        stopping_.store(true);
        started_.store(false);
    }
    cv_.notify_all();
    driver_.join();
    driver_ = std::thread();
}

void Engine::hold_off(ManagedCert& mc, int64_t ms) {
    std::lock_guard<std::mutex> g(mu_);
    mc.not_before_ms_ = std::max(mc.not_before_ms_, clock_.now_ms() + ms);
}

void Engine::launch(ManagedCert& mc, Task task) {
    // mu_ is held by the caller.
    auto w = std::make_unique<Work>();
    Work* wp = w.get();
    wp->cert = &mc;
    wp->ordering = task == Task::order;
    mc.in_flight_ = true;
    working_on_ = mc.name();
    ACME_LOG_DEBUG("acme: %s: %s", mc.name().c_str(),
                   task == Task::ari       ? "polling ARI"
                   : task == Task::account ? "updating the account"
                   : task == Task::ocsp    ? "fetching OCSP responses"
                                           : "working on it");
    wp->thread = std::thread([this, wp, task] {
        try {
            if (task == Task::ari) {
                poll_ari(*wp->cert, &stopping_);
            } else if (task == Task::account) {
                sync_account(*wp->cert, &stopping_);
            } else if (task == Task::ocsp) {
                fetch_ocsp(*wp->cert, &stopping_);
            } else {
                std::vector<crypto::KeyType> types =
                    due_types(*wp->cert, false, clock_.now(), nullptr);
                if (!types.empty()) {
                    struct Sweep {
                        Engine* e;
                        ~Sweep() { e->sweep_stale_challenges(); }
                    } sweep{this};
                    order(*wp->cert, types, &stopping_);
                }
            }
        } catch (const RecordedFailure&) {
            // order() recorded and logged it; the schedule waits.
        } catch (const Error& e) {
            if (e.status() == Status::busy) {
                // Another process (acmectl, a second server on this store) is ordering it:
                // look again after the lock retry interval, without counting a failure.
                hold_off(*wp->cert, options_.lock_retry_ms);
                ACME_LOG_INFO("%s; looking again in %u ms", e.what(), options_.lock_retry_ms);
            } else if (stopping_.load()) {
                ACME_LOG_INFO("acme: %s: stopped: %s", wp->cert->name().c_str(), e.what());
            } else {
                // Not recorded by the schedule (the store, an ARI poll): the driver must not
                // relaunch at once either.
                hold_off(*wp->cert, kFailureHoldOffMs);
                ACME_LOG_ERROR("%s", in_context(wp->cert->name(), e.what()).c_str());
            }
        } catch (const std::exception& e) {
            hold_off(*wp->cert, kFailureHoldOffMs);
            ACME_LOG_ERROR("%s", in_context(wp->cert->name(), e.what()).c_str());
        }
        wp->done.store(true);
        cv_.notify_all();
    });
    work_.push_back(std::move(w));
}

void Engine::reap_finished() {
    // mu_ is held by the caller.
    for (auto it = work_.begin(); it != work_.end();) {
        if ((*it)->done.load()) {
            (*it)->thread.join();
            (*it)->cert->in_flight_ = false;
            it = work_.erase(it);
        } else {
            ++it;
        }
    }
    working_on_.clear();
    for (const auto& w : work_) working_on_ = w->cert->name();
}

void Engine::drive_once(int64_t now, int64_t& next_wake) {
    for (auto& mcp : certs_) {
        ManagedCert& mc = *mcp;
        {
            std::lock_guard<std::mutex> g(mu_);
            if (mc.in_flight_) continue;
            if (mc.not_before_ms_ > clock_.now_ms()) {
                next_wake = std::min(next_wake, mc.not_before_ms_ / 1000 + 1);
                continue;
            }
        }
        if (!mc.account_checked_) {
            mc.account_checked_ = true;
            if (account_outdated(mc)) {
                std::lock_guard<std::mutex> g(mu_);
                if (work_.size() < options_.max_concurrency) {
                    launch(mc, Task::account);
                    continue;
                }
                mc.account_checked_ = false;  // next pass
            }
        }
        Decision d;
        std::vector<crypto::KeyType> types;
        try {
            types = due_types(mc, false, now, &d);
        } catch (const std::exception& e) {
            ACME_LOG_ERROR("acme: %s: scheduling failed: %s", mc.name().c_str(), e.what());
            next_wake = std::min(next_wake, now + 60);
            continue;
        }
        std::lock_guard<std::mutex> g(mu_);
        if (!types.empty()) {
            const Work* busy = nullptr;
            std::string shared;
            for (const auto& w : work_) {
                if (!w->ordering) continue;
                shared = shared_name(mc.config(), w->cert->config());
                if (!shared.empty()) {
                    busy = w.get();
                    break;
                }
            }
            if (busy) {
                ACME_LOG_DEBUG("acme: %s: waiting for the order of %s, which validates %s too",
                               mc.name().c_str(), busy->cert->name().c_str(), shared.c_str());
            } else if (work_.size() < options_.max_concurrency) {
                ACME_LOG_INFO("acme: %s: %s", mc.name().c_str(), d.reason.c_str());
                launch(mc, Task::order);
            }
            continue;  // re-decided when the work ends (the driver wakes then)
        }
        if (d.ari_poll_at && d.ari_poll_at <= now) {
            if (work_.size() < options_.max_concurrency) launch(mc, Task::ari);
            continue;
        }
        if (const int64_t ocsp_at = ocsp_due(mc)) {
            if (ocsp_at <= now) {
                if (work_.size() < options_.max_concurrency) launch(mc, Task::ocsp);
                continue;
            }
            next_wake = std::min(next_wake, ocsp_at);
        }
        next_wake = std::min(next_wake, d.wake_at());
    }
}

void Engine::driver_loop() {
    std::unique_ptr<StoreLock> driver_lock;
    const std::string lock_name = "driver-" + config_id();
    while (!stopping_.load()) {
        if (!driver_lock) {
            try {
                driver_lock = store_->try_lock(lock_name);
            } catch (const std::exception& e) {
                ACME_LOG_ERROR("acme: driver lock: %s", e.what());
            }
            if (!driver_lock) {
                std::unique_lock<std::mutex> g(mu_);
                cv_.wait_for(g, std::chrono::milliseconds(options_.lock_retry_ms),
                             [this] { return stopping_.load(); });
                continue;
            }
            driver_active_.store(true);
            {
                std::lock_guard<std::mutex> g(mu_);
                driving_since_ = clock_.now();
            }
            for (auto& mc : certs_) mc->account_checked_ = false;
            ACME_LOG_NOTICE("acme: process %d now manages the certificates in %s",
                            static_cast<int>(::getpid()), store_->root().c_str());
            try {
                store_->remove_stale_temp_files();
            } catch (const std::exception& e) {
                ACME_LOG_WARN("acme: cleaning temporary files: %s", e.what());
            }
            sweep_stale_challenges();
        }
        const int64_t now = clock_.now();
        int64_t next_wake = now + 3600;
        drive_once(now, next_wake);
        {
            std::lock_guard<std::mutex> g(mu_);
            next_wakeup_ = next_wake;
        }
        publish_driver_state();
        std::unique_lock<std::mutex> g(mu_);
        // Wake for the next decision, when an order ends, or to stop.
        size_t running = work_.size();
        cv_.wait_for(g, std::chrono::milliseconds(std::max<int64_t>(next_wake - now, 1) * 1000),
                     [&] {
                         if (stopping_.load()) return true;
                         for (const auto& w : work_) {
                             if (w->done.load()) return true;
                         }
                         return work_.size() != running;
                     });
        reap_finished();
    }
    // Stopping: orders in flight see the cancel flag and end quickly.
    std::vector<std::unique_ptr<Work>> left;
    {
        std::lock_guard<std::mutex> g(mu_);
        left.swap(work_);
    }
    for (auto& w : left) {
        w->thread.join();
        w->cert->in_flight_ = false;
    }
    if (driver_active_.load()) {
        try {
            store_->remove(layout::driver_state(config_id()));
        } catch (const std::exception& e) {
            ACME_LOG_WARN("acme: %s", e.what());
        }
    }
    driver_active_.store(false);
}

void Engine::publish_driver_state() {
    Json j = Json::object();
    {
        std::lock_guard<std::mutex> g(mu_);
        j.set("pid", static_cast<int64_t>(::getpid()));
        j.set("since", driving_since_);
        j.set("working_on", working_on_);
        j.set("next_wakeup", next_wakeup_);
    }
    std::string text = j.dump();
    if (text == published_) return;
    try {
        store_->save(layout::driver_state(config_id()), text, Sensitivity::public_data);
        published_ = std::move(text);
    } catch (const std::exception& e) {
        ACME_LOG_WARN("acme: publishing the driver state: %s", e.what());
    }
}

// ---- one-shot operations ---------------------------------------------------------------------

bool Engine::issue_now(ManagedCert& mc, bool force) {
    // Ask the CA first when it may have moved the renewal window (RFC 9773).
    if (!force) {
        const int64_t now = clock_.now();
        CertMeta meta = load_meta(mc);
        bool ari_due = false;
        for (const KeyCert& k : meta.certs)
            ari_due = ari_due || (!k.ari.cert_id.empty() && k.ari.next_poll <= now);
        if (ari_due) poll_ari(mc, &stopping_);
    }
    Decision d;
    std::vector<crypto::KeyType> types = due_types(mc, force, clock_.now(), &d);
    if (types.empty()) {
        ACME_LOG_INFO("acme: %s: nothing to do: %s", mc.name().c_str(), d.reason.c_str());
        return false;
    }
    order(mc, types, &stopping_);
    return true;
}

void Engine::revoke(ManagedCert& mc, int reason, bool use_cert_key) {
    std::unique_ptr<StoreLock> lock = store_->try_lock("cert-" + mc.name());
    if (!lock) throw Error(Status::busy, "acme: " + mc.name() + ": another process is ordering it");
    CertMeta meta = load_meta(mc);
    if (meta.certs.empty())
        throw Error(Status::not_found, "acme: " + mc.name() + ": no certificate is stored");
    const std::string ca_url = meta.ca.empty() ? mc.config().account.ca_urls.front() : meta.ca;
    std::unique_ptr<Transport> transport = transport_for(mc.config().account);
    proto::Client client(*transport, ca_url, clock_);
    client.set_cancel_flag(&stopping_);
    if (!use_cert_key) with_account(client, mc.config().account, false);
    for (size_t i = 0; i < mc.config().key_types.size(); ++i) {
        const char* kt = crypto::key_type_name(mc.config().key_types[i]);
        std::optional<std::string> pem = store_->load(layout::cert_bundle(mc.name(), kt));
        if (!pem) continue;
        std::unique_ptr<cache::Entry> e = cache::parse_bundle(*pem);
        client.revoke(crypto::cert_to_der(e->leaf.get()), reason,
                      use_cert_key ? e->key.get() : nullptr);
        // A revoked certificate is not served again: archive it, and the driver orders anew.
        store_->save(layout::cert_archive(mc.name(), kt, clock_.now()), *pem, Sensitivity::secret);
        store_->remove(layout::cert_bundle(mc.name(), kt));
        // Servers switch to the stand-in on their next handshake (a server that started with a
        // stored certificate has no fallback file yet).
        ensure_fallback(mc, i);
        ACME_LOG_NOTICE("acme: %s: %s certificate %s revoked", mc.name().c_str(), kt,
                        crypto::cert_info(e->leaf.get()).serial_hex.c_str());
    }
    meta = load_meta(mc);
    save_meta(meta);
    store_->bump_generation();
}

Json Engine::account_show(AccountConfig cfg, bool create) {
    validate(cfg);
    std::unique_ptr<Transport> transport = transport_for(cfg);
    proto::Client client(*transport, cfg.ca_urls.front(), clock_);
    if (create) with_account(client, cfg, true);
    return proto::account_info(client, *store_, settings_for(cfg), true);
}

void Engine::account_rollover(AccountConfig cfg, std::optional<crypto::KeyType> type) {
    validate(cfg);
    std::unique_ptr<Transport> transport = transport_for(cfg);
    proto::Client client(*transport, cfg.ca_urls.front(), clock_);
    with_account(client, cfg, false);
    crypto::KeyType t = type ? *type : crypto::key_type_of(client.account_key());
    proto::rollover_account_key(client, *store_, settings_for(cfg), t);
}

std::string Engine::status(bool prometheus, bool all_stored) {
    std::vector<CertMeta> metas;
    std::set<std::string> seen;
    for (auto& mc : certs_) {
        CertMeta m = load_meta(*mc);
        if (m.domains.empty()) m.domains = mc->config().domains;
        seen.insert(m.name);
        metas.push_back(std::move(m));
    }
    if (all_stored) {
        for (const std::string& name : store_->list(layout::kCertsDir)) {
            if (seen.count(name)) continue;
            std::optional<std::string> text = store_->load(layout::cert_meta(name));
            if (!text) continue;
            try {
                metas.push_back(cert_meta_from_json(*text));
            } catch (const Error& e) {
                ACME_LOG_WARN("acme: %s: %s", name.c_str(), e.what());
            }
        }
    }
    DriverStatus ds;
    if (driver_active_.load()) {
        std::lock_guard<std::mutex> g(mu_);
        ds.active = ds.this_process = true;
        ds.pid = static_cast<long>(::getpid());
        ds.since = driving_since_;
        ds.working_on = working_on_;
        ds.next_wakeup = next_wakeup_;
    } else if (std::optional<std::string> text = store_->load(layout::driver_state(config_id()))) {
        // Another process drives: report what it published, if it is still alive.
        try {
            Json j = Json::parse(*text);
            const long pid = static_cast<long>(j.integer("pid"));
            if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) {
                ds.active = true;
                ds.pid = pid;
                ds.since = j.integer("since");
                ds.working_on = j.str("working_on");
                ds.next_wakeup = j.integer("next_wakeup");
            }
        } catch (const Error& e) {
            ACME_LOG_WARN("acme: driver state: %s", e.what());
        }
    }
    const DriverStatus* dsp = started_.load() ? &ds : nullptr;
    const int64_t now = clock_.now();
    return prometheus ? status_prometheus(metas, now, dsp) : status_json(metas, now, dsp);
}

// ---- challenge lookups ------------------------------------------------------------------------

std::optional<std::string> Engine::http01_lookup(std::string_view token) {
    if (!layout::valid_token(token)) throw Error(Status::invalid, "malformed http-01 token");
    return store_->load(layout::http01_challenge(token));
}

std::optional<std::string> Engine::tls_alpn01_bundle(std::string_view server_name) {
    std::string name;
    try {
        name = normalize_name(reverse_dns_to_ip(server_name));
    } catch (const Error&) {
        return std::nullopt;
    }
    return store_->load(layout::tls_alpn01_challenge(name));
}

std::string reverse_dns_to_ip(std::string_view sni) {
    // RFC 8738 section 6: for an IP identifier the validator sends the reverse-DNS name as SNI:
    // "1.2.0.192.in-addr.arpa" or 32 nibbles then ".ip6.arpa". Anything else is returned as is.
    std::string s(sni);
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (!s.empty() && s.back() == '.') s.pop_back();
    auto ends_with = [&](const std::string& suffix) {
        return s.size() > suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    std::vector<std::string> labels;
    auto split = [&](const std::string& body) {
        size_t start = 0;
        for (;;) {
            size_t dot = body.find('.', start);
            labels.push_back(body.substr(start, dot - start));
            if (dot == std::string::npos) break;
            start = dot + 1;
        }
    };
    if (ends_with(".in-addr.arpa")) {
        split(s.substr(0, s.size() - 13));
        if (labels.size() != 4) return std::string(sni);
        std::string ip;
        for (size_t i = 4; i-- > 0;) ip += labels[i] + (i ? "." : "");
        return is_ip_literal(ip) ? ip : std::string(sni);
    }
    if (ends_with(".ip6.arpa")) {
        split(s.substr(0, s.size() - 9));
        if (labels.size() != 32) return std::string(sni);
        std::string hex;
        for (size_t i = 32; i-- > 0;) {
            if (labels[i].size() != 1 || !std::isxdigit(static_cast<unsigned char>(labels[i][0])))
                return std::string(sni);
            hex += labels[i];
            if (i % 4 == 0 && i) hex += ':';
        }
        return is_ip_literal(hex) ? normalize_name(hex) : std::string(sni);
    }
    return std::string(sni);
}

}  // namespace acme::engine
