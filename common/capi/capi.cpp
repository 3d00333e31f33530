// extern "C" shims over the engine. Every body runs inside guard(): no exception crosses the
// boundary, and every failure becomes an acme_status plus an optional acme_error.

#include <openssl/ssl.h>

#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

#include "acme/acme.h"
#include "cache/cache.h"
#include "engine/engine.h"
#include "util/error.h"
#include "util/log.h"

struct acme_error {
    acme_status status;
    std::string message;
    std::string problem_type;
    bool permanent;
    int64_t retry_after;
    std::string field;
};

struct acme_cert {
    acme::engine::ManagedCert* managed;
};

struct acme_ctx {
    std::unique_ptr<acme::engine::Engine> engine;
    std::vector<std::unique_ptr<acme_cert>> certs;
};

namespace {

using acme::Error;
using acme::Status;

static_assert(static_cast<int>(Status::internal) == ACME_ERR_INTERNAL, "status values differ");
static_assert(static_cast<int>(acme::LogLevel::debug) == ACME_LOG_DEBUG, "log levels differ");

void set_error(acme_error** err, acme_status status, std::string message,
               std::string problem_type = "", bool permanent = false, int64_t retry_after = 0,
               std::string field = "") {
    if (!err) return;
    *err = new (std::nothrow) acme_error{status, std::move(message), std::move(problem_type),
                                         permanent, retry_after, std::move(field)};
}

// The one guard every extern "C" body runs in.
template <typename F>
acme_status guard(acme_error** err, F&& body) noexcept {
    try {
        body();
        return ACME_OK;
    } catch (const Error& e) {
        auto status = static_cast<acme_status>(e.status());
        try {
            set_error(err, status, e.what(), e.problem_type(), e.permanent(), e.retry_after(),
                      e.field());
        } catch (...) {
        }
        return status;
    } catch (const std::bad_alloc&) {
        try {
            set_error(err, ACME_ERR_INTERNAL, "out of memory");
        } catch (...) {
        }
        return ACME_ERR_INTERNAL;
    } catch (const std::exception& e) {
        try {
            set_error(err, ACME_ERR_INTERNAL, std::string("internal error: ") + e.what());
        } catch (...) {
        }
        return ACME_ERR_INTERNAL;
    } catch (...) {
        try {
            set_error(err, ACME_ERR_INTERNAL, "internal error");
        } catch (...) {
        }
        return ACME_ERR_INTERNAL;
    }
}

char* dup_string(const std::string& s, size_t* len = nullptr) {
    char* p = static_cast<char*>(std::malloc(s.size() + 1));
    if (!p) throw std::bad_alloc();
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    if (len) *len = s.size();
    return p;
}

void require(const void* p, const char* what) {
    if (!p) throw Error(Status::invalid, std::string(what) + " is NULL", true);
}

std::string opt(const char* s) { return s ? s : ""; }

std::vector<std::string> strings(const char* const* v, size_t n, const char* what) {
    std::vector<std::string> out;
    if (n && !v) throw Error(Status::invalid, std::string(what) + " is NULL", true);
    for (size_t i = 0; i < n; ++i) {
        if (!v[i]) throw Error(Status::invalid, std::string(what) + " has a NULL entry", true);
        out.emplace_back(v[i]);
    }
    return out;
}

// True when the caller's struct (struct_size) reaches the whole of the field at `offset`: fields
// appended after a caller was built keep their defaults.
#define ACME_HAS_FIELD(s, type, field) \
    ((s)->struct_size >= offsetof(type, field) + sizeof((s)->field))

template <typename T>
void check_size(const T* s, size_t v1_size, const char* what) {
    if (s->struct_size < v1_size)
        throw Error(Status::invalid, std::string(what) + ".struct_size is too small", true);
}

acme::engine::AccountConfig account_config(const acme_account_config* a) {
    check_size(a, offsetof(acme_account_config, chain_roots), "acme_account_config");
    acme::engine::AccountConfig c;
    c.ca_urls = strings(a->ca_urls, a->n_ca_urls, "ca_urls");
    c.ca_root = opt(a->ca_root);
    c.contacts = strings(a->contacts, a->n_contacts, "contacts");
    c.agree_tos = a->agree_tos != 0;
    c.eab_kid = opt(a->eab_kid);
    c.eab_hmac_key = opt(a->eab_hmac_key);
    c.eab_alg = opt(a->eab_alg);
    if (ACME_HAS_FIELD(a, acme_account_config, chain_roots)) c.chain_roots = opt(a->chain_roots);
    if (ACME_HAS_FIELD(a, acme_account_config, eab_hmac_key_file))
        c.eab_hmac_key_file = opt(a->eab_hmac_key_file);
    return c;
}

acme::engine::CertConfig cert_config(const acme_cert_config* cfg) {
    check_size(cfg,
               offsetof(acme_cert_config, account) + offsetof(acme_account_config, chain_roots),
               "acme_cert_config");
    acme::engine::CertConfig c;
    c.domains = strings(cfg->domains, cfg->n_domains, "domains");
    c.name = opt(cfg->name);
    try {
        for (const std::string& t : strings(cfg->key_types, cfg->n_key_types, "key_types"))
            c.key_types.push_back(acme::crypto::parse_key_type(t));
    } catch (Error& e) {
        throw e.set_field("key_types");
    }
    try {
        if (cfg->challenge) c.challenge = acme::engine::parse_challenge(cfg->challenge);
    } catch (Error& e) {
        throw e.set_field("challenge");
    }
    c.dns_hook = opt(cfg->dns_hook);
    c.dns_propagation_seconds = cfg->dns_propagation_seconds;
    c.profile = opt(cfg->profile);
    c.renew_window = opt(cfg->renew_window);
    c.preferred_chain = opt(cfg->preferred_chain);
    c.account = account_config(&cfg->account);
    return c;
}

std::atomic<acme_log_fn> g_log_fn{nullptr};

void log_trampoline(void* baton, int level, const char* message) {
    acme_log_fn fn = g_log_fn.load();
    if (fn) fn(baton, static_cast<acme_log_level>(level), message);
}

}  // namespace

extern "C" {

ACME_API acme_status acme_error_status(const acme_error* err) {
    return err ? err->status : ACME_OK;
}
ACME_API const char* acme_error_message(const acme_error* err) {
    return err ? err->message.c_str() : "";
}
ACME_API const char* acme_error_problem_type(const acme_error* err) {
    return err ? err->problem_type.c_str() : "";
}
ACME_API int acme_error_is_permanent(const acme_error* err) { return err && err->permanent; }
ACME_API const char* acme_error_field(const acme_error* err) {
    return err ? err->field.c_str() : "";
}
ACME_API int64_t acme_error_retry_after(const acme_error* err) {
    return err ? err->retry_after : 0;
}
ACME_API void acme_error_free(acme_error* err) { delete err; }

ACME_API const char* acme_status_name(acme_status status) {
    if (status < ACME_OK || status > ACME_ERR_INTERNAL) return "unknown";
    return acme::status_name(static_cast<Status>(status));
}

ACME_API void acme_free(void* ptr) { std::free(ptr); }

ACME_API unsigned acme_abi_version(void) { return ACME_ABI_VERSION; }
ACME_API const char* acme_version(void) { return ACME_VERSION_STRING; }

ACME_API void acme_log_set(acme_log_fn fn, void* baton, acme_log_level max_level) {
    g_log_fn.store(fn);
    acme::log_set(fn ? log_trampoline : nullptr, baton, static_cast<acme::LogLevel>(max_level));
}

ACME_API acme_status acme_ctx_create(const acme_ctx_options* opts, acme_ctx** out,
                                     acme_error** err) {
    return guard(err, [&] {
        require(opts, "opts");
        require(out, "out");
        check_size(opts, offsetof(acme_ctx_options, config_test), "acme_ctx_options");
        require(opts->store_dir, "store_dir");
        acme::engine::EngineOptions o;
        o.store_dir = opts->store_dir;
        o.user_agent = opt(opts->user_agent);
        o.max_concurrency = opts->max_concurrency;
        o.lock_retry_ms = opts->lock_retry_ms;
        if (ACME_HAS_FIELD(opts, acme_ctx_options, config_test))
            o.read_only = opts->config_test != 0;
        auto ctx = std::make_unique<acme_ctx>();
        ctx->engine = std::make_unique<acme::engine::Engine>(std::move(o));
        *out = ctx.release();
    });
}

ACME_API void acme_ctx_destroy(acme_ctx* ctx) {
    if (!ctx) return;
    guard(nullptr, [&] { ctx->engine->stop(); });
    delete ctx;
}

ACME_API acme_status acme_ctx_add_cert(acme_ctx* ctx, const acme_cert_config* cfg,
                                       acme_cert** out, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(cfg, "cfg");
        acme::engine::ManagedCert& mc = ctx->engine->add(cert_config(cfg));
        ctx->certs.push_back(std::make_unique<acme_cert>(acme_cert{&mc}));
        if (out) *out = ctx->certs.back().get();
    });
}

ACME_API acme_status acme_cert_config_validate(const acme_cert_config* cfg, char** name,
                                               acme_error** err) {
    return guard(err, [&] {
        require(cfg, "cfg");
        acme::engine::CertConfig c = cert_config(cfg);
        acme::engine::validate(c);
        if (name) *name = dup_string(c.name);
    });
}

ACME_API acme_status acme_ctx_prepare(acme_ctx* ctx, long uid, long gid, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        ctx->engine->prepare(uid, gid);
    });
}

ACME_API size_t acme_cert_key_count(const acme_cert* cert) {
    return cert ? cert->managed->config().key_types.size() : 0;
}

ACME_API const char* acme_cert_name(const acme_cert* cert) {
    return cert ? cert->managed->name().c_str() : "";
}

ACME_API acme_status acme_cert_files(acme_cert* cert, size_t index, char** path, int* is_fallback,
                                     acme_error** err) {
    return guard(err, [&] {
        require(cert, "cert");
        require(path, "path");
        if (index >= cert->managed->config().key_types.size())
            throw Error(Status::invalid, "key type index out of range", true);
        bool fallback = false;
        std::string p = cert->managed->startup_file(index, &fallback);
        *path = dup_string(p);
        if (is_fallback) *is_fallback = fallback;
    });
}

ACME_API acme_status acme_cert_pem(acme_cert* cert, size_t index, char** pem, size_t* len,
                                   int* is_fallback, acme_error** err) {
    return guard(err, [&] {
        require(cert, "cert");
        require(pem, "pem");
        if (index >= cert->managed->config().key_types.size())
            throw Error(Status::invalid, "key type index out of range", true);
        auto current = cert->managed->cached().current_pem(index);
        if (!current)
            throw Error(Status::not_found, "no certificate cached (call acme_ctx_prepare)");
        *pem = dup_string(current->first, len);
        if (is_fallback) *is_fallback = current->second;
    });
}

namespace {

// The protocol names of an ALPN extension body contain "acme-tls/1".
bool offers_acme_tls(const unsigned char* p, size_t len) {
    if (len < 2) return false;
    size_t list = (size_t{p[0]} << 8) | p[1];
    if (list + 2 != len) return false;
    static const char kProto[] = "acme-tls/1";
    for (size_t i = 2; i < len;) {
        size_t n = p[i++];
        if (n == 0 || i + n > len) return false;
        if (n == sizeof kProto - 1 && std::memcmp(p + i, kProto, n) == 0) return true;
        i += n;
    }
    return false;
}

// The host_name of a server_name extension body, "" when absent or malformed.
std::string sni_host_name(const unsigned char* p, size_t len) {
    if (len < 2) return "";
    size_t list = (size_t{p[0]} << 8) | p[1];
    if (list + 2 != len) return "";
    for (size_t i = 2; i + 3 <= len;) {
        unsigned type = p[i];
        size_t n = (size_t{p[i + 1]} << 8) | p[i + 2];
        i += 3;
        if (i + n > len) return "";
        if (type == 0 && n > 0 && n <= 255) return std::string(reinterpret_cast<const char*>(p + i), n);
        i += n;
    }
    return "";
}

}  // namespace

ACME_API int acme_ssl_client_hello_cb(struct ssl_st* ssl, int* alert, void* arg) {
    (void)alert;
    if (!ssl || !arg) return SSL_CLIENT_HELLO_SUCCESS;
    const unsigned char* p = nullptr;
    size_t len = 0;
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &p,
                                   &len) ||
        !offers_acme_tls(p, len)) {
        return SSL_CLIENT_HELLO_SUCCESS;  // the common case: nothing to do
    }
    if (!SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_server_name, &p, &len))
        return SSL_CLIENT_HELLO_SUCCESS;
    acme_ctx* ctx = static_cast<acme_ctx*>(arg);
    guard(nullptr, [&] {
        std::string name = sni_host_name(p, len);
        if (name.empty()) return;
        std::optional<std::string> bundle = ctx->engine->tls_alpn01_bundle(name);
        if (!bundle) return;
        std::unique_ptr<acme::cache::Entry> e = acme::cache::parse_bundle(*bundle);
        acme::cache::attach_alpn_challenge(ssl, std::move(e->leaf), std::move(e->key));
    });
    return SSL_CLIENT_HELLO_SUCCESS;
}

ACME_API int acme_ssl_cert_cb(struct ssl_st* ssl, void* arg) {
    if (!ssl || !arg) return 1;
    if (acme::cache::apply_alpn_challenge(ssl)) return 1;
    return static_cast<acme_cert*>(arg)->managed->cached().apply(ssl);
}

namespace {
int staple_cb(SSL* ssl, void*) { return acme::cache::apply_staple(ssl); }
}  // namespace

ACME_API int acme_ssl_ctx_staple(struct ssl_ctx_st* ssl_ctx, acme_cert* cert) {
    if (!ssl_ctx || !cert) return 0;
    int (*current)(SSL*, void*) = nullptr;
    if (SSL_CTX_get_tlsext_status_cb(ssl_ctx, &current) != 1 || !current) return 0;
    SSL_CTX_set_tlsext_status_cb(ssl_ctx, staple_cb);
    cert->managed->set_stapled();
    return 1;
}

ACME_API acme_status acme_ctx_start(acme_ctx* ctx, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        ctx->engine->start();
    });
}

ACME_API void acme_ctx_stop(acme_ctx* ctx) {
    if (ctx) guard(nullptr, [&] { ctx->engine->stop(); });
}

ACME_API acme_status acme_http01_lookup(acme_ctx* ctx, const char* token, size_t token_len,
                                        char** key_authz, size_t* len, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(token, "token");
        require(key_authz, "key_authz");
        std::optional<std::string> ka =
            ctx->engine->http01_lookup(std::string_view(token, token_len));
        if (!ka) throw Error(Status::not_found, "unknown http-01 token");
        *key_authz = dup_string(*ka, len);
    });
}

ACME_API int acme_tls_alpn01_select(acme_ctx* ctx, struct ssl_st* ssl, const char* server_name) {
    if (!ctx || !ssl) return 0;
    if (acme::cache::has_alpn_challenge(ssl)) return 1;  // marked by acme_ssl_client_hello_cb
    if (!server_name) return 0;
    int selected = 0;
    guard(nullptr, [&] {
        std::optional<std::string> bundle = ctx->engine->tls_alpn01_bundle(server_name);
        if (!bundle) return;
        std::unique_ptr<acme::cache::Entry> e = acme::cache::parse_bundle(*bundle);
        if (!acme::cache::attach_alpn_challenge(ssl, std::move(e->leaf), std::move(e->key)))
            return;
        // For TLS 1.2 the certificate callback has already run when ALPN is negotiated: set the
        // validation certificate now as well (TLS 1.3 runs the callback after ALPN).
        acme::cache::apply_alpn_challenge(ssl);
        selected = 1;
    });
    return selected;
}

ACME_API acme_status acme_tls_alpn01_pem(acme_ctx* ctx, const char* server_name, char** cert_pem,
                                         char** key_pem, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(server_name, "server_name");
        require(cert_pem, "cert_pem");
        require(key_pem, "key_pem");
        std::optional<std::string> bundle = ctx->engine->tls_alpn01_bundle(server_name);
        if (!bundle) throw Error(Status::not_found, "no tls-alpn-01 challenge pending");
        std::unique_ptr<acme::cache::Entry> e = acme::cache::parse_bundle(*bundle);
        std::string cert = acme::crypto::cert_to_pem(e->leaf.get());
        std::string key = acme::crypto::private_key_to_pem(e->key.get());
        char* c = dup_string(cert);
        char* k = nullptr;
        try {
            k = dup_string(key);
        } catch (...) {
            std::free(c);
            throw;
        }
        *cert_pem = c;
        *key_pem = k;
    });
}

ACME_API acme_status acme_ctx_status(acme_ctx* ctx, acme_status_format format, unsigned flags,
                                     char** out, size_t* len, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(out, "out");
        std::string s = ctx->engine->status(format == ACME_FORMAT_PROMETHEUS,
                                            (flags & ACME_STATUS_ALL) != 0);
        *out = dup_string(s, len);
    });
}

ACME_API acme_status acme_cert_issue(acme_ctx* ctx, acme_cert* cert, int force, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(cert, "cert");
        ctx->engine->issue_now(*cert->managed, force != 0);
    });
}

ACME_API acme_status acme_cert_revoke(acme_ctx* ctx, acme_cert* cert, int reason,
                                      int use_cert_key, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(cert, "cert");
        if (reason < 0 || reason > 10 || reason == 7)
            throw Error(Status::invalid, "invalid revocation reason " + std::to_string(reason) +
                                             " (RFC 5280 codes 0-6, 8-10)", true);
        ctx->engine->revoke(*cert->managed, reason, use_cert_key != 0);
    });
}

ACME_API acme_status acme_account_show(acme_ctx* ctx, const acme_account_config* cfg, int create,
                                       char** json, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(cfg, "cfg");
        require(json, "json");
        acme::Json j = ctx->engine->account_show(account_config(cfg), create != 0);
        *json = dup_string(j.dump(acme::Json::pretty) + "\n");
    });
}

ACME_API acme_status acme_account_key_rollover(acme_ctx* ctx, const acme_account_config* cfg,
                                               const char* key_type, acme_error** err) {
    return guard(err, [&] {
        require(ctx, "ctx");
        require(cfg, "cfg");
        std::optional<acme::crypto::KeyType> t;
        if (key_type) t = acme::crypto::parse_key_type(key_type);
        ctx->engine->account_rollover(account_config(cfg), t);
    });
}

}  // extern "C"
