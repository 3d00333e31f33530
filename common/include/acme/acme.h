/*
 * acme.h: the C ABI of the ACME core. The nginx module, the httpd module and acmectl use only this
 * header.
 *
 * Conventions
 *
 *  1. Ownership. Handles are opaque and come in create/destroy pairs; destroy(NULL) is a no-op.
 *     An acme_cert belongs to the acme_ctx it was added to and lives as long as the context.
 *     Every buffer the library hands out (char ** out-parameters) is freed with acme_free().
 *     Strings passed in are copied; the caller may free them once the call returns.
 *
 *  2. NULL. Optional string fields and arguments may be NULL ("not set"). Required ones are named
 *     in each comment; passing NULL there returns ACME_ERR_INVALID.
 *
 *  3. Errors. Functions that can fail return acme_status and take a trailing `acme_error **err`.
 *     On failure, when err is not NULL, *err receives an error object (free it with
 *     acme_error_free) carrying a message, the ACME problem type when the CA sent one, whether the
 *     failure is permanent (retrying without a configuration change cannot help) and the earliest
 *     retry time the CA asked for. On success *err is left untouched. No C++ exception ever
 *     crosses this boundary.
 *
 *  4. Option structs start with `struct_size`; set it to sizeof(the struct) so that older callers
 *     keep working when fields are appended. Zeroed fields mean "default".
 *
 *  5. Threads. Everything may be called from any thread. acme_ssl_cert_cb() and the challenge
 *     lookups are safe to call concurrently from many threads and never block on ACME work.
 *     The driver (started by acme_ctx_start) runs on its own thread and calls the log callback
 *     from there.
 *
 *  6. Processes. Create the context and call acme_ctx_prepare() in the privileged parent before
 *     it forks; call acme_ctx_start() in each unprivileged worker/child after the fork and
 *     acme_ctx_stop() before that process exits (it returns within about a second: a request to
 *     the CA in flight is abandoned). Exactly one process per store and configuration drives
 *     (takes the store's driver lock); the others retry the lock every two seconds.
 *
 *  7. The handshake path (acme_ssl_cert_cb) does not allocate, parse or make syscalls in the
 *     steady state: it hands OpenSSL parsed, reference-counted objects from a per-process cache
 *     that is refreshed only when the store's shared generation counter changes.
 */
#ifndef ACME_ACME_H
#define ACME_ACME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ACME_API __attribute__((visibility("default")))
#else
#define ACME_API
#endif

#define ACME_ABI_VERSION 1

struct ssl_st;     /* OpenSSL's SSL */
struct ssl_ctx_st; /* OpenSSL's SSL_CTX */

/* ---- status and errors ------------------------------------------------------------------- */

typedef enum acme_status {
    ACME_OK = 0,
    ACME_ERR_INVALID = 1,   /* bad argument, configuration or input */
    ACME_ERR_NOT_FOUND = 2, /* no such certificate, token, account */
    ACME_ERR_IO = 3,        /* store / filesystem */
    ACME_ERR_CRYPTO = 4,    /* OpenSSL */
    ACME_ERR_NETWORK = 5,   /* DNS, connect, TLS, timeout */
    ACME_ERR_PROTOCOL = 6,  /* the CA answered something unusable */
    ACME_ERR_CA = 7,        /* the CA refused (problem document) */
    ACME_ERR_BUSY = 8,      /* another process holds the lock */
    ACME_ERR_VERIFY = 9,    /* an issued certificate failed verification */
    ACME_ERR_INTERNAL = 10
} acme_status;

typedef struct acme_error acme_error;

ACME_API acme_status acme_error_status(const acme_error *err);
ACME_API const char *acme_error_message(const acme_error *err);
/* Full problem type URN, e.g. "urn:ietf:params:acme:error:rateLimited"; "" when none. */
ACME_API const char *acme_error_problem_type(const acme_error *err);
/* 1 when retrying without a configuration change cannot help. */
ACME_API int acme_error_is_permanent(const acme_error *err);
/* For a configuration error: the acme_cert_config / acme_account_config member it is about
 * ("renew_window", "ca_urls", "eab_hmac_key", "domains", ...), so that a server can name its own
 * directive and where it was written; "" when the error concerns no single setting (or several
 * together, such as names against the challenge type, reported where the certificate is enabled). */
ACME_API const char *acme_error_field(const acme_error *err);
/* Unix time before which the CA asked not to retry; 0 when it did not say. */
ACME_API int64_t acme_error_retry_after(const acme_error *err);
ACME_API void acme_error_free(acme_error *err);

/* Name of a status ("invalid", "network", ...); never NULL. */
ACME_API const char *acme_status_name(acme_status status);

ACME_API void acme_free(void *ptr);

/* ---- version and logging ----------------------------------------------------------------- */

/* ACME_ABI_VERSION of the library actually linked. */
ACME_API unsigned acme_abi_version(void);
ACME_API const char *acme_version(void);

typedef enum acme_log_level {
    ACME_LOG_ERROR = 0,
    ACME_LOG_WARN = 1,
    ACME_LOG_NOTICE = 2,
    ACME_LOG_INFO = 3,
    ACME_LOG_DEBUG = 4
} acme_log_level;

/* Called from any thread (the driver's included) with a complete, context-prefixed line without
 * a trailing newline ("acme: example.org: certificate installed, ..."). */
typedef void (*acme_log_fn)(void *baton, acme_log_level level, const char *message);

/* Process-wide; fn NULL turns logging off. Messages above max_level are not even formatted. */
ACME_API void acme_log_set(acme_log_fn fn, void *baton, acme_log_level max_level);

/* ---- configuration ------------------------------------------------------------------------ */

typedef struct acme_account_config {
    size_t struct_size;
    /* CA directory URLs; several = failover in this order. Required (at least one). */
    const char *const *ca_urls;
    size_t n_ca_urls;
    /* PEM file trusted for the CA's HTTPS endpoint (private CA, pebble); NULL = system store. */
    const char *ca_root;
    /* Contacts: "admin@example.org" or "mailto:admin@example.org". */
    const char *const *contacts;
    size_t n_contacts;
    int agree_tos;
    /* External account binding: key id and base64url HMAC key, both or neither. */
    const char *eab_kid;
    const char *eab_hmac_key;
    /* "HS256" (default), "HS384", "HS512". */
    const char *eab_alg;
    /* Fields below were added after ABI version 1's first release; callers that set struct_size
     * to an older size get their defaults. */
    /* PEM file of the root certificates an issued chain must reach (checked like a TLS client:
     * validity of every certificate, each signature, intermediates as sent). NULL = the system
     * trust store. A chain that does not verify is never installed. */
    const char *chain_roots;
    /* File holding the base64url EAB HMAC key (instead of eab_hmac_key): read once, when the
     * configuration is validated; it must not be readable by other users. */
    const char *eab_hmac_key_file;
} acme_account_config;

typedef struct acme_cert_config {
    size_t struct_size;
    /* Names for the certificate (DNS names, "*.wildcards", IP addresses). Required. */
    const char *const *domains;
    size_t n_domains;
    /* Store name; NULL = derived from the first domain. */
    const char *name;
    /* "ecdsa-p256" (default), "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096"; two = dual. */
    const char *const *key_types;
    size_t n_key_types;
    /* "http-01" (default), "tls-alpn-01", "dns-01". Wildcards need dns-01. */
    const char *challenge;
    /* dns-01: program run as `PROGRAM setup|teardown DOMAIN TXT-VALUE`; it sets (removes) the TXT
     * record _acme-challenge.DOMAIN. For a wildcard *.example.org, DOMAIN is example.org. */
    const char *dns_hook;
    /* dns-01: seconds to wait after the hook succeeded before asking the CA to validate. */
    int dns_propagation_seconds;
    /* ACME profile name (e.g. "shortlived"); NULL = CA default. */
    const char *profile;
    /* Renewal point override: "30d" (renew 30 days before expiry) or "33%" (when a third of the
     * lifetime is left); NULL = ARI window when offered, else 2/3 of the lifetime. */
    const char *renew_window;
    /* Prefer the chain whose topmost issuer has this common name; NULL = CA default. */
    const char *preferred_chain;
    acme_account_config account;
} acme_cert_config;

typedef struct acme_ctx_options {
    size_t struct_size;
    /* Store directory. Required. */
    const char *store_dir;
    /* Appended to the User-Agent ("acme-module/0.1 nginx/1.22.1"); NULL = none. */
    const char *user_agent;
    /* Orders worked on at once by the driver; 0 = 2. */
    unsigned max_concurrency;
    /* How often a non-driving process retries the driver lock (and the driver a certificate
     * that another process is ordering), in ms; 0 = 2000. */
    unsigned lock_retry_ms;
    /* 1 for a configuration test (nginx -t): the store is read when it exists, and nothing is
     * created, written or handed over; acme_ctx_prepare() makes stand-in certificates in memory
     * only, and acme_ctx_start() refuses. (Added after ABI version 1's first release.) */
    int config_test;
} acme_ctx_options;

typedef struct acme_ctx acme_ctx;
typedef struct acme_cert acme_cert;

ACME_API acme_status acme_ctx_create(const acme_ctx_options *opts, acme_ctx **out,
                                     acme_error **err);
/* Stops the driver if it runs, then frees everything. */
ACME_API void acme_ctx_destroy(acme_ctx *ctx);

/* Validates `cfg` and adds the certificate to the context. Errors name the problem ("acme:
 * wildcard name *.example.org needs the dns-01 challenge"). Two certificates with the same store
 * name are refused. *out (optional) receives the handle, owned by ctx. */
ACME_API acme_status acme_ctx_add_cert(acme_ctx *ctx, const acme_cert_config *cfg,
                                       acme_cert **out, acme_error **err);

/* Validates and normalises `cfg` as acme_ctx_add_cert does, without a context and without
 * writing anything (it only checks that the DNS hook is executable and the CA root readable).
 * On ACME_OK, *name (optional) receives the store name the certificate gets (acme_free it).
 * Servers use it to check each directive on its own at configuration-test time. */
ACME_API acme_status acme_cert_config_validate(const acme_cert_config *cfg, char **name,
                                               acme_error **err);

/* After all acme_ctx_add_cert calls, in the privileged parent before forking: hands the store
 * (created by acme_ctx_create; directories 0700) to uid/gid when they are >= 0, loads every
 * stored certificate into the per-process cache and writes a self-signed fallback for each
 * certificate that has none yet. Never contacts a CA. */
ACME_API acme_status acme_ctx_prepare(acme_ctx *ctx, long uid, long gid, acme_error **err);

/* Number of key types of a certificate (1 or 2) and its store name. */
ACME_API size_t acme_cert_key_count(const acme_cert *cert);
ACME_API const char *acme_cert_name(const acme_cert *cert);

/* Startup files for key type `index` (valid after acme_ctx_prepare): one PEM file holding the
 * private key, the leaf and the chain: the stored certificate, or the fallback when none is stored
 * yet. Use it as both certificate and key file. *is_fallback (optional) tells which. */
ACME_API acme_status acme_cert_files(acme_cert *cert, size_t index, char **path,
                                     int *is_fallback, acme_error **err);

/* The same startup bundle as PEM text (private key, leaf, chain), taken from the per-process
 * cache that acme_ctx_prepare() filled; nothing is read from the store. Servers that run as root
 * should prefer it to acme_cert_files(): the store belongs to the worker user, so a path into it
 * must not be opened by root (nginx: "data:" + the text; httpd: a root-owned copy). *pem is
 * NUL-terminated (acme_free it), *len its length. ACME_ERR_NOT_FOUND when nothing is cached. */
ACME_API acme_status acme_cert_pem(acme_cert *cert, size_t index, char **pem, size_t *len,
                                   int *is_fallback, acme_error **err);

/* SSL_CTX_set_cert_cb() callback; `arg` is the acme_cert. Sets the current certificate(s) of the
 * certificate from the per-process cache with SSL_use_cert_and_key (all key types; OpenSSL picks
 * by the client's signature algorithms), or the tls-alpn-01 validation certificate when the
 * handshake was marked for tls-alpn-01 (then that certificate alone). Returns 1 (0 only on an
 * OpenSSL failure). */
ACME_API int acme_ssl_cert_cb(struct ssl_st *ssl, void *arg);

/* OCSP stapling. Call with the SSL_CTX of a server that acme_ssl_cert_cb serves, once the server
 * configured it. When the server turned stapling on there (it installed a status callback:
 * nginx "ssl_stapling on", httpd "SSLUseStapling On"), replaces that callback with the core's and
 * returns 1: the driver then fetches, checks (signature up to the chain roots, status good,
 * nextUpdate ahead) and stores an OCSP response for each certificate of `cert`, again at half of
 * its validity and after every renewal, and every process staples it from its cache: on the
 * handshake path one copy of the response is made (OpenSSL frees what it is given), nothing is
 * parsed, read or fetched. Returns 0 and changes nothing otherwise. Call in the privileged parent
 * before the fork. */
ACME_API int acme_ssl_ctx_staple(struct ssl_ctx_st *ssl_ctx, acme_cert *cert);

/* Starts the background driver thread of this process (idempotent). */
ACME_API acme_status acme_ctx_start(acme_ctx *ctx, acme_error **err);
/* Stops and joins it; an order in flight is abandoned and resumed by the next driver. */
ACME_API void acme_ctx_stop(acme_ctx *ctx);

/* ---- challenges ---------------------------------------------------------------------------- */

/* http-01: the key authorization for `token` (not NUL-terminated input of token_len bytes).
 * Returns ACME_ERR_INVALID for a malformed token (nothing is looked up), ACME_ERR_NOT_FOUND for an
 * unknown one; on ACME_OK *key_authz is a NUL-terminated string to acme_free, *len its length. */
ACME_API acme_status acme_http01_lookup(acme_ctx *ctx, const char *token, size_t token_len,
                                        char **key_authz, size_t *len, acme_error **err);

/* tls-alpn-01, for servers that select ALPN themselves (nginx). Call from the ALPN select
 * callback when the client offered "acme-tls/1": returns 1 when the handshake is marked (by
 * acme_ssl_client_hello_cb, or now, when a tls-alpn-01 challenge is pending for `server_name`,
 * the SNI), so the caller selects "acme-tls/1" and the validation certificate is served alone;
 * returns 0 otherwise. */
ACME_API int acme_tls_alpn01_select(acme_ctx *ctx, struct ssl_st *ssl, const char *server_name);

/* SSL_CTX_set_client_hello_cb() callback; `arg` is the acme_ctx. When the ClientHello offers
 * "acme-tls/1" and a tls-alpn-01 challenge is pending for its SNI name (a DNS name, or the
 * reverse-DNS name of an IP address, RFC 8738 section 6), it marks the handshake: the certificate
 * callback then serves the validation certificate alone, for TLS 1.2 and 1.3 and whatever the
 * configured key types. Install it on the SSL_CTX a connection starts with (it runs before SNI
 * switches contexts). It never fails a handshake; the server still selects "acme-tls/1" in its
 * ALPN callback (acme_tls_alpn01_select returns 1 for a marked handshake). */
ACME_API int acme_ssl_client_hello_cb(struct ssl_st *ssl, int *alert, void *arg);

/* tls-alpn-01 for httpd's ssl_answer_challenge hook: PEM certificate and key for `server_name`
 * (acme_free both). ACME_ERR_NOT_FOUND when no challenge is pending. */
ACME_API acme_status acme_tls_alpn01_pem(acme_ctx *ctx, const char *server_name, char **cert_pem,
                                         char **key_pem, acme_error **err);

/* ---- status -------------------------------------------------------------------------------- */

typedef enum acme_status_format {
    ACME_FORMAT_JSON = 0,
    ACME_FORMAT_PROMETHEUS = 1
} acme_status_format;

/* Status of the context's certificates (or, with ACME_STATUS_ALL, of every certificate in the
 * store): names, key types, issuer, not-after, next renewal, last error, CA. */
#define ACME_STATUS_ALL 1
ACME_API acme_status acme_ctx_status(acme_ctx *ctx, acme_status_format format, unsigned flags,
                                     char **out, size_t *len, acme_error **err);

/* ---- operations (acmectl) ------------------------------------------------------------------ */

/* Obtains (or, when `force` is set or it is due, renews) the certificate now, in this thread,
 * and installs it. Blocks until done or failed. http-01 key authorizations are published in the
 * store for acme_http01_lookup() to answer. */
ACME_API acme_status acme_cert_issue(acme_ctx *ctx, acme_cert *cert, int force, acme_error **err);

/* Revokes the stored certificate(s) of `cert` (RFC 5280 reason code, 0 = unspecified), signed
 * with the account key, or with the certificate's own key when use_cert_key is set. */
ACME_API acme_status acme_cert_revoke(acme_ctx *ctx, acme_cert *cert, int reason,
                                      int use_cert_key, acme_error **err);

/* The account for the first CA of `cfg` as JSON (creating it when `create` is set and none is
 * stored): CA, account URL, status, contacts, key type, JWK thumbprint. */
ACME_API acme_status acme_account_show(acme_ctx *ctx, const acme_account_config *cfg, int create,
                                       char **json, acme_error **err);

/* Rolls the account key over (RFC 8555 section 7.3.5) to a new key of `key_type` (NULL = same type
 * as now) and stores it. */
ACME_API acme_status acme_account_key_rollover(acme_ctx *ctx, const acme_account_config *cfg,
                                               const char *key_type, acme_error **err);

#ifdef __cplusplus
}
#endif

#endif /* ACME_ACME_H */
