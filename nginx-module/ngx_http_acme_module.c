
/*
 * ngx_http_acme_module: ACME (RFC 8555) certificates for nginx, obtained and
 * renewed in the background and swapped into running workers without reload.
 *
 * The module is glue over the ACME core (common/include/acme/acme.h, the only
 * header of the core it uses):
 *
 *   configuration  each server with "acme on" becomes one certificate of the
 *                  http{} block's acme_ctx; its startup bundle (the stored
 *                  certificate or a self-signed fallback) is pushed into
 *                  ngx_http_ssl_module's certificate list of that server as
 *                  "data:" strings taken from the core's cache, so no
 *                  ssl_certificate is needed and the master (root) never
 *                  opens a path in the store, which belongs to the worker
 *                  user.  This happens in init_main_conf, which runs before
 *                  ngx_http_ssl_module's server merge because the module is
 *                  ordered before it (see ngx_module_order in ./config).
 *   handshakes     SSL_CTX_set_cert_cb(acme_ssl_cert_cb) on every managed
 *                  server's SSL_CTX serves the current certificate from the
 *                  core's per-process cache; the module adds no work of its
 *                  own to the handshake.
 *   challenges     http-01 in the POST_READ phase of every server (before
 *                  rewrites and "return"); tls-alpn-01 through the core's
 *                  ClientHello callback on every SSL_CTX a connection to the
 *                  listen address may start with (it marks a validation
 *                  handshake before SNI and before the certificate callback)
 *                  and an ALPN select callback that otherwise behaves like
 *                  nginx's own.
 *   processes      the store is prepared by the master (owned by the worker
 *                  user); every worker starts the core's driver thread, which
 *                  competes for the store's driver lock, so exactly one
 *                  process does ACME work; it is stopped when the worker
 *                  starts shutting down.  With "master_process off", a reload
 *                  stops the old configuration's driver and starts the new
 *                  one.
 *   logging        the core logs from its own threads too; nginx's log
 *                  writers are not thread-safe, so those lines are queued and
 *                  written by the event loop (a timer, once a second).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <ngx_http_ssl_module.h>

#include <pthread.h>
#include <signal.h>

#include <acme/acme.h>


#define NGX_HTTP_ACME_DEFAULT_STORE   "/var/lib/nginx/acme"
#define NGX_HTTP_ACME_CHALLENGE_PATH  "/.well-known/acme-challenge/"
#define NGX_HTTP_ACME_MAX_TOKEN       128
#define NGX_HTTP_ACME_ALPN_PROTO      "acme-tls/1"
#define NGX_HTTP_ACME_TIMER           1000
#define NGX_HTTP_ACME_LOG_QUEUE       128
#define NGX_HTTP_ACME_LOG_LINE        1024

#define NGX_HTTP_ACME_ALPN_PROTOS     "\x08http/1.1\x08http/1.0\x08http/0.9"
#define NGX_HTTP_ACME_V2_ALPN_PROTO   "\x02h2"


/* the settings of a server that the core may refuse, one each */

typedef enum {
    NGX_HTTP_ACME_F_CA = 0,
    NGX_HTTP_ACME_F_EMAIL,
    NGX_HTTP_ACME_F_TOS,
    NGX_HTTP_ACME_F_CA_ROOT,
    NGX_HTTP_ACME_F_CHAIN_ROOTS,
    NGX_HTTP_ACME_F_DOMAINS,
    NGX_HTTP_ACME_F_KEY_TYPE,
    NGX_HTTP_ACME_F_CHALLENGE,
    NGX_HTTP_ACME_F_DNS_HOOK,
    NGX_HTTP_ACME_F_DNS_WAIT,
    NGX_HTTP_ACME_F_EAB,
    NGX_HTTP_ACME_F_PROFILE,
    NGX_HTTP_ACME_F_RENEW_WINDOW,
    NGX_HTTP_ACME_F_PREFERRED_CHAIN,
    NGX_HTTP_ACME_NFIELDS
} ngx_http_acme_field_e;


typedef struct {
    u_char                     *file;
    ngx_uint_t                  line;
} ngx_http_acme_where_t;


/* cmd->post of a server-level directive: the setter and what it sets */

typedef struct {
    char                     *(*set)(ngx_conf_t *cf, ngx_command_t *cmd,
                                     void *conf);
    ngx_http_acme_field_e       field;
} ngx_http_acme_directive_t;


typedef struct {
    ngx_flag_t                  enable;

    ngx_array_t                *ca_urls;           /* of ngx_str_t */
    ngx_array_t                *emails;            /* of ngx_str_t */
    ngx_flag_t                  agree_tos;
    ngx_str_t                   ca_root;
    ngx_array_t                *domains;           /* of ngx_str_t */
    ngx_array_t                *key_types;         /* of ngx_str_t */
    ngx_str_t                   challenge;
    ngx_str_t                   dns_hook;
    time_t                      dns_wait;
    ngx_str_t                   eab_kid;
    ngx_str_t                   eab_key;
    ngx_str_t                   eab_alg;
    ngx_str_t                   eab_key_file;
    ngx_str_t                   chain_roots;
    ngx_str_t                   profile;
    ngx_str_t                   renew_window;
    ngx_str_t                   preferred_chain;

    /* where "acme on" is, for errors found after parsing */
    u_char                     *file;
    ngx_uint_t                  line;

    /* where each setting was written (in this server or inherited) */
    ngx_http_acme_where_t       where[NGX_HTTP_ACME_NFIELDS];

    /* set in init_main_conf for managed servers */
    acme_cert                  *cert;
    ngx_array_t                *names;             /* of ngx_str_t */
    unsigned                    tls_alpn01:1;
} ngx_http_acme_srv_conf_t;


typedef struct {
    ngx_str_t                   store;
    u_char                     *store_file;
    ngx_uint_t                  store_line;

    acme_ctx                   *ctx;
    ngx_array_t                 servers;   /* of ngx_http_core_srv_conf_t * */

    /* the owner the store was handed to in init_main_conf (-1: none) */
    long                        uid;
    long                        gid;

    /* worker side */
    ngx_event_t                 timer;
    pthread_t                   stopper;
    unsigned                    started:1;
    unsigned                    stopping:1;
} ngx_http_acme_main_conf_t;


/* a line of the core's log, queued by a thread other than the event loop's */

typedef struct {
    ngx_uint_t                  level;
    size_t                      len;
    u_char                      text[NGX_HTTP_ACME_LOG_LINE];
} ngx_http_acme_log_line_t;


static void *ngx_http_acme_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_acme_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_acme_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_acme_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_acme_postconfiguration(ngx_conf_t *cf);

static char *ngx_http_acme_on(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *ngx_http_acme_set_field(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_set_list(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_set_path(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_key_type(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_challenge(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_eab(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_acme_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_acme_add_server(ngx_conf_t *cf,
    ngx_http_acme_main_conf_t *amcf, ngx_http_core_srv_conf_t *cscf,
    ngx_http_acme_srv_conf_t *ascf);
static ngx_http_acme_where_t *ngx_http_acme_where(
    ngx_http_acme_srv_conf_t *ascf, acme_error *err);
static ngx_uint_t ngx_http_acme_same_list(ngx_array_t *a, ngx_array_t *b);
static ngx_uint_t ngx_http_acme_same_str(ngx_str_t *a, ngx_str_t *b);
static ngx_uint_t ngx_http_acme_same_config(ngx_http_acme_srv_conf_t *a,
    ngx_http_acme_srv_conf_t *b);
static const char *ngx_http_acme_c_string(ngx_conf_t *cf, ngx_str_t *s);
static ngx_int_t ngx_http_acme_c_strings(ngx_conf_t *cf, ngx_array_t *a,
    const char *const **out, size_t *n);
static ngx_int_t ngx_http_acme_names(ngx_conf_t *cf,
    ngx_http_core_srv_conf_t *cscf, ngx_http_acme_srv_conf_t *ascf,
    ngx_array_t *names);
static ngx_int_t ngx_http_acme_push_certificates(ngx_conf_t *cf,
    ngx_http_core_srv_conf_t *cscf, ngx_http_acme_srv_conf_t *ascf);
static void ngx_http_acme_conf_error(ngx_conf_t *cf, u_char *file,
    ngx_uint_t line, const char *what, acme_error *err);
static void ngx_http_acme_cleanup(void *data);

static void ngx_http_acme_wipe(void *data);
static ngx_int_t ngx_http_acme_hello_callbacks(ngx_conf_t *cf,
    ngx_http_acme_main_conf_t *amcf);

static void ngx_http_acme_log(void *baton, acme_log_level level,
    const char *message);
static acme_log_level ngx_http_acme_log_level(ngx_log_t *log);
static void ngx_http_acme_log_drain(void);
static ngx_int_t ngx_http_acme_notify_init(ngx_cycle_t *cycle);
static void ngx_http_acme_notify_handler(ngx_event_t *ev);

static long ngx_http_acme_user(ngx_core_conf_t *ccf, long *gid);
static void ngx_http_acme_check_store(ngx_log_t *log, ngx_str_t *store,
    long uid);
static ngx_int_t ngx_http_acme_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_acme_init_process(ngx_cycle_t *cycle);
static void ngx_http_acme_start(ngx_cycle_t *cycle,
    ngx_http_acme_main_conf_t *amcf);
static void ngx_http_acme_stop(ngx_http_acme_main_conf_t *amcf);
static void ngx_http_acme_exit_process(ngx_cycle_t *cycle);
static void ngx_http_acme_timer_handler(ngx_event_t *ev);
static void *ngx_http_acme_stopper(void *data);

static ngx_int_t ngx_http_acme_http01_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_acme_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_acme_send(ngx_http_request_t *r, ngx_str_t *type,
    u_char *body, size_t len);

static int ngx_http_acme_alpn_select(ngx_ssl_conn_t *ssl_conn,
    const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg);


static ngx_conf_bitmask_t  ngx_http_acme_key_types[] = {
    { ngx_string("ecdsa-p256"), 0 },
    { ngx_string("ecdsa-p384"), 0 },
    { ngx_string("rsa-2048"), 1 },
    { ngx_string("rsa-3072"), 1 },
    { ngx_string("rsa-4096"), 1 },
    { ngx_null_string, 0 }
};


static ngx_str_t  ngx_http_acme_challenges[] = {
    ngx_string("http-01"),
    ngx_string("tls-alpn-01"),
    ngx_string("dns-01"),
    ngx_null_string
};


/* the server-level directives: their setters and settings */

static ngx_http_acme_directive_t  ngx_http_acme_dir_ca =
    { ngx_http_acme_set_list, NGX_HTTP_ACME_F_CA };

static ngx_http_acme_directive_t  ngx_http_acme_dir_email =
    { ngx_http_acme_set_list, NGX_HTTP_ACME_F_EMAIL };

static ngx_http_acme_directive_t  ngx_http_acme_dir_agree_tos =
    { ngx_conf_set_flag_slot, NGX_HTTP_ACME_F_TOS };

static ngx_http_acme_directive_t  ngx_http_acme_dir_ca_root =
    { ngx_http_acme_set_path, NGX_HTTP_ACME_F_CA_ROOT };

static ngx_http_acme_directive_t  ngx_http_acme_dir_chain_roots =
    { ngx_http_acme_set_path, NGX_HTTP_ACME_F_CHAIN_ROOTS };

static ngx_http_acme_directive_t  ngx_http_acme_dir_domains =
    { ngx_http_acme_set_list, NGX_HTTP_ACME_F_DOMAINS };

static ngx_http_acme_directive_t  ngx_http_acme_dir_key_type =
    { ngx_http_acme_key_type, NGX_HTTP_ACME_F_KEY_TYPE };

static ngx_http_acme_directive_t  ngx_http_acme_dir_challenge =
    { ngx_http_acme_challenge, NGX_HTTP_ACME_F_CHALLENGE };

static ngx_http_acme_directive_t  ngx_http_acme_dir_dns_hook =
    { ngx_http_acme_set_path, NGX_HTTP_ACME_F_DNS_HOOK };

static ngx_http_acme_directive_t  ngx_http_acme_dir_dns_wait =
    { ngx_conf_set_sec_slot, NGX_HTTP_ACME_F_DNS_WAIT };

static ngx_http_acme_directive_t  ngx_http_acme_dir_eab =
    { ngx_http_acme_eab, NGX_HTTP_ACME_F_EAB };

static ngx_http_acme_directive_t  ngx_http_acme_dir_profile =
    { ngx_conf_set_str_slot, NGX_HTTP_ACME_F_PROFILE };

static ngx_http_acme_directive_t  ngx_http_acme_dir_renew_window =
    { ngx_conf_set_str_slot, NGX_HTTP_ACME_F_RENEW_WINDOW };

static ngx_http_acme_directive_t  ngx_http_acme_dir_preferred_chain =
    { ngx_conf_set_str_slot, NGX_HTTP_ACME_F_PREFERRED_CHAIN };


static ngx_command_t  ngx_http_acme_commands[] = {

    { ngx_string("acme"),
      NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_http_acme_on,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_ca"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, ca_urls),
      &ngx_http_acme_dir_ca },

    { ngx_string("acme_email"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, emails),
      &ngx_http_acme_dir_email },

    { ngx_string("acme_agree_tos"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_FLAG,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, agree_tos),
      &ngx_http_acme_dir_agree_tos },

    { ngx_string("acme_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("acme_ca_root"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, ca_root),
      &ngx_http_acme_dir_ca_root },

    { ngx_string("acme_chain_roots"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, chain_roots),
      &ngx_http_acme_dir_chain_roots },

    { ngx_string("acme_domains"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_1MORE,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, domains),
      &ngx_http_acme_dir_domains },

    { ngx_string("acme_key_type"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE12,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, key_types),
      &ngx_http_acme_dir_key_type },

    { ngx_string("acme_challenge"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, challenge),
      &ngx_http_acme_dir_challenge },

    { ngx_string("acme_dns_hook"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, dns_hook),
      &ngx_http_acme_dir_dns_hook },

    { ngx_string("acme_dns_wait"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, dns_wait),
      &ngx_http_acme_dir_dns_wait },

    { ngx_string("acme_eab"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE23,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      &ngx_http_acme_dir_eab },

    { ngx_string("acme_profile"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, profile),
      &ngx_http_acme_dir_profile },

    { ngx_string("acme_renew_window"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, renew_window),
      &ngx_http_acme_dir_renew_window },

    { ngx_string("acme_preferred_chain"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_acme_set_field,
      NGX_HTTP_SRV_CONF_OFFSET,
      offsetof(ngx_http_acme_srv_conf_t, preferred_chain),
      &ngx_http_acme_dir_preferred_chain },

    { ngx_string("acme_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_acme_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_acme_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_acme_postconfiguration,       /* postconfiguration */

    ngx_http_acme_create_main_conf,        /* create main configuration */
    ngx_http_acme_init_main_conf,          /* init main configuration */

    ngx_http_acme_create_srv_conf,         /* create server configuration */
    ngx_http_acme_merge_srv_conf,          /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_acme_module = {
    NGX_MODULE_V1,
    &ngx_http_acme_module_ctx,             /* module context */
    ngx_http_acme_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_acme_init_module,             /* init module */
    ngx_http_acme_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_acme_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * The core's log lines from threads other than the event loop's (the driver,
 * the stopper), written by the event loop; process-wide, as the core's log
 * callback is.
 */

static pthread_mutex_t  ngx_http_acme_log_mutex = PTHREAD_MUTEX_INITIALIZER;
static ngx_http_acme_log_line_t
                        ngx_http_acme_log_queue[NGX_HTTP_ACME_LOG_QUEUE];
static ngx_uint_t       ngx_http_acme_log_head;
static ngx_uint_t       ngx_http_acme_log_count;
static ngx_uint_t       ngx_http_acme_log_dropped;
static pthread_t        ngx_http_acme_loop_thread;

/* a pipe that wakes the event loop up when the queue was empty */

static int              ngx_http_acme_notify_fd[2] = { -1, -1 };
static ngx_connection_t ngx_http_acme_notify_conn;
static ngx_event_t      ngx_http_acme_notify_rev;
static ngx_event_t      ngx_http_acme_notify_wev;


/* configuration */

static void *
ngx_http_acme_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_acme_main_conf_t  *amcf;

    amcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_acme_main_conf_t));
    if (amcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     amcf->store = { 0, NULL };
     *     amcf->ctx = NULL;
     *     amcf->started = 0;
     */

    amcf->uid = -1;
    amcf->gid = -1;

    if (ngx_array_init(&amcf->servers, cf->pool, 4,
                       sizeof(ngx_http_core_srv_conf_t *))
        != NGX_OK)
    {
        return NULL;
    }

    return amcf;
}


static void *
ngx_http_acme_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_acme_srv_conf_t  *ascf;

    ascf = ngx_pcalloc(cf->pool, sizeof(ngx_http_acme_srv_conf_t));
    if (ascf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     ascf->ca_root = { 0, NULL };
     *     ascf->challenge = { 0, NULL };
     *     ascf->dns_hook = { 0, NULL };
     *     ascf->eab_kid = { 0, NULL };
     *     ascf->eab_key = { 0, NULL };
     *     ascf->eab_alg = { 0, NULL };
     *     ascf->eab_key_file = { 0, NULL };
     *     ascf->chain_roots = { 0, NULL };
     *     ascf->profile = { 0, NULL };
     *     ascf->renew_window = { 0, NULL };
     *     ascf->preferred_chain = { 0, NULL };
     *     ascf->file = NULL;
     *     ascf->cert = NULL;
     */

    ascf->enable = NGX_CONF_UNSET;
    ascf->ca_urls = NGX_CONF_UNSET_PTR;
    ascf->emails = NGX_CONF_UNSET_PTR;
    ascf->agree_tos = NGX_CONF_UNSET;
    ascf->domains = NGX_CONF_UNSET_PTR;
    ascf->key_types = NGX_CONF_UNSET_PTR;
    ascf->dns_wait = NGX_CONF_UNSET;

    return ascf;
}


/*
 * Idempotent: init_main_conf merges the managed servers early (it needs their
 * effective settings before ngx_http_ssl_module's merge), and nginx merges
 * every server again afterwards.
 */

static char *
ngx_http_acme_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_acme_srv_conf_t *prev = parent;
    ngx_http_acme_srv_conf_t *conf = child;

    ngx_uint_t  f;

    for (f = 0; f < NGX_HTTP_ACME_NFIELDS; f++) {
        if (conf->where[f].file == NULL) {
            conf->where[f] = prev->where[f];
        }
    }

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->ca_urls, prev->ca_urls, NULL);
    ngx_conf_merge_ptr_value(conf->emails, prev->emails, NULL);
    ngx_conf_merge_value(conf->agree_tos, prev->agree_tos, 0);
    ngx_conf_merge_str_value(conf->ca_root, prev->ca_root, "");
    ngx_conf_merge_str_value(conf->chain_roots, prev->chain_roots, "");
    ngx_conf_merge_ptr_value(conf->domains, prev->domains, NULL);
    ngx_conf_merge_ptr_value(conf->key_types, prev->key_types, NULL);
    ngx_conf_merge_str_value(conf->challenge, prev->challenge, "");
    ngx_conf_merge_str_value(conf->dns_hook, prev->dns_hook, "");
    ngx_conf_merge_sec_value(conf->dns_wait, prev->dns_wait, 0);

    if (conf->eab_kid.data == NULL) {
        conf->eab_kid = prev->eab_kid;
        conf->eab_key = prev->eab_key;
        conf->eab_alg = prev->eab_alg;
        conf->eab_key_file = prev->eab_key_file;
    }

    ngx_conf_merge_str_value(conf->eab_kid, prev->eab_kid, "");
    ngx_conf_merge_str_value(conf->eab_key, prev->eab_key, "");
    ngx_conf_merge_str_value(conf->eab_alg, prev->eab_alg, "");
    ngx_conf_merge_str_value(conf->eab_key_file, prev->eab_key_file, "");
    ngx_conf_merge_str_value(conf->profile, prev->profile, "");
    ngx_conf_merge_str_value(conf->renew_window, prev->renew_window, "");
    ngx_conf_merge_str_value(conf->preferred_chain, prev->preferred_chain,
                             "");

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_on(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_srv_conf_t *ascf = conf;

    char  *rv;

    rv = ngx_conf_set_flag_slot(cf, cmd, conf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    ascf->file = cf->conf_file->file.name.data;
    ascf->line = cf->conf_file->line;

    return NGX_CONF_OK;
}


/* "directive value..." into an array of ngx_str_t; each directive once */

/*
 * every server-level directive: its own setter, then where it was written,
 * so that the core's refusal of a value is reported at that line
 */

static char *
ngx_http_acme_set_field(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_srv_conf_t *ascf = conf;

    char                       *rv;
    ngx_command_t               c;
    ngx_http_acme_directive_t  *d;

    d = cmd->post;

    c = *cmd;
    c.post = NULL;

    rv = d->set(cf, &c, conf);

    if (rv == NGX_CONF_OK) {
        ascf->where[d->field].file = cf->conf_file->file.name.data;
        ascf->where[d->field].line = cf->conf_file->line;
    }

    return rv;
}


static char *
ngx_http_acme_set_list(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i, j;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *a = ngx_array_create(cf->pool, cf->args->nelts - 1, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "empty value in \"%V\"", &cmd->name);
            return NGX_CONF_ERROR;
        }

        for (j = 1; j < i; j++) {
            if (value[j].len == value[i].len
                && ngx_strncasecmp(value[j].data, value[i].data,
                                   value[i].len) == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "\"%V\" is listed twice in \"%V\"",
                                   &value[i], &cmd->name);
                return NGX_CONF_ERROR;
            }
        }

        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}


/*
 * the directive's argument as a full path into *field: relative to the
 * configuration prefix (conf_prefix) or to the nginx prefix
 */

static char *
ngx_http_acme_full_path(ngx_conf_t *cf, ngx_str_t *field,
    ngx_uint_t conf_prefix, char *empty)
{
    ngx_str_t  *value;

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return empty;
    }

    *field = value[1];

    if (ngx_conf_full_name(cf->cycle, field, conf_prefix) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a file name, relative to the configuration prefix */

static char *
ngx_http_acme_set_path(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    return ngx_http_acme_full_path(cf, (ngx_str_t *) (p + cmd->offset), 1,
                                   "takes a file name, not an empty string");
}


static char *
ngx_http_acme_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_main_conf_t *amcf = conf;

    char  *rv;

    rv = ngx_http_acme_full_path(cf, &amcf->store, 0,
                                 "takes a directory, not an empty string");

    if (rv == NGX_CONF_OK) {
        amcf->store_file = cf->conf_file->file.name.data;
        amcf->store_line = cf->conf_file->line;
    }

    return rv;
}


static char *
ngx_http_acme_key_type(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i, k, rsa[2];
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    *a = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
    if (*a == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        for (k = 0; ngx_http_acme_key_types[k].name.len; k++) {
            if (ngx_http_acme_key_types[k].name.len == value[i].len
                && ngx_strncmp(ngx_http_acme_key_types[k].name.data,
                               value[i].data, value[i].len) == 0)
            {
                break;
            }
        }

        if (ngx_http_acme_key_types[k].name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid key type \"%V\" (use ecdsa-p256, "
                               "ecdsa-p384, rsa-2048, rsa-3072 or rsa-4096)",
                               &value[i]);
            return NGX_CONF_ERROR;
        }

        rsa[i - 1] = ngx_http_acme_key_types[k].mask;

        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    if (cf->args->nelts == 3 && rsa[0] == rsa[1]) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "two key types must be one ECDSA and one RSA "
                           "type, not \"%V\" and \"%V\"",
                           &value[1], &value[2]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_challenge(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *field, *value;
    ngx_uint_t   i;

    field = (ngx_str_t *) (p + cmd->offset);

    if (field->data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 0; ngx_http_acme_challenges[i].len; i++) {
        if (ngx_http_acme_challenges[i].len == value[1].len
            && ngx_strncmp(ngx_http_acme_challenges[i].data, value[1].data,
                           value[1].len) == 0)
        {
            *field = value[1];
            return NGX_CONF_OK;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid challenge type \"%V\" "
                       "(use http-01, tls-alpn-01 or dns-01)", &value[1]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_acme_eab(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_acme_srv_conf_t *ascf = conf;

    ngx_str_t  *value;

    if (ascf->eab_kid.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[2].len == 0) {
        return "needs a key id and a base64url HMAC key (or file:PATH)";
    }

    ascf->eab_kid = value[1];

    /* "file:PATH": the key is read from a file, so nginx.conf and nginx -T
     * do not show it */

    if (value[2].len > 5 && ngx_strncmp(value[2].data, "file:", 5) == 0) {
        ascf->eab_key_file.data = value[2].data + 5;
        ascf->eab_key_file.len = value[2].len - 5;

        if (ngx_conf_full_name(cf->cycle, &ascf->eab_key_file, 1) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

    } else {
        ascf->eab_key = value[2];
    }

    if (cf->args->nelts == 4) {
        if (ngx_strcmp(value[3].data, "HS256") != 0
            && ngx_strcmp(value[3].data, "HS384") != 0
            && ngx_strcmp(value[3].data, "HS512") != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid EAB MAC algorithm \"%V\" "
                               "(use HS256, HS384 or HS512)", &value[3]);
            return NGX_CONF_ERROR;
        }

        ascf->eab_alg = value[3];

    } else {
        ngx_str_set(&ascf->eab_alg, "");
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_acme_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate or conflicts with another content handler";
    }

    clcf->handler = ngx_http_acme_status_handler;

    return NGX_CONF_OK;
}


/*
 * Runs before ngx_http_ssl_module's init_main_conf and server merge (module
 * order), after ngx_http_core_module's merge (server names are final).
 */

static char *
ngx_http_acme_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_acme_main_conf_t *amcf = conf;

    u_char                      *what;
    acme_error                  *err;
    acme_status                  rc;
    ngx_uint_t                   s;
    ngx_core_conf_t             *ccf;
    acme_ctx_options             opts;
    ngx_pool_cleanup_t          *cln;
    ngx_http_ssl_srv_conf_t     *sscf;
    ngx_http_acme_srv_conf_t    *ascf, *main_ascf, *first;
    ngx_http_core_srv_conf_t   **cscfp, **managed;
    ngx_http_core_main_conf_t   *cmcf;

    if (amcf->store.data == NULL) {
        ngx_str_set(&amcf->store, NGX_HTTP_ACME_DEFAULT_STORE);
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    main_ascf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_acme_module);

    cscfp = cmcf->servers.elts;

    for (s = 0; s < cmcf->servers.nelts; s++) {

        ascf = cscfp[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

        if (ascf->enable != 1) {
            continue;
        }

        if (ngx_http_acme_merge_srv_conf(cf, main_ascf, ascf) != NGX_CONF_OK) {
            return NGX_CONF_ERROR;
        }

        managed = ngx_array_push(&amcf->servers);
        if (managed == NULL) {
            return NGX_CONF_ERROR;
        }

        *managed = cscfp[s];
    }

    if (amcf->servers.nelts == 0) {
        return NGX_CONF_OK;
    }

    managed = amcf->servers.elts;
    first = managed[0]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

    if (ngx_process == NGX_PROCESS_SIGNALLER) {

        /*
         * "nginx -s ..." parses the configuration only to find the pid file:
         * touch no store, and keep ngx_http_ssl_module from asking for
         * certificates it will never use
         */

        for (s = 0; s < amcf->servers.nelts; s++) {
            sscf = managed[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

            if (sscf->certificates == NGX_CONF_UNSET_PTR) {
                sscf->reject_handshake = 1;
            }
        }

        return NGX_CONF_OK;
    }

    ngx_http_acme_loop_thread = pthread_self();

    acme_log_set(ngx_http_acme_log, NULL,
                 ngx_http_acme_log_level(&cf->cycle->new_log));

    if (acme_abi_version() != ACME_ABI_VERSION) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "acme: the module was built for ACME core ABI %d, "
                      "the core linked is ABI %ui",
                      ACME_ABI_VERSION, (ngx_uint_t) acme_abi_version());
        return NGX_CONF_ERROR;
    }

    ngx_memzero(&opts, sizeof(acme_ctx_options));
    opts.struct_size = sizeof(acme_ctx_options);
    opts.store_dir = (const char *) amcf->store.data;
    opts.user_agent = NGINX_VER;

    /* "nginx -t" reads the store but creates, writes and hands over nothing */
    opts.config_test = ngx_test_config ? 1 : 0;

    err = NULL;

    if (acme_ctx_create(&opts, &amcf->ctx, &err) != ACME_OK) {
        if (amcf->store_file) {
            ngx_http_acme_conf_error(cf, amcf->store_file, amcf->store_line,
                                     "acme_store", err);
        } else {
            ngx_http_acme_conf_error(cf, first->file, first->line,
                                     "acme_store (default "
                                     NGX_HTTP_ACME_DEFAULT_STORE ")", err);
        }

        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        acme_ctx_destroy(amcf->ctx);
        amcf->ctx = NULL;
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_http_acme_cleanup;
    cln->data = amcf;

    for (s = 0; s < amcf->servers.nelts; s++) {
        ascf = managed[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

        if (ngx_http_acme_add_server(cf, amcf, managed[s], ascf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    /*
     * before the fork: the store, stored certificates, fallbacks; the store
     * is handed to the worker user here already when the "user" directive
     * came before http{}, so that a failure fails "nginx -t" and a reload
     * (init_module cannot fail a reload: nginx exits)
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    amcf->uid = ngx_http_acme_user(ccf, &amcf->gid);

    rc = acme_ctx_prepare(amcf->ctx, amcf->uid, amcf->gid, &err);

    if (rc != ACME_OK) {
        if (amcf->uid >= 0) {
            what = ngx_pnalloc(cf->temp_pool, amcf->store.len
                                              + ngx_strlen(ccf->username)
                                              + NGX_INT64_LEN + 64);
        } else {
            what = NULL;
        }

        if (what) {
            (void) ngx_sprintf(what, "handing the store \"%V\" to user "
                               "\"%s\" (uid %l)%Z", &amcf->store,
                               ccf->username, amcf->uid);
        }

        ngx_http_acme_conf_error(cf, amcf->store_file ? amcf->store_file
                                                      : first->file,
                                 amcf->store_file ? amcf->store_line
                                                  : first->line,
                                 what ? (const char *) what : "store", err);
        return NGX_CONF_ERROR;
    }

    for (s = 0; s < amcf->servers.nelts; s++) {
        ascf = managed[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

        if (ngx_http_acme_push_certificates(cf, managed[s], ascf) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_acme_add_server(ngx_conf_t *cf, ngx_http_acme_main_conf_t *amcf,
    ngx_http_core_srv_conf_t *cscf, ngx_http_acme_srv_conf_t *ascf)
{
    ngx_uint_t                  s;
    acme_error                 *err;
    acme_cert_config            cfg;
    ngx_http_acme_where_t      *where;
    ngx_http_acme_srv_conf_t   *other;
    ngx_http_core_srv_conf_t  **managed;

    ascf->names = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
    if (ascf->names == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_acme_names(cf, cscf, ascf, ascf->names) != NGX_OK) {
        return NGX_ERROR;
    }

    ascf->tls_alpn01 = (ascf->challenge.len == sizeof("tls-alpn-01") - 1
                        && ngx_strncmp(ascf->challenge.data, "tls-alpn-01",
                                       ascf->challenge.len) == 0);

    /*
     * servers with the same effective configuration share one certificate
     * (e.g. one server per address family, or the same names on two ports)
     */

    managed = amcf->servers.elts;

    for (s = 0; managed[s] != cscf; s++) {
        other = managed[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

        if (ngx_http_acme_same_config(other, ascf)) {
            ascf->cert = other->cert;
            return NGX_OK;
        }
    }

    ngx_memzero(&cfg, sizeof(acme_cert_config));
    cfg.struct_size = sizeof(acme_cert_config);
    cfg.account.struct_size = sizeof(acme_account_config);

    if (ngx_http_acme_c_strings(cf, ascf->names, &cfg.domains,
                                &cfg.n_domains)
        != NGX_OK
        || ngx_http_acme_c_strings(cf, ascf->key_types, &cfg.key_types,
                                   &cfg.n_key_types)
           != NGX_OK
        || ngx_http_acme_c_strings(cf, ascf->ca_urls, &cfg.account.ca_urls,
                                   &cfg.account.n_ca_urls)
           != NGX_OK
        || ngx_http_acme_c_strings(cf, ascf->emails, &cfg.account.contacts,
                                   &cfg.account.n_contacts)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    cfg.challenge = ngx_http_acme_c_string(cf, &ascf->challenge);
    cfg.dns_hook = ngx_http_acme_c_string(cf, &ascf->dns_hook);
    cfg.dns_propagation_seconds = (int) ascf->dns_wait;
    cfg.profile = ngx_http_acme_c_string(cf, &ascf->profile);
    cfg.renew_window = ngx_http_acme_c_string(cf, &ascf->renew_window);
    cfg.preferred_chain = ngx_http_acme_c_string(cf, &ascf->preferred_chain);
    cfg.account.ca_root = ngx_http_acme_c_string(cf, &ascf->ca_root);
    cfg.account.agree_tos = (ascf->agree_tos == 1);
    cfg.account.eab_kid = ngx_http_acme_c_string(cf, &ascf->eab_kid);
    cfg.account.eab_hmac_key = ngx_http_acme_c_string(cf, &ascf->eab_key);
    cfg.account.eab_alg = ngx_http_acme_c_string(cf, &ascf->eab_alg);
    cfg.account.eab_hmac_key_file =
                             ngx_http_acme_c_string(cf, &ascf->eab_key_file);
    cfg.account.chain_roots = ngx_http_acme_c_string(cf, &ascf->chain_roots);

    err = NULL;

    if (acme_ctx_add_cert(amcf->ctx, &cfg, &ascf->cert, &err) != ACME_OK) {
        where = ngx_http_acme_where(ascf, err);

        if (where) {
            ngx_http_acme_conf_error(cf, where->file, where->line, NULL, err);

        } else {
            ngx_http_acme_conf_error(cf, ascf->file, ascf->line, NULL, err);
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * where the setting that the core refused was written, or NULL when the
 * error concerns no single directive (then "acme on" is the place)
 */

static ngx_http_acme_where_t *
ngx_http_acme_where(ngx_http_acme_srv_conf_t *ascf, acme_error *err)
{
    ngx_uint_t   i;
    const char  *field;

    static const struct {
        const char             *field;
        ngx_http_acme_field_e   setting;
    } settings[] = {
        { "ca_urls", NGX_HTTP_ACME_F_CA },
        { "contacts", NGX_HTTP_ACME_F_EMAIL },
        { "ca_root", NGX_HTTP_ACME_F_CA_ROOT },
        { "chain_roots", NGX_HTTP_ACME_F_CHAIN_ROOTS },
        { "domains", NGX_HTTP_ACME_F_DOMAINS },
        { "key_types", NGX_HTTP_ACME_F_KEY_TYPE },
        { "challenge", NGX_HTTP_ACME_F_CHALLENGE },
        { "dns_hook", NGX_HTTP_ACME_F_DNS_HOOK },
        { "dns_propagation_seconds", NGX_HTTP_ACME_F_DNS_WAIT },
        { "eab_kid", NGX_HTTP_ACME_F_EAB },
        { "eab_hmac_key", NGX_HTTP_ACME_F_EAB },
        { "eab_alg", NGX_HTTP_ACME_F_EAB },
        { "profile", NGX_HTTP_ACME_F_PROFILE },
        { "renew_window", NGX_HTTP_ACME_F_RENEW_WINDOW },
        { "preferred_chain", NGX_HTTP_ACME_F_PREFERRED_CHAIN }
    };

    field = acme_error_field(err);

    for (i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (ngx_strcmp(field, settings[i].field) == 0) {
            if (ascf->where[settings[i].setting].file == NULL) {
                return NULL;
            }

            return &ascf->where[settings[i].setting];
        }
    }

    return NULL;
}


static ngx_uint_t
ngx_http_acme_same_list(ngx_array_t *a, ngx_array_t *b)
{
    ngx_str_t   *x, *y;
    ngx_uint_t   i;

    if (a == NULL || b == NULL) {
        return a == b;
    }

    if (a->nelts != b->nelts) {
        return 0;
    }

    x = a->elts;
    y = b->elts;

    for (i = 0; i < a->nelts; i++) {
        if (x[i].len != y[i].len
            || ngx_strncmp(x[i].data, y[i].data, x[i].len) != 0)
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
ngx_http_acme_same_str(ngx_str_t *a, ngx_str_t *b)
{
    return a->len == b->len && ngx_strncmp(a->data, b->data, a->len) == 0;
}


static ngx_uint_t
ngx_http_acme_same_config(ngx_http_acme_srv_conf_t *a,
    ngx_http_acme_srv_conf_t *b)
{
    return ngx_http_acme_same_list(a->names, b->names)
           && ngx_http_acme_same_list(a->key_types, b->key_types)
           && ngx_http_acme_same_list(a->ca_urls, b->ca_urls)
           && ngx_http_acme_same_list(a->emails, b->emails)
           && a->agree_tos == b->agree_tos
           && a->dns_wait == b->dns_wait
           && ngx_http_acme_same_str(&a->ca_root, &b->ca_root)
           && ngx_http_acme_same_str(&a->challenge, &b->challenge)
           && ngx_http_acme_same_str(&a->dns_hook, &b->dns_hook)
           && ngx_http_acme_same_str(&a->eab_kid, &b->eab_kid)
           && ngx_http_acme_same_str(&a->eab_key, &b->eab_key)
           && ngx_http_acme_same_str(&a->eab_alg, &b->eab_alg)
           && ngx_http_acme_same_str(&a->eab_key_file, &b->eab_key_file)
           && ngx_http_acme_same_str(&a->chain_roots, &b->chain_roots)
           && ngx_http_acme_same_str(&a->profile, &b->profile)
           && ngx_http_acme_same_str(&a->renew_window, &b->renew_window)
           && ngx_http_acme_same_str(&a->preferred_chain,
                                     &b->preferred_chain);
}


/* NUL-terminated copies for the core, which copies them in turn */

static const char *
ngx_http_acme_c_string(ngx_conf_t *cf, ngx_str_t *s)
{
    u_char  *p;

    if (s->len == 0) {
        return NULL;
    }

    p = ngx_pnalloc(cf->temp_pool, s->len + 1);
    if (p == NULL) {
        return NULL;
    }

    ngx_memcpy(p, s->data, s->len);
    p[s->len] = '\0';

    return (const char *) p;
}


static ngx_int_t
ngx_http_acme_c_strings(ngx_conf_t *cf, ngx_array_t *a,
    const char *const **out, size_t *n)
{
    ngx_str_t    *s;
    ngx_uint_t    i;
    const char  **v;

    *out = NULL;
    *n = 0;

    if (a == NULL || a->nelts == 0) {
        return NGX_OK;
    }

    v = ngx_pcalloc(cf->temp_pool, a->nelts * sizeof(char *));
    if (v == NULL) {
        return NGX_ERROR;
    }

    s = a->elts;

    for (i = 0; i < a->nelts; i++) {
        v[i] = ngx_http_acme_c_string(cf, &s[i]);
        if (v[i] == NULL) {
            return NGX_ERROR;
        }
    }

    *out = v;
    *n = a->nelts;

    return NGX_OK;
}


static ngx_int_t
ngx_http_acme_names(ngx_conf_t *cf, ngx_http_core_srv_conf_t *cscf,
    ngx_http_acme_srv_conf_t *ascf, ngx_array_t *names)
{
    u_char                  *p;
    ngx_str_t               *name;
    ngx_uint_t               i;
    ngx_http_server_name_t  *sn;

    if (ascf->domains) {
        name = ascf->domains->elts;

        for (i = 0; i < ascf->domains->nelts; i++) {
            if (ngx_array_push(names) == NULL) {
                return NGX_ERROR;
            }

            ((ngx_str_t *) names->elts)[names->nelts - 1] = name[i];
        }

        return NGX_OK;
    }

    sn = cscf->server_names.elts;

    for (i = 0; i < cscf->server_names.nelts; i++) {

#if (NGX_PCRE)
        if (sn[i].regex) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "acme: the regular expression server name \"~%V\" "
                          "cannot be a certificate name; list the names "
                          "with \"acme_domains\" for \"acme on\" in %s:%ui",
                          &sn[i].name, ascf->file, ascf->line);
            return NGX_ERROR;
        }
#endif

        if (sn[i].name.len == 0) {
            continue;
        }

        if (sn[i].name.data[sn[i].name.len - 1] == '*') {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "acme: the server name \"%V\" with a trailing "
                          "wildcard cannot be a certificate name; list the "
                          "names with \"acme_domains\" for \"acme on\" in "
                          "%s:%ui", &sn[i].name, ascf->file, ascf->line);
            return NGX_ERROR;
        }

        if (sn[i].name.data[0] == '.') {

            /* ".example.org" is "example.org" and "*.example.org" */

            name = ngx_array_push_n(names, 2);
            if (name == NULL) {
                return NGX_ERROR;
            }

            name[0].data = sn[i].name.data + 1;
            name[0].len = sn[i].name.len - 1;

            p = ngx_pnalloc(cf->pool, sn[i].name.len + 1);
            if (p == NULL) {
                return NGX_ERROR;
            }

            name[1].data = p;
            *p++ = '*';
            ngx_memcpy(p, sn[i].name.data, sn[i].name.len);
            name[1].len = sn[i].name.len + 1;

            continue;
        }

        name = ngx_array_push(names);
        if (name == NULL) {
            return NGX_ERROR;
        }

        *name = sn[i].name;
    }

    if (names->nelts == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "acme: no names for the certificate: set "
                      "\"server_name\" or \"acme_domains\" for \"acme on\" "
                      "in %s:%ui", ascf->file, ascf->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The startup bundle of each key type as "data:" strings (nginx 1.22 loads
 * static certificates and keys from "data:" too): the text comes from the
 * core's cache, which acme_ctx_prepare() filled, so the master never opens a
 * path in the store, where the worker user could have put a symlink to some
 * root-only file or a FIFO.
 *
 * The certificate string holds the chain and the key string the key; each
 * starts with a label and a NUL: "data:acme certificate NAME (TYPE)\0\n-----
 * BEGIN...".  nginx shows a certificate by its string with "%s" (stapling
 * warnings, load errors), which stops at the NUL, so it shows the label and
 * never the key; OpenSSL reads the text by length and skips the label line
 * as it skips any text before a PEM block.  The key's copy is wiped when the
 * cycle's pool goes away.
 */

static ngx_int_t
ngx_http_acme_push_certificates(ngx_conf_t *cf,
    ngx_http_core_srv_conf_t *cscf, ngx_http_acme_srv_conf_t *ascf)
{
    char                     *pem;
    size_t                    i, n, len, klen, label;
    u_char                   *p;
    ngx_str_t                *cert, *key, *wipe, type;
    acme_error               *err;
    ngx_pool_cleanup_t       *cln;
    ngx_http_ssl_srv_conf_t  *sscf;

    static char  begin[] = "-----BEGIN CERTIFICATE-----";

    sscf = cscf->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

    if (sscf->certificates != NGX_CONF_UNSET_PTR
        || sscf->certificate_keys != NGX_CONF_UNSET_PTR)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "acme: \"ssl_certificate\" and \"ssl_certificate_key\" "
                      "cannot be set in a server with \"acme on\" in %s:%ui "
                      "(the module manages its certificate)",
                      ascf->file, ascf->line);
        return NGX_ERROR;
    }

    n = acme_cert_key_count(ascf->cert);

    sscf->certificates = ngx_array_create(cf->pool, n, sizeof(ngx_str_t));
    if (sscf->certificates == NULL) {
        return NGX_ERROR;
    }

    sscf->certificate_keys = ngx_array_create(cf->pool, n, sizeof(ngx_str_t));
    if (sscf->certificate_keys == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {

        if (ascf->key_types && i < ascf->key_types->nelts) {
            type = ((ngx_str_t *) ascf->key_types->elts)[i];

        } else {
            ngx_str_set(&type, "ecdsa-p256");
        }

        err = NULL;
        pem = NULL;
        len = 0;

        if (acme_cert_pem(ascf->cert, i, &pem, &len, NULL, &err) != ACME_OK) {
            ngx_http_acme_conf_error(cf, ascf->file, ascf->line,
                                     "startup certificate", err);
            return NGX_ERROR;
        }

        /* the core's bundle: the private key, then the leaf and the chain */

        p = ngx_strnstr((u_char *) pem, begin, len);
        klen = p ? (size_t) (p - (u_char *) pem) : 0;

        cert = ngx_array_push(sscf->certificates);
        key = ngx_array_push(sscf->certificate_keys);

        cln = ngx_pool_cleanup_add(cf->pool, sizeof(ngx_str_t));

        if (klen == 0 || cert == NULL || key == NULL || cln == NULL) {
            goto failed;
        }

        label = sizeof("data:acme private key  ()") - 1
                + ngx_strlen(acme_cert_name(ascf->cert)) + type.len
                + sizeof("\n");

        cert->data = ngx_pnalloc(cf->pool, label + len - klen + 1);
        key->data = ngx_pnalloc(cf->pool, label + klen + 1);

        if (cert->data == NULL || key->data == NULL) {
            goto failed;
        }

        p = ngx_sprintf(cert->data, "data:acme certificate %s (%V)%Z\n",
                        acme_cert_name(ascf->cert), &type);
        p = ngx_cpymem(p, pem + klen, len - klen);
        cert->len = p - cert->data;
        *p = '\0';

        p = ngx_sprintf(key->data, "data:acme private key %s (%V)%Z\n",
                        acme_cert_name(ascf->cert), &type);
        p = ngx_cpymem(p, pem, klen);
        key->len = p - key->data;
        *p = '\0';

        wipe = cln->data;
        *wipe = *key;
        cln->handler = ngx_http_acme_wipe;

        ngx_explicit_memzero(pem, len);
        acme_free(pem);
    }

    return NGX_OK;

failed:

    if (klen == 0) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "acme: the startup certificate of \"%s\" has no "
                      "private key or no certificate, for \"acme on\" in "
                      "%s:%ui", acme_cert_name(ascf->cert),
                      ascf->file, ascf->line);
    }

    ngx_explicit_memzero(pem, len);
    acme_free(pem);

    return NGX_ERROR;
}


static void
ngx_http_acme_wipe(void *data)
{
    ngx_str_t  *s = data;

    if (s->data) {
        ngx_explicit_memzero(s->data, s->len);
    }
}


static void
ngx_http_acme_conf_error(ngx_conf_t *cf, u_char *file, ngx_uint_t line,
    const char *what, acme_error *err)
{
    const char  *msg;

    msg = err ? acme_error_message(err) : "out of memory";

    if (ngx_strncmp(msg, "acme: ", 6) == 0) {
        msg += 6;
    }

    if (what) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "acme: %s: %s in %s:%ui",
                      what, msg, file, line);

    } else {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0, "acme: %s in %s:%ui",
                      msg, file, line);
    }

    acme_error_free(err);
}


static void
ngx_http_acme_cleanup(void *data)
{
    ngx_http_acme_main_conf_t  *amcf = data;

    acme_ctx_destroy(amcf->ctx);
    amcf->ctx = NULL;
}


static ngx_int_t
ngx_http_acme_postconfiguration(ngx_conf_t *cf)
{
    ngx_uint_t                   s;
    ngx_http_handler_pt         *h;
    ngx_http_ssl_srv_conf_t     *sscf;
    ngx_http_acme_srv_conf_t    *ascf;
    ngx_http_acme_main_conf_t   *amcf;
    ngx_http_core_srv_conf_t   **managed;
    ngx_http_core_main_conf_t   *cmcf;

    amcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_acme_module);

    if (amcf->ctx == NULL) {
        return NGX_OK;
    }

    managed = amcf->servers.elts;

    for (s = 0; s < amcf->servers.nelts; s++) {
        ascf = managed[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];
        sscf = managed[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

        if (sscf->ssl.ctx == NULL) {
            continue;
        }

        SSL_CTX_set_cert_cb(sscf->ssl.ctx, acme_ssl_cert_cb, ascf->cert);

        /*
         * "ssl_stapling on": nginx looks staples up on the certificates it
         * loaded itself; the core staples the ones it swaps in
         */

        (void) acme_ssl_ctx_staple(sscf->ssl.ctx, ascf->cert);

        if (ascf->tls_alpn01) {
            SSL_CTX_set_alpn_select_cb(sscf->ssl.ctx,
                                       ngx_http_acme_alpn_select, amcf->ctx);
        }
    }

    if (ngx_http_acme_hello_callbacks(cf, amcf) != NGX_OK) {
        return NGX_ERROR;
    }

    /* http-01: on every server, before rewrites and "return" */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_acme_http01_handler;

    return NGX_OK;
}


/*
 * tls-alpn-01: the core's ClientHello callback marks a validation handshake
 * before SNI switches to the virtual server's SSL_CTX and before the
 * certificate callback runs (TLS 1.2 runs that before ALPN); OpenSSL calls it
 * on the SSL_CTX the connection starts with, the default server's of the
 * address, so it goes on every SSL_CTX of every server that listens on a port
 * where a tls-alpn-01 server listens.  It costs an extension lookup per
 * handshake and changes nothing unless "acme-tls/1" is offered for a name
 * with a pending challenge.
 */

static ngx_int_t
ngx_http_acme_hello_callbacks(ngx_conf_t *cf, ngx_http_acme_main_conf_t *amcf)
{
    ngx_uint_t                  p, a, s, found;
    ngx_http_conf_port_t       *port;
    ngx_http_conf_addr_t       *addr;
    ngx_http_ssl_srv_conf_t    *sscf;
    ngx_http_acme_srv_conf_t   *ascf;
    ngx_http_core_srv_conf_t  **cscfp;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    if (cmcf->ports == NULL) {
        return NGX_OK;
    }

    port = cmcf->ports->elts;

    for (p = 0; p < cmcf->ports->nelts; p++) {

        found = 0;
        addr = port[p].addrs.elts;

        for (a = 0; a < port[p].addrs.nelts && !found; a++) {
            cscfp = addr[a].servers.elts;

            for (s = 0; s < addr[a].servers.nelts; s++) {
                ascf = cscfp[s]->ctx->srv_conf[ngx_http_acme_module.ctx_index];

                if (ascf->enable == 1 && ascf->cert && ascf->tls_alpn01) {
                    found = 1;
                    break;
                }
            }
        }

        if (!found) {
            continue;
        }

        for (a = 0; a < port[p].addrs.nelts; a++) {
            cscfp = addr[a].servers.elts;

            for (s = 0; s < addr[a].servers.nelts; s++) {
                sscf = cscfp[s]->ctx->srv_conf[ngx_http_ssl_module.ctx_index];

                if (sscf->ssl.ctx) {
                    SSL_CTX_set_client_hello_cb(sscf->ssl.ctx,
                                                acme_ssl_client_hello_cb,
                                                amcf->ctx);
                }
            }
        }
    }

    return NGX_OK;
}


/*
 * logging: the core calls this from any thread, the driver's included.
 * nginx's log writers (files reopened on USR1, syslog, memory buffers) belong
 * to the event loop, so a line from another thread is queued (bounded; lines
 * that do not fit are counted) and written by ngx_http_acme_log_drain() from
 * the event loop.
 */

static void
ngx_http_acme_log(void *baton, acme_log_level level, const char *message)
{
    size_t                     len;
    ngx_uint_t                 nlevel;
    ngx_http_acme_log_line_t  *line;

    switch (level) {

    case ACME_LOG_ERROR:
        nlevel = NGX_LOG_ERR;
        break;

    case ACME_LOG_WARN:
        nlevel = NGX_LOG_WARN;
        break;

    case ACME_LOG_NOTICE:
        nlevel = NGX_LOG_NOTICE;
        break;

    case ACME_LOG_INFO:
        nlevel = NGX_LOG_INFO;
        break;

    default:
        nlevel = NGX_LOG_DEBUG;
        break;
    }

    if (pthread_equal(pthread_self(), ngx_http_acme_loop_thread)) {
        ngx_log_error(nlevel, ngx_cycle->log, 0, "%s", message);
        return;
    }

    len = ngx_strlen(message);

    (void) pthread_mutex_lock(&ngx_http_acme_log_mutex);

    if (ngx_http_acme_log_count == NGX_HTTP_ACME_LOG_QUEUE) {
        ngx_http_acme_log_dropped++;
        (void) pthread_mutex_unlock(&ngx_http_acme_log_mutex);
        return;
    }

    line = &ngx_http_acme_log_queue[(ngx_http_acme_log_head
                                     + ngx_http_acme_log_count)
                                    % NGX_HTTP_ACME_LOG_QUEUE];

    if (ngx_http_acme_log_count++ == 0 && ngx_http_acme_notify_fd[1] != -1) {

        /* a full pipe has woken the loop up already */

        if (write(ngx_http_acme_notify_fd[1], "", 1) != 1) {
            /* void */
        }
    }

    line->level = nlevel;

    if (len < NGX_HTTP_ACME_LOG_LINE) {
        line->len = len;
        ngx_memcpy(line->text, message, len);

    } else {
        line->len = NGX_HTTP_ACME_LOG_LINE;
        ngx_memcpy(line->text, message, NGX_HTTP_ACME_LOG_LINE - 3);
        ngx_memcpy(line->text + NGX_HTTP_ACME_LOG_LINE - 3, "...", 3);
    }

    (void) pthread_mutex_unlock(&ngx_http_acme_log_mutex);
}


/*
 * In the event loop, before the driver starts: the pipe through which a
 * thread that queued a line wakes the event loop up (process-wide, like the
 * queue; a connection of its own, outside the cycle's connections).
 */

static ngx_int_t
ngx_http_acme_notify_init(ngx_cycle_t *cycle)
{
    int                fd[2];
    ngx_connection_t  *c;

    if (ngx_http_acme_notify_fd[0] != -1) {
        return NGX_OK;
    }

    if (ngx_event_flags & NGX_USE_FD_EVENT) {
        /*
         * poll and /dev/poll find the connection of a ready descriptor in
         * the cycle's table, where this one is not: no pipe, the timer
         * drains the queue once a second
         */
        return NGX_OK;
    }

    c = &ngx_http_acme_notify_conn;

    if (pipe(fd) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "acme: pipe() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(fd[0]) == -1
        || ngx_nonblocking(fd[1]) == -1
        || fcntl(fd[0], F_SETFD, FD_CLOEXEC) == -1
        || fcntl(fd[1], F_SETFD, FD_CLOEXEC) == -1)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "acme: setting up the log pipe failed");
        goto failed;
    }

    c->fd = fd[0];
    c->read = &ngx_http_acme_notify_rev;
    c->write = &ngx_http_acme_notify_wev;
    c->log = cycle->log;

    ngx_http_acme_notify_rev.data = c;
    ngx_http_acme_notify_rev.log = cycle->log;
    ngx_http_acme_notify_rev.handler = ngx_http_acme_notify_handler;

    ngx_http_acme_notify_wev.data = c;
    ngx_http_acme_notify_wev.log = cycle->log;

    if (ngx_add_event(&ngx_http_acme_notify_rev, NGX_READ_EVENT, 0)
        != NGX_OK)
    {
        goto failed;
    }

    (void) pthread_mutex_lock(&ngx_http_acme_log_mutex);
    ngx_http_acme_notify_fd[0] = fd[0];
    ngx_http_acme_notify_fd[1] = fd[1];
    (void) pthread_mutex_unlock(&ngx_http_acme_log_mutex);

    return NGX_OK;

failed:

    (void) close(fd[0]);
    (void) close(fd[1]);
    c->fd = (ngx_socket_t) -1;

    return NGX_ERROR;
}


static void
ngx_http_acme_notify_handler(ngx_event_t *ev)
{
    u_char  buf[64];

    while (read(ngx_http_acme_notify_fd[0], buf, sizeof(buf)) > 0) {
        /* void */
    }

    ngx_http_acme_log_drain();
}


/* in the event loop: writes the queued lines */

static void
ngx_http_acme_log_drain(void)
{
    ngx_uint_t                n, dropped;
    ngx_http_acme_log_line_t  line;

    for (n = 0; /* void */; n++) {
        (void) pthread_mutex_lock(&ngx_http_acme_log_mutex);

        if (ngx_http_acme_log_count == 0 || n == NGX_HTTP_ACME_LOG_QUEUE) {
            dropped = ngx_http_acme_log_dropped;
            ngx_http_acme_log_dropped = 0;
            (void) pthread_mutex_unlock(&ngx_http_acme_log_mutex);
            break;
        }

        line = ngx_http_acme_log_queue[ngx_http_acme_log_head];
        ngx_http_acme_log_head = (ngx_http_acme_log_head + 1)
                                 % NGX_HTTP_ACME_LOG_QUEUE;
        ngx_http_acme_log_count--;

        (void) pthread_mutex_unlock(&ngx_http_acme_log_mutex);

        ngx_log_error(line.level, ngx_cycle->log, 0, "%*s",
                      line.len, line.text);
    }

    if (dropped) {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "acme: %ui log lines of the ACME driver were dropped "
                      "(more than %d waiting)", dropped,
                      NGX_HTTP_ACME_LOG_QUEUE);
    }
}


static acme_log_level
ngx_http_acme_log_level(ngx_log_t *log)
{
    ngx_uint_t  level;

    level = log->log_level;

    /* the most verbose of the error logs */

    for (log = log->next; log; log = log->next) {
        if (log->log_level > level) {
            level = log->log_level;
        }
    }

    if (level >= NGX_LOG_DEBUG) {
        return ACME_LOG_DEBUG;
    }

    if (level >= NGX_LOG_INFO) {
        return ACME_LOG_INFO;
    }

    if (level >= NGX_LOG_NOTICE) {
        return ACME_LOG_NOTICE;
    }

    if (level >= NGX_LOG_WARN) {
        return ACME_LOG_WARN;
    }

    return ACME_LOG_ERROR;
}


/* the worker user when nginx runs as root and it is known, else -1 */

static long
ngx_http_acme_user(ngx_core_conf_t *ccf, long *gid)
{
    *gid = -1;

    if (geteuid() != 0 || ccf->user == (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        return -1;
    }

    *gid = (long) ccf->group;

    return (long) ccf->user;
}


/*
 * The store belongs to the worker user, and the directory above it to root:
 * a worker user that owns (or may write) the directory above the store can
 * replace the store with anything, and the master (root) prepares the store
 * at every start and reload.  Said at startup and reload; nothing is changed.
 */

static void
ngx_http_acme_check_store(ngx_log_t *log, ngx_str_t *store, long uid)
{
    u_char           *parent, *p;
    ngx_file_info_t   fi;

    if (lstat((const char *) store->data, &fi) == -1) {

        /* "nginx -t" creates nothing: a new store is made at start */

        if (!ngx_test_config || ngx_errno != NGX_ENOENT) {
            ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                          "acme: lstat(\"%V\") failed", store);
            return;
        }

    } else if (S_ISLNK(fi.st_mode)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "acme: the store \"%V\" is a symbolic link; make it a "
                      "directory (the master, running as root, prepares it "
                      "at every start and reload)", store);

    } else if ((long) fi.st_uid != uid) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "acme: the store \"%V\" is owned by uid %l, not by the "
                      "worker user (uid %l)", store, (long) fi.st_uid, uid);
    }

    parent = ngx_alloc(store->len + 1, log);
    if (parent == NULL) {
        return;
    }

    ngx_memcpy(parent, store->data, store->len + 1);

    for (p = parent + store->len; p > parent && *(p - 1) == '/'; p--) {
        *(p - 1) = '\0';
    }

    while (p > parent && *(p - 1) != '/') {
        p--;
    }

    if (p == parent) {
        ngx_free(parent);
        return;
    }

    *(p == parent + 1 ? p : p - 1) = '\0';

    if (lstat((const char *) parent, &fi) == -1) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno,
                      "acme: lstat(\"%s\") failed", parent);

    } else if (fi.st_uid != 0) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "acme: the directory \"%s\" above the store \"%V\" is "
                      "owned by uid %l, not root: that user can replace the "
                      "store, which the master (root) prepares at every start "
                      "and reload; keep the store in a directory of root's",
                      parent, store, (long) fi.st_uid);

    } else if ((fi.st_mode & (S_IWGRP|S_IWOTH)) && !(fi.st_mode & S_ISVTX)) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "acme: the directory \"%s\" above the store \"%V\" is "
                      "writable by others than root: they can replace the "
                      "store, which the master (root) prepares at every start "
                      "and reload", parent, store);
    }

    ngx_free(parent);
}


/* processes */

static ngx_http_acme_main_conf_t *
ngx_http_acme_cycle_conf(ngx_cycle_t *cycle)
{
    ngx_http_acme_main_conf_t  *amcf;

    if (cycle->conf_ctx == NULL
        || cycle->conf_ctx[ngx_http_module.index] == NULL)
    {
        return NULL;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_acme_module);

    if (amcf == NULL || amcf->ctx == NULL) {
        return NULL;
    }

    return amcf;
}


/*
 * In the master (or "nginx -t"), after the configuration is final: the store
 * is handed to the worker user, who does all ACME work (init_main_conf did
 * it already unless the "user" directive came after http{}).
 *
 * With "master_process off", init_process does not run again after a reload:
 * the old configuration's driver is stopped and the new one started here.
 */

static ngx_int_t
ngx_http_acme_init_module(ngx_cycle_t *cycle)
{
    long                        uid, gid;
    ngx_uint_t                  level;
    acme_error                 *err;
    ngx_core_conf_t            *ccf;
    ngx_http_acme_main_conf_t  *amcf, *old;

    amcf = ngx_http_acme_cycle_conf(cycle);

    if (ngx_process == NGX_PROCESS_SINGLE
        && !ngx_test_config
        && !ngx_is_init_cycle(ngx_cycle))
    {
        old = ngx_http_acme_cycle_conf((ngx_cycle_t *) ngx_cycle);

        if (old) {
            ngx_http_acme_stop(old);
        }
    }

    if (amcf == NULL) {
        return NGX_OK;
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cycle->conf_ctx, ngx_core_module);

    uid = ngx_http_acme_user(ccf, &gid);

    if (uid != amcf->uid || gid != amcf->gid) {

        err = NULL;

        if (acme_ctx_prepare(amcf->ctx, uid, gid, &err) != ACME_OK) {

            /* fatal at startup; a reload cannot fail here (nginx exits) */

            level = ngx_is_init_cycle(ngx_cycle) ? NGX_LOG_EMERG
                                                 : NGX_LOG_ALERT;

            ngx_log_error(level, cycle->log, 0,
                          "acme: handing the store \"%V\" to user \"%s\" "
                          "(uid %l): %s%s", &amcf->store,
                          ccf->username ? ccf->username : "?", uid,
                          acme_error_message(err),
                          ngx_is_init_cycle(ngx_cycle)
                          ? "" : "; certificates are not obtained or renewed "
                                 "until this is fixed");
            acme_error_free(err);

            if (ngx_is_init_cycle(ngx_cycle)) {
                return NGX_ERROR;
            }

            return NGX_OK;
        }

        amcf->uid = uid;
        amcf->gid = gid;
    }

    if (uid >= 0) {
        ngx_http_acme_check_store(cycle->log, &amcf->store, uid);
    }

    if (ngx_process == NGX_PROCESS_SINGLE
        && !ngx_test_config
        && !ngx_is_init_cycle(ngx_cycle))
    {
        ngx_http_acme_start(cycle, amcf);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_acme_init_process(ngx_cycle_t *cycle)
{
    ngx_http_acme_main_conf_t  *amcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    amcf = ngx_http_acme_cycle_conf(cycle);

    if (amcf == NULL) {
        return NGX_OK;
    }

    ngx_http_acme_start(cycle, amcf);

    return NGX_OK;
}


static void
ngx_http_acme_start(ngx_cycle_t *cycle, ngx_http_acme_main_conf_t *amcf)
{
    int          rc;
    sigset_t     set, old;
    acme_error  *err;

    ngx_http_acme_loop_thread = pthread_self();

    acme_log_set(ngx_http_acme_log, NULL,
                 ngx_http_acme_log_level(cycle->log));

    if (amcf->started) {
        return;
    }

    if (geteuid() == 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "acme: this process runs as root (\"user root\" or "
                      "\"master_process off\"), and ACME never does: "
                      "certificates are not obtained or renewed (set the "
                      "\"user\" directive to an unprivileged user)");
        return;
    }

    /* without it, the driver's lines wait for the timer */

    (void) ngx_http_acme_notify_init(cycle);

    /*
     * the driver thread (and the threads it starts) inherit a mask that
     * blocks every signal, so that signals keep reaching the event loop
     */

    sigfillset(&set);

    rc = pthread_sigmask(SIG_SETMASK, &set, &old);
    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, rc,
                      "acme: pthread_sigmask() failed");
        return;
    }

    err = NULL;

    if (acme_ctx_start(amcf->ctx, &err) != ACME_OK) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "acme: starting the driver: %s",
                      acme_error_message(err));
        acme_error_free(err);

    } else {
        amcf->started = 1;
    }

    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (!amcf->started) {
        return;
    }

    /*
     * writes what the driver logged and notices a graceful shutdown; does
     * not keep the worker alive
     */

    amcf->timer.handler = ngx_http_acme_timer_handler;
    amcf->timer.data = amcf;
    amcf->timer.log = cycle->log;
    amcf->timer.cancelable = 1;

    ngx_add_timer(&amcf->timer, NGX_HTTP_ACME_TIMER);
}


/*
 * Stops the driver of a configuration and waits for it: at process exit, and
 * for the old configuration of a reload with "master_process off".
 */

static void
ngx_http_acme_stop(ngx_http_acme_main_conf_t *amcf)
{
    if (amcf->timer.timer_set) {
        ngx_del_timer(&amcf->timer);
    }

    if (amcf->started) {
        if (amcf->stopping) {
            (void) pthread_join(amcf->stopper, NULL);

        } else {
            acme_ctx_stop(amcf->ctx);
        }
    }

    amcf->started = 0;
    amcf->stopping = 0;

    ngx_http_acme_log_drain();
}


/*
 * Once a second: writes the lines the driver logged, and notices a graceful
 * shutdown.  A worker that shuts down gracefully may keep serving open
 * connections for a long time; the driver role moves on at once, to a worker
 * of the current configuration.  Stopping joins the driver (an order in
 * flight finishes its current request), so it happens on a thread of its
 * own, not in the event loop.
 */

static void
ngx_http_acme_timer_handler(ngx_event_t *ev)
{
    int                         rc;
    sigset_t                    set, old;
    ngx_http_acme_main_conf_t  *amcf;

    amcf = ev->data;

    ngx_http_acme_log_drain();

    ngx_add_timer(ev, NGX_HTTP_ACME_TIMER);

    if (amcf->stopping || (!ngx_exiting && !ngx_quit && !ngx_terminate)) {
        return;
    }

    sigfillset(&set);
    (void) pthread_sigmask(SIG_SETMASK, &set, &old);

    rc = pthread_create(&amcf->stopper, NULL, ngx_http_acme_stopper, amcf);

    (void) pthread_sigmask(SIG_SETMASK, &old, NULL);

    if (rc != 0) {
        ngx_log_error(NGX_LOG_ALERT, ev->log, rc,
                      "acme: pthread_create() failed");
        return;
    }

    amcf->stopping = 1;
}


static void *
ngx_http_acme_stopper(void *data)
{
    ngx_http_acme_main_conf_t  *amcf = data;

    acme_ctx_stop(amcf->ctx);

    return NULL;
}


static void
ngx_http_acme_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_acme_main_conf_t  *amcf;

    amcf = ngx_http_acme_cycle_conf(cycle);

    if (amcf == NULL) {
        return;
    }

    ngx_http_acme_stop(amcf);
}


/* http-01 */

static ngx_int_t
ngx_http_acme_http01_handler(ngx_http_request_t *r)
{
    char                       *ka;
    size_t                      len;
    u_char                     *body;
    ngx_int_t                   rc;
    ngx_str_t                   type;
    acme_status                 st;
    ngx_http_acme_main_conf_t  *amcf;

    if (r->uri.len <= sizeof(NGX_HTTP_ACME_CHALLENGE_PATH) - 1
        || r->uri.len > sizeof(NGX_HTTP_ACME_CHALLENGE_PATH) - 1
                        + NGX_HTTP_ACME_MAX_TOKEN
        || ngx_strncmp(r->uri.data, NGX_HTTP_ACME_CHALLENGE_PATH,
                       sizeof(NGX_HTTP_ACME_CHALLENGE_PATH) - 1) != 0)
    {
        return NGX_DECLINED;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)) || r != r->main) {
        return NGX_DECLINED;
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_acme_module);

    if (amcf->ctx == NULL) {
        return NGX_DECLINED;
    }

    ka = NULL;
    len = 0;

    st = acme_http01_lookup(amcf->ctx,
                 (const char *) r->uri.data
                                + sizeof(NGX_HTTP_ACME_CHALLENGE_PATH) - 1,
                 r->uri.len - (sizeof(NGX_HTTP_ACME_CHALLENGE_PATH) - 1),
                 &ka, &len, NULL);

    if (st != ACME_OK) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "acme: http-01 token not answered: %s",
                       acme_status_name(st));
        return NGX_DECLINED;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        acme_free(ka);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    ngx_memcpy(body, ka, len);
    acme_free(ka);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "acme: answered an http-01 challenge");

    ngx_str_set(&type, "text/plain");

    rc = ngx_http_acme_send(r, &type, body, len);

    /* the response is complete: no further phases */

    ngx_http_finalize_request(r, rc);

    return NGX_DONE;
}


/* tls-alpn-01 */

static int
ngx_http_acme_alpn_select(ngx_ssl_conn_t *ssl_conn, const unsigned char **out,
    unsigned char *outlen, const unsigned char *in, unsigned int inlen,
    void *arg)
{
    acme_ctx                *ctx = arg;

    const char              *name;
    unsigned int             i, srvlen;
    unsigned char           *srv;
#if (NGX_HTTP_V2)
    ngx_connection_t        *c;
    ngx_http_connection_t   *hc;
#endif

    for (i = 0; i < inlen; i += in[i] + 1) {

        if (in[i] != sizeof(NGX_HTTP_ACME_ALPN_PROTO) - 1
            || i + 1 + in[i] > inlen
            || ngx_memcmp(&in[i + 1], NGX_HTTP_ACME_ALPN_PROTO,
                          sizeof(NGX_HTTP_ACME_ALPN_PROTO) - 1) != 0)
        {
            continue;
        }

        /*
         * 1 for a handshake the ClientHello callback marked, or one with a
         * challenge pending for the SNI name
         */

        name = SSL_get_servername(ssl_conn, TLSEXT_NAMETYPE_host_name);

        if (acme_tls_alpn01_select(ctx, ssl_conn, name)) {
            *out = &in[i + 1];
            *outlen = in[i];
            return SSL_TLSEXT_ERR_OK;
        }

        break;
    }

    /* what ngx_http_ssl_alpn_select() does */

#if (NGX_HTTP_V2)
    c = ngx_ssl_get_connection(ssl_conn);
    hc = c->data;

    if (hc->addr_conf->http2) {
        srv = (unsigned char *) NGX_HTTP_ACME_V2_ALPN_PROTO
                                NGX_HTTP_ACME_ALPN_PROTOS;
        srvlen = sizeof(NGX_HTTP_ACME_V2_ALPN_PROTO
                        NGX_HTTP_ACME_ALPN_PROTOS) - 1;
    } else
#endif
    {
        srv = (unsigned char *) NGX_HTTP_ACME_ALPN_PROTOS;
        srvlen = sizeof(NGX_HTTP_ACME_ALPN_PROTOS) - 1;
    }

    if (SSL_select_next_proto((unsigned char **) out, outlen, srv, srvlen,
                              in, inlen)
        != OPENSSL_NPN_NEGOTIATED)
    {
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    }

    return SSL_TLSEXT_ERR_OK;
}


/* acme_status */

static ngx_int_t
ngx_http_acme_status_handler(ngx_http_request_t *r)
{
    char                       *out;
    size_t                      len;
    u_char                     *body;
    ngx_str_t                   type, format;
    acme_error                 *err;
    acme_status_format          fmt;
    ngx_http_acme_main_conf_t  *amcf;

    static u_char  empty[] = "{\n  \"version\": 1,\n"
                             "  \"certificates\": []\n}\n";

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    fmt = ACME_FORMAT_JSON;
    ngx_str_set(&type, "application/json");

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            fmt = ACME_FORMAT_PROMETHEUS;
            ngx_str_set(&type, "text/plain; version=0.0.4; charset=utf-8");

        } else if (format.len != 4
                   || ngx_strncmp(format.data, "json", 4) != 0)
        {
            return NGX_HTTP_BAD_REQUEST;
        }
    }

    amcf = ngx_http_get_module_main_conf(r, ngx_http_acme_module);

    if (amcf->ctx == NULL) {
        if (fmt == ACME_FORMAT_PROMETHEUS) {
            return ngx_http_acme_send(r, &type, NULL, 0);
        }

        return ngx_http_acme_send(r, &type, empty, sizeof(empty) - 1);
    }

    out = NULL;
    len = 0;
    err = NULL;

    if (acme_ctx_status(amcf->ctx, fmt, 0, &out, &len, &err) != ACME_OK) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "acme: status: %s", acme_error_message(err));
        acme_error_free(err);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        acme_free(out);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body, out, len);
    acme_free(out);

    return ngx_http_acme_send(r, &type, body, len);
}


static ngx_int_t
ngx_http_acme_send(ngx_http_request_t *r, ngx_str_t *type, u_char *body,
    size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = len;
    r->headers_out.content_type_len = type->len;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = len ? 1 : 0;
    b->last_buf = 1;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
