/*
 * mod_acme.c: ACME (RFC 8555) certificates for Apache httpd + mod_ssl, swapped in without a
 * restart.
 *
 *     LoadModule acme_module modules/mod_acme.so
 *     ACMECertificateAuthority https://acme-v02.api.letsencrypt.org/directory
 *     ACMEContactEmail admin@example.org
 *     ACMEAgreeTOS On
 *     <VirtualHost *:443>
 *         ServerName example.org
 *         SSLEngine on
 *         ACME On
 *     </VirtualHost>
 *
 * The glue is thin: it turns directives into the core's configuration (acme/acme.h is the only
 * core header used), hands mod_ssl the startup files, installs the certificate callback,
 * answers challenges, renders status and maps the core's log onto the error log.
 *
 * Contract
 *
 *  1. Configuration. Directive handlers check what they can see alone (flags, key type and
 *     challenge names, URL schemes) and fail with httpd's "Syntax error on line N of FILE". The
 *     whole configuration of each managed server is validated by the core in check_config,
 *     which runs for `apachectl configtest` too, against a throw-away store in the temporary
 *     directory (validation never touches the real store); an error names the file:line of the
 *     directive at fault (found by leaving out one directive at a time) or of `ACME On`.
 *  2. Processes. post_config (in the root parent, before mod_ssl's) builds one acme_ctx per
 *     store directory, adds one acme_cert per distinct managed configuration (virtual hosts
 *     with identical settings share it, e.g. the :80 and :443 hosts of one site) and calls
 *     acme_ctx_prepare() with the worker User/Group as owner (and warns when the store, or
 *     the directory above it, is not owned as that requires). The contexts live in pconf and
 *     are destroyed by its cleanup (graceful restart, exit). child_init, which httpd runs after
 *     the child dropped its privileges, starts the core's driver thread and a stopper thread
 *     (both block every signal); the stopper stops the driver as soon as the child stops
 *     serving new connections (child_stopping; prefork: the MPM state, looked at every
 *     second), even while the child finishes a long request after a graceful restart, so that
 *     an old generation never orders with old settings. The child's exit waits for it, boundedly
 *     and without taking any lock (prefork runs that from a signal handler). The core's store
 *     lock makes exactly one child drive; the role moves on when that child stops.
 *  3. Certificates. At startup, ssl_add_cert_files gives mod_ssl the stored bundle (key +
 *     chain in one file) or, when none is stored yet, the core's self-signed fallback, as a
 *     root-owned 0600 copy in the runtime directory written from the core's cache (mod_ssl,
 *     as root, never opens a path in the store, which the children's User owns); an
 *     SSLCertificateFile of the same server is dropped (ACME On wins, with a warning). The
 *     ssl_add_fallback_cert_files hook is deliberately not used: mod_ssl answers every request
 *     of a server whose certificate came from that hook with 503 until the next restart,
 *     which would defeat the hot swap. At run time the SSL_CTX certificate callback installed
 *     through mod_ssl's optional init_server hook serves the per-process cached current
 *     certificate(s) (acme_ssl_cert_cb): no reload, no graceful restart. mod_ssl itself never
 *     installs a certificate callback on a server SSL_CTX (only a client one for proxies), so
 *     nothing is overridden; SNI works because SSL_set_SSL_CTX copies the callback.
 *  4. Challenges. http-01 is answered in post_read_request (before mod_alias' Redirect and
 *     mod_rewrite run in translate_name) for any virtual host; unknown or malformed tokens are
 *     DECLINED so that other handlers may answer. tls-alpn-01: the module proposes
 *     "acme-tls/1" in ALPN on managed servers (the server's Protocols must list it), answers
 *     mod_ssl's ssl_answer_challenge with the validation certificate, and the certificate
 *     callback leaves that certificate alone (TLS 1.3 runs the callback after ALPN).
 *  5. Threads. The handshake callback, the challenge lookups and the status handler only call
 *     thread-safe core functions. The log callback may run on the driver thread; it only calls
 *     ap_log_error, which is thread-safe.
 */

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

/* httpd.h first: it sets up APR and APR-util for the headers after it. */
#include "httpd.h"

#include "ap_mpm.h"
#include "ap_release.h"
#include "http_config.h"
#include "http_connection.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "mod_ssl.h"
#include "mpm_common.h"
#include "unixd.h"

#include "apr_file_info.h"
#include "apr_file_io.h"
#include "apr_hash.h"
#include "apr_optional_hooks.h"
#include "apr_strings.h"

#include <acme/acme.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mod_ssl's optional init_server hook (mod_ssl_openssl.h, which Debian's apache2-dev lacks). */
APR_DECLARE_EXTERNAL_HOOK(ssl, SSL, int, init_server,
                          (server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx))

/* Numbered log messages in httpd's APLOGNO style, in our own namespace. */
#define ACMELOGNO(n) "ACME" #n ": "

#ifndef ACME_DEFAULT_STORE_DIR
#define ACME_DEFAULT_STORE_DIR "/var/lib/apache2/acme"
#endif

#define ACME_TLS_1 "acme-tls/1"
#define ACME_CHALLENGE_PREFIX "/.well-known/acme-challenge/"
#define ACME_STATUS_HANDLER "acme-status"

extern module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) acme_module;
APLOG_USE_MODULE(acme);

/* ---- configuration ------------------------------------------------------------------------ */

/* The settings of a server; each remembers where it was set (file NULL: not set here). */
enum acme_field {
    F_ENABLED, F_CA, F_EMAIL, F_TOS, F_STORE, F_CAROOT, F_DOMAINS, F_KEYTYPE, F_CHALLENGE,
    F_DNSHOOK, F_DNSWAIT, F_EAB, F_PROFILE, F_WINDOW, F_CHAIN, F_CHAINROOTS, F_NFIELDS
};

static const char *const acme_field_directive[F_NFIELDS] = {
    "ACME On", "ACMECertificateAuthority", "ACMEContactEmail", "ACMEAgreeTOS", "ACMEStoreDir",
    "ACMECARoot", "ACMEDomains", "ACMEKeyType", "ACMEChallenge", "ACMEDNSHook", "ACMEDNSWait",
    "ACMEExternalAccountBinding", "ACMEProfile", "ACMERenewWindow", "ACMEPreferredChain",
    "ACMEChainRoots"};

typedef struct acme_where {
    const char *file;
    unsigned line;
} acme_where;

/* What the certificate callback of a managed server needs (shared by servers with identical
 * settings), and the startup files handed to mod_ssl. */
typedef struct acme_binding {
    acme_ctx *ctx;
    acme_cert *cert;
    const char *key_types[2];
    const char *files[2]; /* root-owned copies in the runtime directory (see acme_startup_file) */
    int fallback[2];
} acme_binding;

typedef struct acme_srv_conf {
    acme_where where[F_NFIELDS];
    int enabled;
    apr_array_header_t *ca_urls;  /* const char * */
    apr_array_header_t *contacts; /* const char * */
    int agree_tos;
    const char *store_dir;
    const char *ca_root;
    apr_array_header_t *domains; /* const char * */
    const char *key_types[2];
    int n_key_types;
    const char *challenge;
    const char *dns_hook;
    int dns_wait;
    const char *eab_kid, *eab_key, *eab_alg, *eab_key_file;
    const char *chain_roots;
    const char *profile;
    const char *renew_window;
    const char *preferred_chain;

    /* Run time (set by post_config for managed servers; per configuration generation). */
    acme_binding *binding;
} acme_srv_conf;

/* One store directory and its context (per configuration generation, in pconf). */
typedef struct acme_store_rt {
    const char *dir;
    acme_ctx *ctx;
    apr_hash_t *certs; /* configuration key -> acme_binding * */
    struct acme_store_rt *next;
} acme_store_rt;

static acme_store_rt *acme_stores;   /* of the configuration in use */
static server_rec *acme_log_server;  /* main server of that configuration, or NULL */

static acme_srv_conf *acme_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &acme_module);
}

static void *acme_create_srv(apr_pool_t *p, server_rec *s)
{
    acme_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->enabled = 0;
    return c;
}

static void *acme_merge_srv(apr_pool_t *p, void *basev, void *addv)
{
    const acme_srv_conf *base = basev, *add = addv;
    acme_srv_conf *c = apr_pcalloc(p, sizeof(*c));

    /* Field by field: what the virtual host sets wins, the rest comes from the main server. */
#define ACME_MERGE(field, ...)                                                                  \
    do {                                                                                       \
        const acme_srv_conf *from = add->where[field].file ? add : base;                       \
        c->where[field] = from->where[field];                                                  \
        __VA_ARGS__                                                                            \
    } while (0)
    ACME_MERGE(F_ENABLED, c->enabled = from->enabled;);
    ACME_MERGE(F_CA, c->ca_urls = from->ca_urls;);
    ACME_MERGE(F_EMAIL, c->contacts = from->contacts;);
    ACME_MERGE(F_TOS, c->agree_tos = from->agree_tos;);
    ACME_MERGE(F_STORE, c->store_dir = from->store_dir;);
    ACME_MERGE(F_CAROOT, c->ca_root = from->ca_root;);
    ACME_MERGE(F_DOMAINS, c->domains = from->domains;);
    ACME_MERGE(F_KEYTYPE, c->key_types[0] = from->key_types[0];
               c->key_types[1] = from->key_types[1]; c->n_key_types = from->n_key_types;);
    ACME_MERGE(F_CHALLENGE, c->challenge = from->challenge;);
    ACME_MERGE(F_DNSHOOK, c->dns_hook = from->dns_hook;);
    ACME_MERGE(F_DNSWAIT, c->dns_wait = from->dns_wait;);
    ACME_MERGE(F_EAB, c->eab_kid = from->eab_kid; c->eab_key = from->eab_key;
               c->eab_alg = from->eab_alg; c->eab_key_file = from->eab_key_file;);
    ACME_MERGE(F_CHAINROOTS, c->chain_roots = from->chain_roots;);
    ACME_MERGE(F_PROFILE, c->profile = from->profile;);
    ACME_MERGE(F_WINDOW, c->renew_window = from->renew_window;);
    ACME_MERGE(F_CHAIN, c->preferred_chain = from->preferred_chain;);
#undef ACME_MERGE
    return c;
}

/* ---- directives ----------------------------------------------------------------------------- */

/* Marks `field` as set by the directive being processed; returns 1 when that directive line
 * set it before (for ITERATE directives: the arguments of one line accumulate, a later line
 * replaces). */
static int acme_remember(cmd_parms *cmd, acme_srv_conf *c, enum acme_field field)
{
    const char *file = cmd->directive ? cmd->directive->filename : "(command line)";
    unsigned line = cmd->directive ? (unsigned)cmd->directive->line_num : 0;
    int same = c->where[field].file && c->where[field].line == line &&
               !strcmp(c->where[field].file, file);

    if (!same) {
        c->where[field].file = apr_pstrdup(cmd->pool, file);
        c->where[field].line = line;
    }
    return same;
}

static acme_srv_conf *acme_cmd_conf(cmd_parms *cmd)
{
    return acme_conf(cmd->server);
}

static const char *acme_cmd_enable(cmd_parms *cmd, void *dc, int flag)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    acme_remember(cmd, c, F_ENABLED);
    c->enabled = flag;
    return NULL;
}

static const char *acme_cmd_ca(cmd_parms *cmd, void *dc, const char *url)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    if (ap_cstr_casecmpn(url, "https://", 8) || !url[8]) {
        return apr_psprintf(cmd->pool, "%s: CA directory URL '%s' must start with https:// "
                            "(RFC 8555 section 6.1)", cmd->cmd->name, url);
    }
    if (!acme_remember(cmd, c, F_CA)) {
        c->ca_urls = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->ca_urls, const char *) = url;
    return NULL;
}

static const char *acme_cmd_email(cmd_parms *cmd, void *dc, const char *addr)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    const char *at = strchr(addr, '@');

    (void)dc;
    if (!at || at == addr || !at[1]) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an email address", cmd->cmd->name,
                            addr);
    }
    if (!acme_remember(cmd, c, F_EMAIL)) {
        c->contacts = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->contacts, const char *) = addr;
    return NULL;
}

static const char *acme_cmd_tos(cmd_parms *cmd, void *dc, int flag)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    acme_remember(cmd, c, F_TOS);
    c->agree_tos = flag;
    return NULL;
}

static const char *acme_cmd_store(cmd_parms *cmd, void *dc, const char *path)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    const char *full = ap_server_root_relative(cmd->pool, path);

    (void)dc;
    if (!full || !*path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, path);
    }
    acme_remember(cmd, c, F_STORE);
    c->store_dir = full;
    return NULL;
}

/* ACMECARoot, ACMEChainRoots: a PEM file, relative to ServerRoot */
static const char *acme_cmd_pem_file(cmd_parms *cmd, void *dc, const char *path)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    enum acme_field field = (enum acme_field)(intptr_t)cmd->info;
    const char *full = ap_server_root_relative(cmd->pool, path);
    apr_finfo_t fi;

    (void)dc;
    if (!full || apr_stat(&fi, full, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS ||
        fi.filetype != APR_REG) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a readable file", cmd->cmd->name,
                            full ? full : path);
    }
    acme_remember(cmd, c, field);
    if (field == F_CAROOT) {
        c->ca_root = full;
    }
    else {
        c->chain_roots = full;
    }
    return NULL;
}

static const char *acme_cmd_domains(cmd_parms *cmd, void *dc, const char *name)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    if (!acme_remember(cmd, c, F_DOMAINS)) {
        c->domains = apr_array_make(cmd->pool, 4, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->domains, const char *) = name;
    return NULL;
}

static const char *const acme_key_type_names[] = {"ecdsa-p256", "ecdsa-p384", "rsa-2048",
                                                  "rsa-3072", "rsa-4096", NULL};

static const char *acme_check_key_type(cmd_parms *cmd, const char *t)
{
    int i;

    for (i = 0; acme_key_type_names[i]; ++i) {
        if (!strcmp(t, acme_key_type_names[i])) {
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "%s: unknown key type '%s' (use ecdsa-p256, ecdsa-p384, "
                        "rsa-2048, rsa-3072 or rsa-4096)", cmd->cmd->name, t);
}

static const char *acme_cmd_key_type(cmd_parms *cmd, void *dc, const char *t1, const char *t2)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    const char *err;

    (void)dc;
    if ((err = acme_check_key_type(cmd, t1)) || (t2 && (err = acme_check_key_type(cmd, t2)))) {
        return err;
    }
    if (t2 && !strncmp(t1, "rsa", 3) == !strncmp(t2, "rsa", 3)) {
        return apr_psprintf(cmd->pool, "%s: two key types must be one ECDSA and one RSA type, "
                            "not %s and %s", cmd->cmd->name, t1, t2);
    }
    acme_remember(cmd, c, F_KEYTYPE);
    c->key_types[0] = t1;
    c->key_types[1] = t2;
    c->n_key_types = t2 ? 2 : 1;
    return NULL;
}

static const char *acme_cmd_challenge(cmd_parms *cmd, void *dc, const char *t)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    if (strcmp(t, "http-01") && strcmp(t, "tls-alpn-01") && strcmp(t, "dns-01")) {
        return apr_psprintf(cmd->pool, "%s: unknown challenge type '%s' (use http-01, "
                            "tls-alpn-01 or dns-01)", cmd->cmd->name, t);
    }
    acme_remember(cmd, c, F_CHALLENGE);
    c->challenge = t;
    return NULL;
}

static const char *acme_cmd_dns_hook(cmd_parms *cmd, void *dc, const char *path)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    const char *full = ap_server_root_relative(cmd->pool, path);

    (void)dc;
    if (!full || !*path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, path);
    }
    acme_remember(cmd, c, F_DNSHOOK);
    c->dns_hook = full;
    return NULL;
}

/* ACMEDNSWait 30 | 30s | 2m | 1h: at most one hour. */
static const char *acme_cmd_dns_wait(cmd_parms *cmd, void *dc, const char *value)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    char *end = NULL;
    long secs;

    (void)dc;
    errno = 0;
    secs = strtol(value, &end, 10);
    if (end != value && !errno) {
        if (!strcmp(end, "m")) {
            secs *= 60;
        }
        else if (!strcmp(end, "h")) {
            secs *= 3600;
        }
        else if (*end && strcmp(end, "s")) {
            end = (char *)value;
        }
    }
    if (end == value || errno || secs < 0 || secs > 3600) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a wait of 0 to 3600 seconds (e.g. 30, "
                            "30s, 2m, 1h)", cmd->cmd->name, value);
    }
    acme_remember(cmd, c, F_DNSWAIT);
    c->dns_wait = (int)secs;
    return NULL;
}

static const char *acme_cmd_eab(cmd_parms *cmd, void *dc, const char *kid, const char *key,
                                const char *alg)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);

    (void)dc;
    if (!*kid || !*key) {
        return apr_psprintf(cmd->pool, "%s needs a key id and an HMAC key", cmd->cmd->name);
    }
    if (alg && strcmp(alg, "HS256") && strcmp(alg, "HS384") && strcmp(alg, "HS512")) {
        return apr_psprintf(cmd->pool, "%s: unknown MAC algorithm '%s' (use HS256, HS384 or "
                            "HS512)", cmd->cmd->name, alg);
    }
    acme_remember(cmd, c, F_EAB);
    c->eab_kid = kid;
    c->eab_key = NULL;
    c->eab_key_file = NULL;
    if (strncmp(key, "file:", 5) == 0 && key[5]) {
        /* the key from a file, so that the configuration does not show it */
        c->eab_key_file = ap_server_root_relative(cmd->pool, key + 5);
        if (!c->eab_key_file) {
            return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, key + 5);
        }
    }
    else {
        c->eab_key = key;
    }
    c->eab_alg = alg;
    return NULL;
}

static const char *acme_cmd_string(cmd_parms *cmd, void *dc, const char *value)
{
    acme_srv_conf *c = acme_cmd_conf(cmd);
    enum acme_field field = (enum acme_field)(intptr_t)cmd->info;

    (void)dc;
    if (!*value) {
        return apr_psprintf(cmd->pool, "%s needs a value", cmd->cmd->name);
    }
    acme_remember(cmd, c, field);
    switch (field) {
    case F_PROFILE:
        c->profile = value;
        break;
    case F_WINDOW:
        c->renew_window = value;
        break;
    case F_CHAIN:
        c->preferred_chain = value;
        break;
    default:
        return "mod_acme: internal error (unknown field)";
    }
    return NULL;
}

static const command_rec acme_cmds[] = {
    AP_INIT_FLAG("ACME", acme_cmd_enable, NULL, RSRC_CONF,
                 "On: obtain and renew this virtual host's certificate through ACME"),
    AP_INIT_ITERATE("ACMECertificateAuthority", acme_cmd_ca, NULL, RSRC_CONF,
                    "ACME directory URL(s) of the CA; several: failover in this order"),
    AP_INIT_ITERATE("ACMEContactEmail", acme_cmd_email, NULL, RSRC_CONF,
                    "contact email address(es) of the ACME account"),
    AP_INIT_FLAG("ACMEAgreeTOS", acme_cmd_tos, NULL, RSRC_CONF,
                 "On: agree to the CA's terms of service"),
    AP_INIT_TAKE1("ACMEStoreDir", acme_cmd_store, NULL, RSRC_CONF,
                  "directory of the certificate store (default " ACME_DEFAULT_STORE_DIR ")"),
    AP_INIT_TAKE1("ACMECARoot", acme_cmd_pem_file, (void *)(intptr_t)F_CAROOT, RSRC_CONF,
                  "PEM file trusted for the CA's HTTPS endpoint (private CA)"),
    AP_INIT_TAKE1("ACMEChainRoots", acme_cmd_pem_file, (void *)(intptr_t)F_CHAINROOTS,
                  RSRC_CONF,
                  "PEM file of the roots an issued chain must reach (default: the system "
                  "trust store)"),
    AP_INIT_ITERATE("ACMEDomains", acme_cmd_domains, NULL, RSRC_CONF,
                    "names of the certificate (default: ServerName and ServerAlias)"),
    AP_INIT_TAKE12("ACMEKeyType", acme_cmd_key_type, NULL, RSRC_CONF,
                   "ecdsa-p256 (default), ecdsa-p384, rsa-2048, rsa-3072, rsa-4096; two (one "
                   "ECDSA, one RSA): dual certificate"),
    AP_INIT_TAKE1("ACMEChallenge", acme_cmd_challenge, NULL, RSRC_CONF,
                  "http-01 (default), tls-alpn-01 or dns-01"),
    AP_INIT_TAKE1("ACMEDNSHook", acme_cmd_dns_hook, NULL, RSRC_CONF,
                  "dns-01: program run as PROGRAM setup|teardown DOMAIN TXT-VALUE"),
    AP_INIT_TAKE1("ACMEDNSWait", acme_cmd_dns_wait, NULL, RSRC_CONF,
                  "dns-01: wait this long after the hook before the CA looks (30, 30s, 2m; at "
                  "most 1h)"),
    AP_INIT_TAKE23("ACMEExternalAccountBinding", acme_cmd_eab, NULL, RSRC_CONF,
                   "external account binding: key id, base64url HMAC key (or file:PATH), "
                   "optional HS256 (default), HS384 or HS512"),
    AP_INIT_TAKE1("ACMEProfile", acme_cmd_string, (void *)(intptr_t)F_PROFILE, RSRC_CONF,
                  "ACME certificate profile (e.g. shortlived)"),
    AP_INIT_TAKE1("ACMERenewWindow", acme_cmd_string, (void *)(intptr_t)F_WINDOW, RSRC_CONF,
                  "renew this long before expiry (30d) or when this share of the lifetime is "
                  "left (33%)"),
    AP_INIT_TAKE1("ACMEPreferredChain", acme_cmd_string, (void *)(intptr_t)F_CHAIN, RSRC_CONF,
                  "prefer the chain whose topmost issuer has this common name"),
    {0}};

/* ---- from directives to the core's configuration -------------------------------------------- */

static const char *acme_store_dir(const acme_srv_conf *c)
{
    return c->store_dir ? c->store_dir : ACME_DEFAULT_STORE_DIR;
}

static const char **acme_strings(const apr_array_header_t *a)
{
    return a ? (const char **)a->elts : NULL;
}

/* The core's configuration of a managed server. Strings live in p. */
static void acme_build_config(apr_pool_t *p, server_rec *s, const acme_srv_conf *c,
                              acme_cert_config *cfg)
{
    apr_array_header_t *names;
    int i;

#define ACME_USE(field) (c->where[field].file)
    memset(cfg, 0, sizeof(*cfg));
    cfg->struct_size = sizeof(*cfg);
    if (ACME_USE(F_DOMAINS) && c->domains && c->domains->nelts) {
        names = c->domains;
    }
    else {
        /* ServerName, then ServerAlias (plain and wildcard names). */
        names = apr_array_make(p, 4, sizeof(const char *));
        if (s->server_hostname) {
            APR_ARRAY_PUSH(names, const char *) = s->server_hostname;
        }
        for (i = 0; s->names && i < s->names->nelts; ++i) {
            APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(s->names, i, const char *);
        }
        for (i = 0; s->wild_names && i < s->wild_names->nelts; ++i) {
            APR_ARRAY_PUSH(names, const char *) = APR_ARRAY_IDX(s->wild_names, i, const char *);
        }
    }
    cfg->domains = acme_strings(names);
    cfg->n_domains = (size_t)names->nelts;
    if (ACME_USE(F_KEYTYPE)) {
        cfg->key_types = c->key_types;
        cfg->n_key_types = (size_t)c->n_key_types;
    }
    cfg->challenge = ACME_USE(F_CHALLENGE) ? c->challenge : NULL;
    cfg->dns_hook = ACME_USE(F_DNSHOOK) ? c->dns_hook : NULL;
    cfg->dns_propagation_seconds = ACME_USE(F_DNSWAIT) ? c->dns_wait : 0;
    cfg->profile = ACME_USE(F_PROFILE) ? c->profile : NULL;
    cfg->renew_window = ACME_USE(F_WINDOW) ? c->renew_window : NULL;
    cfg->preferred_chain = ACME_USE(F_CHAIN) ? c->preferred_chain : NULL;
    cfg->account.struct_size = sizeof(cfg->account);
    if (c->ca_urls) {
        cfg->account.ca_urls = acme_strings(c->ca_urls);
        cfg->account.n_ca_urls = (size_t)c->ca_urls->nelts;
    }
    cfg->account.ca_root = ACME_USE(F_CAROOT) ? c->ca_root : NULL;
    if (ACME_USE(F_EMAIL) && c->contacts) {
        cfg->account.contacts = acme_strings(c->contacts);
        cfg->account.n_contacts = (size_t)c->contacts->nelts;
    }
    cfg->account.agree_tos = c->agree_tos;
    if (ACME_USE(F_EAB)) {
        cfg->account.eab_kid = c->eab_kid;
        cfg->account.eab_hmac_key = c->eab_key;
        cfg->account.eab_hmac_key_file = c->eab_key_file;
        cfg->account.eab_alg = c->eab_alg;
    }
    cfg->account.chain_roots = ACME_USE(F_CHAINROOTS) ? c->chain_roots : NULL;
#undef ACME_USE
}

/* A key that is equal for two servers exactly when their configurations are (then they share
 * one certificate). */
static const char *acme_config_key(apr_pool_t *p, const acme_cert_config *cfg)
{
    const acme_account_config *a = &cfg->account;
    const char *k = "";
    size_t i;

#define ACME_KEY_ADD(tag, v) k = apr_pstrcat(p, k, tag, (v) ? (v) : "", "\n", NULL)
    for (i = 0; i < cfg->n_domains; ++i) ACME_KEY_ADD("d:", cfg->domains[i]);
    for (i = 0; i < cfg->n_key_types; ++i) ACME_KEY_ADD("k:", cfg->key_types[i]);
    ACME_KEY_ADD("c:", cfg->challenge);
    ACME_KEY_ADD("h:", cfg->dns_hook);
    ACME_KEY_ADD("w:", apr_itoa(p, cfg->dns_propagation_seconds));
    ACME_KEY_ADD("p:", cfg->profile);
    ACME_KEY_ADD("r:", cfg->renew_window);
    ACME_KEY_ADD("ch:", cfg->preferred_chain);
    for (i = 0; i < a->n_ca_urls; ++i) ACME_KEY_ADD("ca:", a->ca_urls[i]);
    ACME_KEY_ADD("root:", a->ca_root);
    for (i = 0; i < a->n_contacts; ++i) ACME_KEY_ADD("m:", a->contacts[i]);
    ACME_KEY_ADD("tos:", a->agree_tos ? "1" : "0");
    ACME_KEY_ADD("eab:", a->eab_kid);
    ACME_KEY_ADD("eabk:", a->eab_hmac_key);
    ACME_KEY_ADD("eaba:", a->eab_alg);
    ACME_KEY_ADD("eabf:", a->eab_hmac_key_file);
    ACME_KEY_ADD("roots:", a->chain_roots);
#undef ACME_KEY_ADD
    return k;
}

/* "file:line" of the ACME On that manages s (or of its <VirtualHost>). */
static const char *acme_server_where(apr_pool_t *p, const server_rec *s, const acme_srv_conf *c)
{
    if (c->where[F_ENABLED].file) {
        return apr_psprintf(p, "%s:%u", c->where[F_ENABLED].file, c->where[F_ENABLED].line);
    }
    return apr_psprintf(p, "%s:%u", s->defn_name ? s->defn_name : "?", s->defn_line_number);
}

static const char *acme_server_id(apr_pool_t *p, const server_rec *s)
{
    if (s->is_virtual) {
        return apr_psprintf(p, "virtual host %s (%s:%u)",
                            s->server_hostname ? s->server_hostname : "?",
                            s->defn_name ? s->defn_name : "?", s->defn_line_number);
    }
    return apr_psprintf(p, "main server %s", s->server_hostname ? s->server_hostname : "?");
}

static const char *acme_err_text(apr_pool_t *p, acme_status st, acme_error *err)
{
    const char *text = err ? apr_pstrdup(p, acme_error_message(err)) : acme_status_name(st);

    acme_error_free(err);
    return text;
}

/* A context for the store `dir`; `config_test`: one that only reads it (check_config). */
static acme_ctx *acme_ctx_open(apr_pool_t *p, const char *dir, int config_test, const char **why)
{
    acme_ctx_options opts;
    acme_ctx *ctx = NULL;
    acme_error *err = NULL;
    acme_status st;

    memset(&opts, 0, sizeof(opts));
    opts.struct_size = sizeof(opts);
    opts.store_dir = dir;
    opts.config_test = config_test;
    opts.user_agent = "mod_acme " AP_SERVER_BASEPRODUCT "/" AP_SERVER_BASEREVISION;
    st = acme_ctx_create(&opts, &ctx, &err);
    if (st != ACME_OK) {
        *why = acme_err_text(p, st, err);
        return NULL;
    }
    return ctx;
}

/* ---- check_config: validation for startup and `apachectl configtest` ------------------------ */

static int acme_is_managed(const acme_srv_conf *c)
{
    return c->enabled == 1;
}

/* The managed servers in the order they are defined (httpd's list has the main server first,
 * then the virtual hosts last-defined first). */
static apr_array_header_t *acme_managed_servers(apr_pool_t *p, server_rec *main_server)
{
    apr_array_header_t *out = apr_array_make(p, 8, sizeof(server_rec *));
    server_rec *s;
    int i, j;

    for (s = main_server; s; s = s->next) {
        if (acme_is_managed(acme_conf(s))) {
            APR_ARRAY_PUSH(out, server_rec *) = s;
        }
    }
    /* Reverse the virtual hosts (everything after a managed main server). */
    i = (out->nelts && !APR_ARRAY_IDX(out, 0, server_rec *)->is_virtual) ? 1 : 0;
    for (j = out->nelts - 1; i < j; ++i, --j) {
        server_rec *t = APR_ARRAY_IDX(out, i, server_rec *);

        APR_ARRAY_IDX(out, i, server_rec *) = APR_ARRAY_IDX(out, j, server_rec *);
        APR_ARRAY_IDX(out, j, server_rec *) = t;
    }
    return out;
}

/* Logs a configuration error at startup (stderr, like httpd's own syntax errors). */
static void acme_config_error(const char *where, const char *what, const char *msg)
{
    ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, NULL,
                 ACMELOGNO(01001) "%s: %s: %s", where, what, msg);
}

/* Adds cfg to `ctx`, a configuration-test context of its store (nothing is written): the core
 * checks it alone and against the certificates added before (store names, shared accounts).
 * NULL when valid, else the core's message, and in *field the directive it concerns (F_NFIELDS:
 * none in particular). *name_out gets the certificate's store name when it has a valid one. */
static const char *acme_check_in(apr_pool_t *p, acme_ctx *ctx, const acme_cert_config *cfg,
                                 const char **name_out, enum acme_field *field)
{
    static const struct {
        const char *name;
        enum acme_field field;
    } fields[] = {{"ca_urls", F_CA},          {"contacts", F_EMAIL},
                  {"ca_root", F_CAROOT},      {"chain_roots", F_CHAINROOTS},
                  {"domains", F_DOMAINS},     {"key_types", F_KEYTYPE},
                  {"challenge", F_CHALLENGE}, {"dns_hook", F_DNSHOOK},
                  {"dns_propagation_seconds", F_DNSWAIT},
                  {"eab_kid", F_EAB},         {"eab_hmac_key", F_EAB},
                  {"eab_alg", F_EAB},         {"profile", F_PROFILE},
                  {"renew_window", F_WINDOW}, {"preferred_chain", F_CHAIN}};
    acme_error *err = NULL;
    acme_cert *cert = NULL;
    char *name = NULL;
    acme_status st = acme_ctx_add_cert(ctx, cfg, &cert, &err);
    size_t i;

    *field = F_NFIELDS;
    *name_out = NULL;
    if (st == ACME_OK) {
        *name_out = apr_pstrdup(p, acme_cert_name(cert));
        return NULL;
    }
    for (i = 0; err && i < sizeof(fields) / sizeof(fields[0]); ++i) {
        if (!strcmp(acme_error_field(err), fields[i].name)) {
            *field = fields[i].field;
        }
    }
    /* Valid alone (a clash with another certificate): its name finds the other one. */
    if (acme_cert_config_validate(cfg, &name, NULL) == ACME_OK) {
        *name_out = apr_pstrdup(p, name);
    }
    acme_free(name);
    return acme_err_text(p, st, err);
}

/* The configuration of server s failed with `msg`, about the directive `field`: reported at
 * that directive's file:line when it was written, else at the ACME On of s (with, for a clash
 * of store names, the server named in `owners`). */
static void acme_report(apr_pool_t *p, const char *dir, server_rec *s, const acme_srv_conf *c,
                        const char *msg, enum acme_field field, const char *name,
                        apr_hash_t *owners, apr_hash_t *reported)
{
    const char *who = acme_server_id(p, s), *where;
    server_rec *owner;

    if (field != F_NFIELDS && c->where[field].file) {
        /* A directive of the main server that several virtual hosts inherit: said once. */
        where = apr_psprintf(p, "%s:%u", c->where[field].file, c->where[field].line);
        if (apr_hash_get(reported, apr_pstrcat(p, where, msg, NULL), APR_HASH_KEY_STRING)) {
            return;
        }
        apr_hash_set(reported, apr_pstrcat(p, where, msg, NULL), APR_HASH_KEY_STRING, "");
        acme_config_error(where,
                          apr_psprintf(p, "%s for %s", acme_field_directive[field], who), msg);
        return;
    }
    if (field == F_DOMAINS) {
        msg = apr_pstrcat(p, msg, " (the names come from ServerName and ServerAlias; "
                          "ACMEDomains sets them explicitly)", NULL);
    }
    else if (name) {
        /* Valid alone: it clashes with the certificate of another server. */
        owner = apr_hash_get(owners, apr_pstrcat(p, dir, "\nname:", name, NULL),
                             APR_HASH_KEY_STRING);
        if (owner) {
            msg = apr_psprintf(p, "%s; the other one is managed for %s with different settings "
                               "(make the settings equal, or set ACMEDomains)", msg,
                               acme_server_id(p, owner));
        }
    }
    acme_config_error(acme_server_where(p, s, c), apr_psprintf(p, "ACME On for %s", who), msg);
}

static int acme_check_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                             server_rec *main_server)
{
    apr_hash_t *owners = apr_hash_make(ptemp); /* store dir + key or name -> server_rec* */
    apr_hash_t *reported = apr_hash_make(ptemp); /* errors said at a directive's line */
    apr_hash_t *tests = apr_hash_make(ptemp);    /* store dir -> configuration-test acme_ctx */
    apr_array_header_t *managed;
    apr_hash_index_t *hi;
    int failed = 0, i;

    (void)pconf;
    (void)plog;
    managed = acme_managed_servers(ptemp, main_server);
    for (i = 0; i < managed->nelts; ++i) {
        server_rec *s = APR_ARRAY_IDX(managed, i, server_rec *);
        acme_srv_conf *c = acme_conf(s);
        const char *dir, *config_key, *msg, *name = NULL;
        enum acme_field field;
        acme_cert_config cfg;
        acme_ctx *ctx;

        dir = acme_store_dir(c);
        acme_build_config(ptemp, s, c, &cfg);
        /* Servers with identical settings share a certificate; check it once. */
        config_key = apr_pstrcat(ptemp, dir, "\n", acme_config_key(ptemp, &cfg), NULL);
        if (apr_hash_get(owners, config_key, APR_HASH_KEY_STRING)) {
            continue;
        }
        ctx = apr_hash_get(tests, dir, APR_HASH_KEY_STRING);
        if (!ctx) {
            if (!(ctx = acme_ctx_open(ptemp, dir, 1, &msg))) {
                acme_config_error(acme_server_where(ptemp, s, c),
                                  apr_psprintf(ptemp, "ACMEStoreDir %s", dir), msg);
                failed = 1;
                continue;
            }
            apr_hash_set(tests, dir, APR_HASH_KEY_STRING, ctx);
        }
        msg = acme_check_in(ptemp, ctx, &cfg, &name, &field);
        if (!msg) {
            apr_hash_set(owners, config_key, APR_HASH_KEY_STRING, s);
            apr_hash_set(owners, apr_pstrcat(ptemp, dir, "\nname:", name, NULL),
                         APR_HASH_KEY_STRING, s);
            continue;
        }
        failed = 1;
        acme_report(ptemp, dir, s, c, msg, field, name, owners, reported);
    }
    for (hi = apr_hash_first(ptemp, tests); hi; hi = apr_hash_next(hi)) {
        acme_ctx_destroy(apr_hash_this_val(hi));
    }
    return failed ? HTTP_INTERNAL_SERVER_ERROR : OK;
}

/* ---- logging ---------------------------------------------------------------------------------- */

static void acme_log_cb(void *baton, acme_log_level level, const char *message)
{
    static const int levels[] = {APLOG_ERR, APLOG_WARNING, APLOG_NOTICE, APLOG_INFO,
                                 APLOG_DEBUG};
    int lvl = (unsigned)level < sizeof(levels) / sizeof(levels[0]) ? levels[level] : APLOG_DEBUG;

    (void)baton;
    ap_log_error(APLOG_MARK, lvl, 0, acme_log_server, "%s", message);
}

static acme_log_level acme_level_for(const server_rec *s)
{
    int lvl = ap_get_server_module_loglevel(s, APLOG_MODULE_INDEX);

    /* httpd always logs notices; the core's notices are the ones operators want to see. */
    return lvl >= APLOG_DEBUG ? ACME_LOG_DEBUG : lvl >= APLOG_INFO ? ACME_LOG_INFO
                                                                   : ACME_LOG_NOTICE;
}

/* ---- post_config: contexts, certificates, store ownership ----------------------------------- */

static void acme_stop_and_wait(int ms);
static void acme_close_pipes(void);

static apr_status_t acme_config_cleanup(void *data)
{
    acme_store_rt *rt;

    (void)data;
    /* A driver of this process (one-process mode, -X): stopped before its context goes. */
    acme_stop_and_wait(5000);
    acme_close_pipes();
    for (rt = acme_stores; rt; rt = rt->next) {
        acme_ctx_destroy(rt->ctx);
        rt->ctx = NULL;
    }
    acme_stores = NULL;
    acme_log_server = NULL;
    return APR_SUCCESS;
}

static acme_store_rt *acme_store_for(apr_pool_t *pconf, const char *dir, const char **why)
{
    acme_store_rt *rt, **tail = &acme_stores;

    for (rt = acme_stores; rt; rt = rt->next) {
        if (!strcmp(rt->dir, dir)) {
            return rt;
        }
        tail = &rt->next;
    }
    rt = apr_pcalloc(pconf, sizeof(*rt));
    rt->dir = apr_pstrdup(pconf, dir);
    rt->certs = apr_hash_make(pconf);
    if (!(rt->ctx = acme_ctx_open(pconf, dir, 0, why))) {
        return NULL;
    }
    *tail = rt;
    return rt;
}

static void acme_check_protocols(apr_pool_t *p, server_rec *s, const acme_srv_conf *c)
{
    core_server_config *core = ap_get_core_module_config(s->module_config);

    if (!c->challenge || strcmp(c->challenge, "tls-alpn-01")) {
        return;
    }
    if (!core->protocols || !ap_array_str_contains(core->protocols, ACME_TLS_1)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01011)
                     "%s: %s uses the tls-alpn-01 challenge but its Protocols do not list "
                     "acme-tls/1 (e.g. Protocols h2 http/1.1 acme-tls/1): the CA's validation "
                     "will fail", acme_server_where(p, s, c), acme_server_id(p, s));
    }
}

/* The children (uid/gid) must reach the store, which the parent made theirs: warn when a
 * directory above it is closed to them (the driver would fail on every attempt). */
static void acme_check_traversable(apr_pool_t *p, server_rec *s, const char *dir, uid_t uid,
                                   gid_t gid)
{
    char *path = apr_pstrdup(p, dir), *slash;
    struct stat st;

    while ((slash = strrchr(path, '/')) != NULL) {
        *slash = '\0';
        if (!*path) {
            break;
        }
        if (stat(path, &st) != 0) {
            continue;
        }
        if (!((st.st_mode & S_IXOTH) || (st.st_uid == uid && (st.st_mode & S_IXUSR)) ||
              (st.st_gid == gid && (st.st_mode & S_IXGRP)))) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01025)
                         "ACME store %s: the directory %s is not searchable by the User/Group "
                         "of the children (uid %ld, gid %ld), which do the ACME work: "
                         "chmod o+x it or choose another ACMEStoreDir", dir, path, (long)uid,
                         (long)gid);
            return;
        }
    }
}

/* The store belongs to the children's User, the directory above it to root: whoever owns (or
 * may write) that directory can replace the store, which the parent (root) prepares at every
 * start and graceful restart. Said at startup; nothing is changed. */
static void acme_check_ownership(apr_pool_t *p, server_rec *s, const char *dir, uid_t uid)
{
    char *parent = apr_pstrdup(p, dir), *slash;
    struct stat st;

    if (lstat(dir, &st) != 0) {
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01026)
                     "ACME store %s is a symbolic link; make it a directory (the parent "
                     "process, running as root, prepares it at every start)", dir);
    }
    else if (st.st_uid != uid) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01072)
                     "ACME store %s is owned by uid %ld, not by the User of the children "
                     "(uid %ld)", dir, (long)st.st_uid, (long)uid);
    }
    while ((slash = strrchr(parent, '/')) != NULL && slash[1] == '\0' && slash != parent) {
        *slash = '\0'; /* trailing slashes */
    }
    if (!(slash = strrchr(parent, '/'))) {
        return;
    }
    slash[slash == parent ? 1 : 0] = '\0';
    if (lstat(parent, &st) != 0) {
        return;
    }
    if (st.st_uid != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01028)
                     "ACME store %s: the directory %s above it is owned by uid %ld, not root: "
                     "that user can replace the store, which the parent process (root) "
                     "prepares at every start; keep the store in a directory of root's", dir,
                     parent, (long)st.st_uid);
    }
    else if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX)) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01073)
                     "ACME store %s: the directory %s above it is writable by others than "
                     "root: they can replace the store, which the parent process (root) "
                     "prepares at every start", dir, parent);
    }
}

typedef struct acme_runtime_file {
    const char *path;
    pid_t owner;
} acme_runtime_file;

static apr_status_t acme_runtime_file_cleanup(void *data)
{
    const acme_runtime_file *f = data;

    if (getpid() == f->owner) {
        unlink(f->path);
    }
    return APR_SUCCESS;
}

/* The startup bundle of key type `i` of b, for mod_ssl: mod_ssl (in the parent, as root) takes
 * file names, and a path into the store, which belongs to the children's User, could have been
 * swapped for a symlink to a root-only file or a FIFO by then. So the PEM text comes from the
 * core's cache (acme_cert_pem, which acme_ctx_prepare filled) and goes into a file of the
 * parent's own in httpd's runtime directory: mod_acme-<hash>-<keytype>.pem, mode 0600, created
 * afresh (O_EXCL, O_NOFOLLOW), named per parent process, configuration generation and
 * certificate, and removed when pconf goes away. Returns NULL, or why it failed. */
/* The runtime directory (DefaultRuntimeDir) exists, or is created (0755) as apache2ctl does
 * before it starts httpd: a plain "apache2 -f ..." finds none. NULL, or why not. */
static const char *acme_runtime_dir(apr_pool_t *ptemp)
{
    char *dir = ap_runtime_dir_relative(ptemp, "");
    apr_finfo_t fi;
    apr_status_t rv;
    char buf[256];
    size_t n;

    if (!dir) {
        return "no runtime directory (DefaultRuntimeDir)";
    }
    for (n = strlen(dir); n > 1 && dir[n - 1] == '/'; --n) {
        dir[n - 1] = '\0';
    }
    if (apr_stat(&fi, dir, APR_FINFO_TYPE, ptemp) == APR_SUCCESS) {
        return fi.filetype == APR_DIR
                   ? NULL
                   : apr_psprintf(ptemp, "the runtime directory %s (DefaultRuntimeDir) is not a "
                                  "directory", dir);
    }
    rv = apr_dir_make_recursive(dir, APR_FPROT_OS_DEFAULT & 0755, ptemp);
    if (rv != APR_SUCCESS) {
        return apr_psprintf(ptemp, "the runtime directory %s (DefaultRuntimeDir) does not exist "
                            "and cannot be created (%s); create it, set DefaultRuntimeDir, or "
                            "start httpd through apache2ctl", dir,
                            apr_strerror(rv, buf, sizeof(buf)));
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, NULL,
                 ACMELOGNO(01010) "created the runtime directory %s (DefaultRuntimeDir), as "
                 "apache2ctl does", dir);
    return NULL;
}

static const char *acme_startup_file(apr_pool_t *pconf, apr_pool_t *ptemp, acme_store_rt *rt,
                                     acme_binding *b, size_t i)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    char hex[17];
    const char *id, *why = NULL;
    acme_runtime_file *f;
    acme_error *err = NULL;
    acme_status st;
    char *pem = NULL, *path;
    size_t len = 0, off;
    int fd, k;

    id = apr_psprintf(ptemp, "%ld\n%d\n%s\n%s", (long)getpid(),
                      ap_state_query(AP_SQ_CONFIG_GEN), rt->dir, acme_cert_name(b->cert));
    if (!EVP_Digest(id, strlen(id), md, &md_len, EVP_sha256(), NULL) || md_len < 8) {
        return "SHA-256 failed";
    }
    for (k = 0; k < 8; ++k) {
        apr_snprintf(hex + 2 * k, 3, "%02x", md[k]);
    }
    path = ap_runtime_dir_relative(pconf, apr_psprintf(ptemp, "mod_acme-%s-%s.pem", hex,
                                                       b->key_types[i]));
    if (!path) {
        return "no runtime directory (DefaultRuntimeDir)";
    }
    if ((why = acme_runtime_dir(ptemp))) {
        return why;
    }
    st = acme_cert_pem(b->cert, i, &pem, &len, &b->fallback[i], &err);
    if (st != ACME_OK) {
        return acme_err_text(ptemp, st, err);
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        why = apr_psprintf(ptemp, "cannot remove the old %s: %s", path, strerror(errno));
    }
    else if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
        why = apr_psprintf(ptemp, "cannot create %s: %s", path, strerror(errno));
    }
    else {
        f = apr_palloc(pconf, sizeof(*f));
        f->path = path;
        f->owner = getpid();
        apr_pool_cleanup_register(pconf, f, acme_runtime_file_cleanup, apr_pool_cleanup_null);
        for (off = 0; off < len && !why;) {
            ssize_t n = write(fd, pem + off, len - off);

            if (n < 0 && errno != EINTR) {
                why = apr_psprintf(ptemp, "cannot write %s: %s", path, strerror(errno));
            }
            off += n > 0 ? (size_t)n : 0;
        }
        if (fchmod(fd, 0600) != 0 && !why) {
            why = apr_psprintf(ptemp, "cannot chmod %s: %s", path, strerror(errno));
        }
        if (close(fd) != 0 && !why) {
            why = apr_psprintf(ptemp, "cannot write %s: %s", path, strerror(errno));
        }
    }
    OPENSSL_cleanse(pem, len);
    acme_free(pem);
    b->files[i] = why ? NULL : path;
    return why;
}

static int acme_post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp,
                            server_rec *main_server)
{
    long uid = -1, gid = -1;
    apr_array_header_t *managed;
    apr_hash_index_t *hi;
    acme_store_rt *rt;
    server_rec *s;
    int i;

    (void)plog;
    acme_stores = NULL;
    acme_log_server = main_server;
    acme_log_set(acme_log_cb, NULL, acme_level_for(main_server));
    apr_pool_cleanup_register(pconf, NULL, acme_config_cleanup, apr_pool_cleanup_null);

    if (acme_abi_version() != ACME_ABI_VERSION) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server, ACMELOGNO(01020)
                     "mod_acme was built for core ABI %d but runs with %u",
                     ACME_ABI_VERSION, acme_abi_version());
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    for (s = main_server; s; s = s->next) {
        acme_conf(s)->binding = NULL;
    }
    managed = acme_managed_servers(ptemp, main_server);
    for (i = 0; i < managed->nelts; ++i) {
        acme_cert_config cfg;
        acme_binding *b;
        acme_error *err = NULL;
        acme_status st;
        const char *key, *why = NULL;
        acme_srv_conf *c;

        s = APR_ARRAY_IDX(managed, i, server_rec *);
        c = acme_conf(s);
        if (!(rt = acme_store_for(pconf, acme_store_dir(c), &why))) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ACMELOGNO(01021)
                         "%s: ACME store %s: %s", acme_server_where(ptemp, s, c),
                         acme_store_dir(c), why);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        acme_build_config(ptemp, s, c, &cfg);
        key = acme_config_key(pconf, &cfg);
        if (!(b = apr_hash_get(rt->certs, key, APR_HASH_KEY_STRING))) {
            b = apr_pcalloc(pconf, sizeof(*b));
            b->ctx = rt->ctx;
            b->key_types[0] = cfg.n_key_types > 0 ? cfg.key_types[0] : "ecdsa-p256";
            b->key_types[1] = cfg.n_key_types > 1 ? cfg.key_types[1] : NULL;
            st = acme_ctx_add_cert(rt->ctx, &cfg, &b->cert, &err);
            if (st != ACME_OK) {
                /* check_config reported the details already. */
                ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, ACMELOGNO(01022)
                             "%s: %s: %s", acme_server_where(ptemp, s, c),
                             acme_server_id(ptemp, s), acme_err_text(ptemp, st, err));
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            apr_hash_set(rt->certs, key, APR_HASH_KEY_STRING, b);
        }
        c->binding = b;
        acme_check_protocols(ptemp, s, c);
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(01023)
                     "%s: certificate %s in %s", acme_server_id(ptemp, s),
                     acme_cert_name(b->cert), rt->dir);
    }
    if (!acme_stores) {
        return OK;
    }
    /* The store belongs to the unprivileged User/Group of the children: ACME never runs as
     * root (the driver lives in a child). */
    if (geteuid() == 0) {
        uid = (long)ap_unixd_config.user_id;
        gid = (long)ap_unixd_config.group_id;
    }
    for (rt = acme_stores; rt; rt = rt->next) {
        acme_error *err = NULL;
        acme_status st = acme_ctx_prepare(rt->ctx, uid, gid, &err);

        if (st != ACME_OK) {
            ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server, ACMELOGNO(01024)
                         "ACME store %s: %s", rt->dir, acme_err_text(ptemp, st, err));
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (uid >= 0) {
            acme_check_traversable(ptemp, main_server, rt->dir, (uid_t)uid, (gid_t)gid);
            acme_check_ownership(ptemp, main_server, rt->dir, (uid_t)uid);
        }
        for (hi = apr_hash_first(ptemp, rt->certs); hi; hi = apr_hash_next(hi)) {
            acme_binding *b = apr_hash_this_val(hi);
            size_t k, n = acme_cert_key_count(b->cert);

            for (k = 0; k < n && k < 2; ++k) {
                const char *why = acme_startup_file(pconf, ptemp, rt, b, k);

                if (why) {
                    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, main_server, ACMELOGNO(01027)
                                 "ACME store %s: startup certificate %s (%s): %s", rt->dir,
                                 acme_cert_name(b->cert), b->key_types[k], why);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
            }
        }
    }
    return OK;
}

/* ---- certificates for mod_ssl ------------------------------------------------------------- */

static int acme_add_cert_files(server_rec *s, apr_pool_t *p, apr_array_header_t *cert_files,
                               apr_array_header_t *key_files)
{
    acme_srv_conf *c = acme_conf(s);
    size_t i, n;

    if (!c->binding) {
        return DECLINED;
    }
    if (cert_files->nelts) {
        /* ACME On wins: with both in the SSL_CTX, OpenSSL could pick the static certificate
         * of the other key type by the client's signature algorithms. */
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, ACMELOGNO(01030)
                     "%s has ACME On: its SSLCertificateFile/SSLCertificateKeyFile (%s) are "
                     "not used", acme_server_id(p, s), APR_ARRAY_IDX(cert_files, 0, const char *));
        apr_array_clear(cert_files);
        apr_array_clear(key_files);
    }
    n = acme_cert_key_count(c->binding->cert);
    for (i = 0; i < n && i < 2; ++i) {
        const char *path = c->binding->files[i];

        if (!path) { /* post_config failed and said why */
            return DECLINED;
        }
        APR_ARRAY_PUSH(cert_files, const char *) = path;
        APR_ARRAY_PUSH(key_files, const char *) = path;
        ap_log_error(APLOG_MARK, c->binding->fallback[i] ? APLOG_INFO : APLOG_DEBUG, 0, s,
                     ACMELOGNO(01032) "%s: starting with %s%s (%s)", acme_server_id(p, s),
                     c->binding->fallback[i] ? "the self-signed fallback, " : "", path,
                     c->binding->key_types[i]);
    }
    return OK;
}

/* The handshake path: decides the certificate after SNI selected the virtual host. */
static int acme_ssl_cert_callback(SSL *ssl, void *arg)
{
    const acme_binding *b = arg;
    const unsigned char *alpn = NULL;
    unsigned int alpn_len = 0;

    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len == sizeof(ACME_TLS_1) - 1 && !memcmp(alpn, ACME_TLS_1, alpn_len)) {
        /* TLS 1.3 negotiates ALPN before this callback: a tls-alpn-01 validation gets the
         * validation certificate alone (acme_tls_alpn01_select marks the handshake, and the
         * core's callback then clears the certificates copied from the SSL_CTX, none of which
         * OpenSSL may pick by signature algorithm). Without a pending challenge, mod_ssl's
         * answer stands. (TLS 1.2 runs this before ALPN: mod_ssl's ALPN callback installs the
         * validation certificate through ssl_answer_challenge.) */
        const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

        if (sni && acme_tls_alpn01_select(b->ctx, ssl, sni)) {
            return acme_ssl_cert_cb(ssl, b->cert);
        }
        return 1;
    }
    return acme_ssl_cert_cb(ssl, b->cert);
}

static int acme_init_server(server_rec *s, apr_pool_t *p, int is_proxy, SSL_CTX *ctx)
{
    acme_srv_conf *c = acme_conf(s);

    (void)p;
    if (is_proxy || !c->binding || !ctx) {
        return DECLINED;
    }
    SSL_CTX_set_cert_cb(ctx, acme_ssl_cert_callback, c->binding);
    /* "SSLUseStapling On": mod_ssl staples only the certificates it loaded at start; the core
     * staples every certificate it swaps in (and those) from responses the driver fetched. */
    (void)acme_ssl_ctx_staple(ctx, c->binding->cert);
    return OK;
}

/* ---- children: the driver --------------------------------------------------------------------- */

/* How often the stopper looks whether the child is stopping, and how long the child's exit waits
 * for the drivers to stop (milliseconds). */
#define ACME_STOP_CHECK_MS 1000
#define ACME_STOP_WAIT_MS 5000

/* The stopper of this child (see acme_child_init): a byte on acme_stop_fds wakes it up, a byte
 * on acme_done_fds says the drivers stopped. -1: no stopper in this process. */
static int acme_stop_fds[2] = {-1, -1};
static int acme_done_fds[2] = {-1, -1};

/* Async-signal-safe: prefork runs child_stopping and the pchild cleanups from a signal handler
 * (just_die), so this does nothing but write(2). */
static void acme_wake_stopper(void)
{
    int saved = errno;

    if (acme_stop_fds[1] >= 0) {
        ssize_t n = write(acme_stop_fds[1], "s", 1);

        (void)n; /* a full pipe has woken it up already */
    }
    errno = saved;
}

/* Wakes the stopper and waits (bounded) until the drivers stopped. Async-signal-safe (write,
 * poll, read): it takes no lock, so a signal that interrupted a thread holding one cannot make
 * it wait forever; after the bound the child exits anyway (an order in flight is resumed by the
 * next driver). */
static void acme_stop_and_wait(int ms)
{
    int saved = errno, waited = 0;
    char c;

    if (acme_stop_fds[1] < 0) {
        return;
    }
    acme_wake_stopper();
    while (waited < ms) {
        struct pollfd pfd;

        pfd.fd = acme_done_fds[0];
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, 100) > 0 && read(acme_done_fds[0], &c, 1) == 1) {
            break;
        }
        waited += 100;
    }
    errno = saved;
}

/* The stopper thread: stops the drivers of this child as soon as the child is stopping, off the
 * request path (acme_ctx_stop waits for a request to the CA in flight). child_stopping and the
 * pchild cleanup wake it up; prefork tells its children about a graceful restart only through
 * the MPM state (the child goes on serving its connection), which it looks at every second. */
static void *acme_stopper(void *data)
{
    server_rec *s = data;
    acme_store_rt *rt;

    for (;;) {
        struct pollfd pfd;
        int state = AP_MPMQ_RUNNING;

        pfd.fd = acme_stop_fds[0];
        pfd.events = POLLIN;
        pfd.revents = 0;
        if (poll(&pfd, 1, ACME_STOP_CHECK_MS) > 0) {
            break;
        }
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS &&
            state == AP_MPMQ_STOPPING) {
            break;
        }
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s, ACMELOGNO(01042)
                 "child %ld is stopping: stopping its ACME driver", (long)getpid());
    for (rt = acme_stores; rt; rt = rt->next) {
        acme_ctx_stop(rt->ctx);
    }
    if (write(acme_done_fds[1], "d", 1) != 1) {
        /* the child's exit waits ACME_STOP_WAIT_MS at most anyway */
    }
    return NULL;
}

static void acme_close_pipes(void)
{
    int i;

    for (i = 0; i < 2; ++i) {
        if (acme_stop_fds[i] >= 0) {
            close(acme_stop_fds[i]);
        }
        if (acme_done_fds[i] >= 0) {
            close(acme_done_fds[i]);
        }
        acme_stop_fds[i] = acme_done_fds[i] = -1;
    }
}

/* Runs in the child's exit; with prefork possibly from a signal handler (just_die): see
 * acme_stop_and_wait. */
static apr_status_t acme_child_cleanup(void *data)
{
    (void)data;
    acme_stop_and_wait(ACME_STOP_WAIT_MS);
    return APR_SUCCESS;
}

/* The child stops serving new connections (graceful restart or stop, MaxConnectionsPerChild,
 * idle child): its driver stops at once, even when the child goes on serving a long request, so
 * that a child of an old generation never orders with old settings. With prefork possibly from a
 * signal handler: only wakes the stopper. */
static void acme_child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    (void)graceful;
    acme_wake_stopper();
}

static void acme_child_init(apr_pool_t *pchild, server_rec *s)
{
    sigset_t all, old;
    pthread_attr_t attr;
    pthread_t thread;
    acme_store_rt *rt;
    int rc;

    if (!acme_stores) {
        return;
    }
    if (geteuid() == 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(01040)
                     "this process runs as root: not starting the ACME driver here (ACME never "
                     "runs as root; set User/Group)");
        return;
    }
    acme_close_pipes();
    if (pipe2(acme_stop_fds, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pipe2(acme_done_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, s, ACMELOGNO(01043)
                     "cannot create a pipe: not starting the ACME driver here");
        acme_close_pipes();
        return;
    }
    /* The driver threads and the stopper block every signal: signals are httpd's, and prefork's
     * just_die must not run on one of them (it would wait for itself). */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (rt = acme_stores; rt; rt = rt->next) {
        acme_error *err = NULL;
        acme_status st = acme_ctx_start(rt->ctx, &err);

        if (st != ACME_OK) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ACMELOGNO(01041)
                         "ACME store %s: cannot start the driver: %s", rt->dir,
                         acme_err_text(pchild, st, err));
        }
    }
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    rc = pthread_create(&thread, &attr, acme_stopper, s);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        /* Without a stopper, no driver here: it must not outlive the child's generation. */
        ap_log_error(APLOG_MARK, APLOG_ERR, rc, s, ACMELOGNO(01074)
                     "cannot start a thread: not running the ACME driver here");
        for (rt = acme_stores; rt; rt = rt->next) {
            acme_ctx_stop(rt->ctx);
        }
        acme_close_pipes();
        return;
    }
    apr_pool_cleanup_register(pchild, NULL, acme_child_cleanup, apr_pool_cleanup_null);
}

/* ---- http-01 -------------------------------------------------------------------------------- */

static int acme_http01(request_rec *r)
{
    const char *path = r->parsed_uri.path, *token;
    acme_store_rt *rt;
    size_t len;

    if (!acme_stores || !path || strncmp(path, ACME_CHALLENGE_PREFIX,
                                         sizeof(ACME_CHALLENGE_PREFIX) - 1)) {
        return DECLINED;
    }
    if (r->method_number != M_GET) { /* HEAD is M_GET with header_only */
        return DECLINED;
    }
    token = path + sizeof(ACME_CHALLENGE_PREFIX) - 1;
    len = strlen(token);
    for (rt = acme_stores; rt; rt = rt->next) {
        char *ka = NULL;
        size_t ka_len = 0;
        acme_status st = acme_http01_lookup(rt->ctx, token, len, &ka, &ka_len, NULL);

        if (st == ACME_ERR_INVALID) {
            return DECLINED; /* malformed: nothing was looked up, nobody has it */
        }
        if (st == ACME_OK) {
            apr_bucket_brigade *bb;

            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ACMELOGNO(01050)
                          "answering the http-01 challenge %s for %s", token,
                          r->hostname ? r->hostname : "?");
            r->status = HTTP_OK;
            ap_set_content_type(r, "text/plain");
            ap_set_content_length(r, (apr_off_t)ka_len);
            apr_table_setn(r->headers_out, "Cache-Control", "no-store");
            bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
            if (!r->header_only) {
                apr_brigade_write(bb, NULL, NULL, ka, ka_len);
            }
            acme_free(ka);
            ap_pass_brigade(r->output_filters, bb);
            apr_brigade_cleanup(bb);
            return DONE;
        }
    }
    return DECLINED;
}

/* ---- tls-alpn-01 ---------------------------------------------------------------------------- */

static int acme_protocol_propose(conn_rec *c, request_rec *r, server_rec *s,
                                 const apr_array_header_t *offers,
                                 apr_array_header_t *proposals)
{
    if (r || !offers || !acme_stores || !ap_array_str_contains(offers, ACME_TLS_1) ||
        !ap_ssl_conn_is_ssl(c) || !acme_conf(s ? s : c->base_server)->binding) {
        return DECLINED;
    }
    APR_ARRAY_PUSH(proposals, const char *) = ACME_TLS_1;
    return OK;
}

static int acme_protocol_switch(conn_rec *c, request_rec *r, server_rec *s,
                                const char *protocol)
{
    if (r || !acme_stores || strcmp(protocol, ACME_TLS_1) || !ap_ssl_conn_is_ssl(c) ||
        !acme_conf(s ? s : c->base_server)->binding) {
        return DECLINED;
    }
    ap_set_module_config(c->conn_config, &acme_module, (void *)ACME_TLS_1);
    c->keepalive = AP_CONN_CLOSE; /* a validation connection serves nothing else */
    return OK;
}

static const char *acme_protocol_get(const conn_rec *c)
{
    return ap_get_module_config(c->conn_config, &acme_module);
}

static int acme_answer_challenge(conn_rec *c, const char *server_name, const char **pcert_pem,
                                 const char **pkey_pem)
{
    const char *protocol;
    acme_store_rt *rt;

    if (!server_name || !acme_stores || !(protocol = ap_get_protocol(c)) ||
        strcmp(protocol, ACME_TLS_1)) {
        return DECLINED;
    }
    for (rt = acme_stores; rt; rt = rt->next) {
        char *cert = NULL, *key = NULL;

        if (acme_tls_alpn01_pem(rt->ctx, server_name, &cert, &key, NULL) == ACME_OK) {
            *pcert_pem = apr_pstrdup(c->pool, cert);
            *pkey_pem = apr_pstrdup(c->pool, key);
            acme_free(cert);
            acme_free(key);
            ap_log_cerror(APLOG_MARK, APLOG_INFO, 0, c, ACMELOGNO(01060)
                          "answering the tls-alpn-01 challenge for %s", server_name);
            return OK;
        }
    }
    return DECLINED;
}

/* ---- status handler ------------------------------------------------------------------------- */

static int acme_arg_is(const char *args, const char *name, const char *value)
{
    size_t nl = strlen(name), vl = strlen(value);
    const char *p = args;

    while (p && *p) {
        if (!strncmp(p, name, nl) && p[nl] == '=' && !strncmp(p + nl + 1, value, vl) &&
            (p[nl + 1 + vl] == '&' || p[nl + 1 + vl] == '\0')) {
            return 1;
        }
        p = strchr(p, '&');
        p = p ? p + 1 : NULL;
    }
    return 0;
}

static int acme_status_handler(request_rec *r)
{
    const acme_srv_conf *c;
    acme_store_rt *rt;
    acme_ctx *ctx = NULL;
    acme_status_format fmt;
    acme_error *err = NULL;
    acme_status st;
    char *out = NULL;
    size_t len = 0;
    unsigned flags = 0;

    if (!r->handler || strcmp(r->handler, ACME_STATUS_HANDLER)) {
        return DECLINED;
    }
    r->allowed |= (AP_METHOD_BIT << M_GET);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    c = acme_conf(r->server);
    if (c->binding) {
        ctx = c->binding->ctx;
    }
    else {
        for (rt = acme_stores; rt; rt = rt->next) {
            if (!strcmp(rt->dir, acme_store_dir(c))) {
                ctx = rt->ctx;
            }
        }
    }
    if (!ctx) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ACMELOGNO(01070)
                      "acme-status: no certificates are managed in %s", acme_store_dir(c));
        return HTTP_NOT_FOUND;
    }
    fmt = acme_arg_is(r->args, "format", "prometheus") ? ACME_FORMAT_PROMETHEUS
                                                        : ACME_FORMAT_JSON;
    if (acme_arg_is(r->args, "all", "1")) {
        flags |= ACME_STATUS_ALL;
    }
    st = acme_ctx_status(ctx, fmt, flags, &out, &len, &err);
    if (st != ACME_OK) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, ACMELOGNO(01071)
                      "acme-status: %s", acme_err_text(r->pool, st, err));
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, fmt == ACME_FORMAT_PROMETHEUS ? "text/plain; version=0.0.4; "
                                                           "charset=utf-8"
                                                         : "application/json");
    apr_table_setn(r->headers_out, "Cache-Control", "no-store");
    ap_set_content_length(r, (apr_off_t)len);
    if (!r->header_only) {
        ap_rwrite(out, (int)len, r);
    }
    acme_free(out);
    return OK;
}

/* ---- module --------------------------------------------------------------------------------- */

static void acme_register_hooks(apr_pool_t *p)
{
    static const char *const before_ssl[] = {"mod_ssl.c", NULL};

    (void)p;
    ap_hook_check_config(acme_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_ssl's post_config, which asks for the certificate files. */
    ap_hook_post_config(acme_post_config, NULL, before_ssl, APR_HOOK_MIDDLE);
    ap_hook_child_init(acme_child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(acme_child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_add_cert_files(acme_add_cert_files, NULL, NULL, APR_HOOK_MIDDLE);
    APR_OPTIONAL_HOOK(ssl, init_server, acme_init_server, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before everything that could redirect or rewrite the request. */
    ap_hook_post_read_request(acme_http01, NULL, NULL, APR_HOOK_REALLY_FIRST);
    ap_hook_protocol_propose(acme_protocol_propose, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_switch(acme_protocol_switch, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_protocol_get(acme_protocol_get, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_ssl_answer_challenge(acme_answer_challenge, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(acme_status_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

module AP_MODULE_DECLARE_DATA __attribute__((visibility("default"))) acme_module = {
    STANDARD20_MODULE_STUFF,
    NULL,               /* create per-directory config */
    NULL,               /* merge per-directory config */
    acme_create_srv,    /* create per-server config */
    acme_merge_srv,     /* merge per-server config */
    acme_cmds,          /* directives */
    acme_register_hooks,
    AP_MODULE_FLAG_NONE};
