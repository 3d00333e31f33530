/* The C ABI as a C caller sees it (CMocka): NULL handling, error objects, struct_size, config
 * errors, startup files and the certificate callback, http-01 lookups, status, versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above first */
#include <cmocka.h>

#include <acme/acme.h>
#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[64];

static int setup_dir(void **state) {
    (void)state;
    strcpy(g_dir, "/tmp/acme-capi-test-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    char cmd[128];
    (void)state;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static acme_ctx *new_ctx(void) {
    acme_ctx_options opts;
    acme_ctx *ctx = NULL;
    acme_error *err = NULL;
    char store[128];
    snprintf(store, sizeof store, "%s/store", g_dir);
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.store_dir = store;
    assert_int_equal(acme_ctx_create(&opts, &ctx, &err), ACME_OK);
    assert_null(err);
    assert_non_null(ctx);
    return ctx;
}

static const char *const kCa[] = {"https://127.0.0.1:14000/dir"};

static void init_cert_config(acme_cert_config *cfg, const char *const *domains, size_t n) {
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->domains = domains;
    cfg->n_domains = n;
    cfg->account.struct_size = sizeof cfg->account;
    cfg->account.ca_urls = kCa;
    cfg->account.n_ca_urls = 1;
}

static void expect_invalid(acme_status st, acme_error *err, const char *needle) {
    assert_int_equal(st, ACME_ERR_INVALID);
    assert_non_null(err);
    assert_int_equal(acme_error_status(err), ACME_ERR_INVALID);
    if (!strstr(acme_error_message(err), needle))
        fail_msg("'%s' not in error message '%s'", needle, acme_error_message(err));
    acme_error_free(err);
}

/* Evaluates the call first (C leaves argument evaluation order open), then checks *err. */
#define EXPECT_INVALID(call, needle)              \
    do {                                          \
        acme_status st_ = (call);                 \
        expect_invalid(st_, err, needle);         \
        err = NULL;                               \
    } while (0)

static void test_null_arguments(void **state) {
    acme_ctx_options opts;
    acme_ctx *ctx = NULL;
    acme_error *err = NULL;
    acme_cert_config cfg;
    static const char *const domains[] = {"example.org"};
    char *out = NULL;
    size_t len = 0;
    (void)state;

    EXPECT_INVALID(acme_ctx_create(NULL, &ctx, &err), "opts");
    assert_null(ctx);
    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    err = NULL;
    EXPECT_INVALID(acme_ctx_create(&opts, &ctx, &err), "store_dir");
    err = NULL;
    EXPECT_INVALID(acme_ctx_create(&opts, NULL, &err), "out");
    /* Without an error pointer the status still tells. */
    assert_int_equal(acme_ctx_create(NULL, &ctx, NULL), ACME_ERR_INVALID);

    ctx = new_ctx();
    init_cert_config(&cfg, domains, 1);
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(NULL, &cfg, NULL, &err), "ctx");
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, NULL, NULL, &err), "cfg");
    cfg.domains = NULL;
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err), "domains");
    cfg.domains = domains;
    cfg.account.ca_urls = NULL;
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err), "ca_urls");
    err = NULL;
    EXPECT_INVALID(acme_ctx_prepare(NULL, -1, -1, &err), "ctx");
    err = NULL;
    EXPECT_INVALID(acme_http01_lookup(ctx, NULL, 0, &out, &len, &err), "token");
    err = NULL;
    EXPECT_INVALID(acme_http01_lookup(ctx, "abc", 3, NULL, &len, &err), "key_authz");
    err = NULL;
    EXPECT_INVALID(acme_ctx_status(ctx, ACME_FORMAT_JSON, 0, NULL, &len, &err), "out");
    err = NULL;
    EXPECT_INVALID(acme_cert_files(NULL, 0, &out, NULL, &err), "cert");
    err = NULL;
    EXPECT_INVALID(acme_cert_issue(ctx, NULL, 0, &err), "cert");
    err = NULL;
    EXPECT_INVALID(acme_cert_revoke(ctx, NULL, 0, 0, &err), "cert");
    err = NULL;
    EXPECT_INVALID(acme_account_show(ctx, NULL, 0, &out, &err), "cfg");
    err = NULL;
    EXPECT_INVALID(acme_account_key_rollover(NULL, NULL, NULL, &err), "ctx");
    err = NULL;
    EXPECT_INVALID(acme_tls_alpn01_pem(ctx, NULL, &out, &out, &err), "server_name");
    err = NULL;
    EXPECT_INVALID(acme_ctx_start(NULL, &err), "ctx");
    assert_int_equal(acme_tls_alpn01_select(NULL, NULL, NULL), 0);
    assert_int_equal(acme_ssl_cert_cb(NULL, NULL), 1);
    assert_int_equal(acme_cert_key_count(NULL), 0);
    assert_string_equal(acme_cert_name(NULL), "");
    acme_ctx_destroy(ctx);
}

static void test_destroy_null_is_a_no_op(void **state) {
    (void)state;
    acme_ctx_destroy(NULL);
    acme_ctx_stop(NULL);
    acme_error_free(NULL);
    acme_free(NULL);
}

static void test_error_accessors(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    (void)state;
    /* A well-formed token nobody published. */
    assert_int_equal(acme_http01_lookup(ctx, "abcDEF_-123", 11, &out, &len, &err),
                     ACME_ERR_NOT_FOUND);
    assert_non_null(err);
    assert_int_equal(acme_error_status(err), ACME_ERR_NOT_FOUND);
    assert_non_null(strstr(acme_error_message(err), "token"));
    assert_string_equal(acme_error_problem_type(err), "");
    assert_int_equal(acme_error_is_permanent(err), 0);
    assert_int_equal(acme_error_retry_after(err), 0);
    assert_null(out);
    acme_error_free(err);
    /* Accessors on NULL. */
    assert_int_equal(acme_error_status(NULL), ACME_OK);
    assert_string_equal(acme_error_message(NULL), "");
    assert_string_equal(acme_error_problem_type(NULL), "");
    assert_int_equal(acme_error_is_permanent(NULL), 0);
    assert_int_equal(acme_error_retry_after(NULL), 0);
    /* Success leaves *err untouched. */
    err = (acme_error *)0x1;
    assert_int_equal(acme_ctx_status(ctx, ACME_FORMAT_JSON, 0, &out, &len, &err), ACME_OK);
    assert_ptr_equal(err, (acme_error *)0x1);
    acme_free(out);
    acme_ctx_destroy(ctx);
}

static void test_status_names_and_versions(void **state) {
    (void)state;
    assert_int_equal(acme_abi_version(), ACME_ABI_VERSION);
    assert_non_null(acme_version());
    assert_true(strlen(acme_version()) > 0);
    assert_string_equal(acme_status_name(ACME_OK), "ok");
    assert_string_equal(acme_status_name(ACME_ERR_CA), "ca");
    assert_string_equal(acme_status_name(ACME_ERR_INVALID), "invalid");
    assert_string_equal(acme_status_name((acme_status)99), "unknown");
}

static void test_struct_size_too_small(void **state) {
    acme_ctx_options opts;
    acme_ctx *ctx = NULL;
    acme_error *err = NULL;
    acme_cert_config cfg;
    static const char *const domains[] = {"example.org"};
    (void)state;
    memset(&opts, 0, sizeof opts);
    opts.struct_size = offsetof(acme_ctx_options, lock_retry_ms);
    opts.store_dir = g_dir;
    EXPECT_INVALID(acme_ctx_create(&opts, &ctx, &err), "struct_size");
    assert_null(ctx);
    /* A caller built before config_test was appended: accepted, the field keeps its default. */
    opts.struct_size = offsetof(acme_ctx_options, config_test);
    err = NULL;
    assert_int_equal(acme_ctx_create(&opts, &ctx, &err), ACME_OK);
    acme_ctx_destroy(ctx);
    ctx = NULL;

    ctx = new_ctx();
    init_cert_config(&cfg, domains, 1);
    cfg.struct_size = 8;
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err), "acme_cert_config.struct_size");
    init_cert_config(&cfg, domains, 1);
    cfg.account.struct_size = 0;
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err),
                   "acme_account_config.struct_size");
    acme_ctx_destroy(ctx);
}

static void test_config_error_message(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    acme_cert *cert = NULL;
    acme_cert_config cfg;
    static const char *const domains[] = {"example.org", "*.example.org"};
    static const char *const bad_types[] = {"ecdsa-p521"};
    (void)state;
    init_cert_config(&cfg, domains, 2);
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, &cert, &err), ACME_ERR_INVALID);
    assert_null(cert);
    assert_non_null(err);
    assert_non_null(strstr(acme_error_message(err), "*.example.org"));
    assert_non_null(strstr(acme_error_message(err), "dns-01"));
    assert_int_equal(acme_error_is_permanent(err), 1);
    acme_error_free(err);

    init_cert_config(&cfg, domains, 1);
    cfg.key_types = bad_types;
    cfg.n_key_types = 1;
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err), "ecdsa-p521");
    init_cert_config(&cfg, domains, 1);
    cfg.challenge = "http-02";
    err = NULL;
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, NULL, &err), "http-02");
    acme_ctx_destroy(ctx);
}

/* Each configuration error names the setting it is about, for the server to point at. */
static void test_config_error_field(void **state) {
    static const char *const domains[] = {"example.org"};
    static const char *const wildcard[] = {"*.example.org"};
    static const char *const bad_types[] = {"ecdsa-p521"};
    static const char *const bad_cas[] = {"http://ca.example/dir"};
    static const char *const bad_contacts[] = {"nobody"};
    acme_error *err = NULL;
    acme_cert_config cfg;
    (void)state;
#define EXPECT_FIELD(setup, field)                                                          \
    do {                                                                                    \
        init_cert_config(&cfg, domains, 1);                                                 \
        setup;                                                                              \
        err = NULL;                                                                         \
        assert_int_equal(acme_cert_config_validate(&cfg, NULL, &err), ACME_ERR_INVALID);   \
        assert_string_equal(acme_error_field(err), field);                                  \
        acme_error_free(err);                                                               \
    } while (0)
    EXPECT_FIELD(cfg.renew_window = "soon", "renew_window");
    EXPECT_FIELD((cfg.key_types = bad_types, cfg.n_key_types = 1), "key_types");
    EXPECT_FIELD(cfg.challenge = "http-02", "challenge");
    EXPECT_FIELD(cfg.challenge = "dns-01", "challenge");
    EXPECT_FIELD((cfg.domains = wildcard, cfg.n_domains = 1), "domains");
    EXPECT_FIELD((cfg.account.ca_urls = bad_cas, cfg.account.n_ca_urls = 1), "ca_urls");
    EXPECT_FIELD((cfg.account.contacts = bad_contacts, cfg.account.n_contacts = 1),
                 "contacts");
    EXPECT_FIELD((cfg.account.eab_kid = "k", cfg.account.eab_hmac_key = "not base64!"),
                 "eab_hmac_key");
    EXPECT_FIELD(cfg.account.chain_roots = "/nonexistent/roots.pem", "chain_roots");
    EXPECT_FIELD(cfg.profile = "short lived", "profile");
    EXPECT_FIELD(cfg.dns_propagation_seconds = 7200, "dns_propagation_seconds");
#undef EXPECT_FIELD
    assert_string_equal(acme_error_field(NULL), "");
}

static void test_validate_without_a_context(void **state) {
    acme_error *err = NULL;
    acme_cert_config cfg;
    char *name = NULL;
    struct stat st;
    static const char *const good[] = {"WWW.Example.ORG.", "example.org"};
    static const char *const wildcard[] = {"*.example.org"};
    (void)state;
    init_cert_config(&cfg, good, 2);
    assert_int_equal(acme_cert_config_validate(&cfg, &name, &err), ACME_OK);
    assert_null(err);
    assert_string_equal(name, "www.example.org");
    acme_free(name);
    /* name is optional */
    assert_int_equal(acme_cert_config_validate(&cfg, NULL, &err), ACME_OK);

    init_cert_config(&cfg, wildcard, 1);
    EXPECT_INVALID(acme_cert_config_validate(&cfg, &name, &err), "dns-01");
    EXPECT_INVALID(acme_cert_config_validate(NULL, &name, &err), "cfg");
    /* nothing was written: no store appeared in the test directory */
    char store[128];
    snprintf(store, sizeof store, "%s/store", g_dir);
    assert_int_equal(stat(store, &st), -1);
}

static void test_two_certs_one_store_name(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    acme_cert *a = NULL, *b = NULL;
    acme_cert_config cfg;
    static const char *const first[] = {"example.org"};
    static const char *const second[] = {"Example.ORG.", "www.example.org"};
    (void)state;
    init_cert_config(&cfg, first, 1);
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, &a, &err), ACME_OK);
    assert_non_null(a);
    assert_string_equal(acme_cert_name(a), "example.org");
    init_cert_config(&cfg, second, 2);
    EXPECT_INVALID(acme_ctx_add_cert(ctx, &cfg, &b, &err), "\"example.org\"");
    assert_null(b);
    /* With its own name it is fine. */
    cfg.name = "www";
    err = NULL;
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, &b, &err), ACME_OK);
    assert_string_equal(acme_cert_name(b), "www");
    acme_ctx_destroy(ctx);
}

static X509 *read_cert(const char *path) {
    FILE *f = fopen(path, "r");
    X509 *x;
    assert_non_null(f);
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    return x;
}

static void test_prepare_fallback_and_cert_cb(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    acme_cert *cert = NULL;
    acme_cert_config cfg;
    static const char *const domains[] = {"example.org", "www.example.org"};
    static const char *const types[] = {"ecdsa-p256", "rsa-2048"};
    char *path = NULL;
    int is_fallback = -1;
    struct stat st;
    X509 *file_cert;
    SSL_CTX *sctx;
    SSL *ssl;
    (void)state;
    init_cert_config(&cfg, domains, 2);
    cfg.key_types = types;
    cfg.n_key_types = 2;
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, &cert, &err), ACME_OK);
    assert_int_equal(acme_cert_key_count(cert), 2);
    /* Before prepare there is nothing to hand out... */
    assert_int_equal(acme_ctx_prepare(ctx, -1, -1, &err), ACME_OK);
    assert_null(err);

    assert_int_equal(acme_cert_files(cert, 0, &path, &is_fallback, &err), ACME_OK);
    assert_non_null(path);
    assert_int_equal(is_fallback, 1);
    assert_non_null(strstr(path, "fallback"));
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 077, 0); /* a private key: not readable by others */
    file_cert = read_cert(path);
    assert_non_null(file_cert);
    acme_free(path);
    path = NULL;
    is_fallback = -1;
    assert_int_equal(acme_cert_files(cert, 1, &path, &is_fallback, &err), ACME_OK);
    assert_int_equal(is_fallback, 1);
    acme_free(path);
    err = NULL;
    EXPECT_INVALID(acme_cert_files(cert, 2, &path, NULL, &err), "index");

    sctx = SSL_CTX_new(TLS_server_method());
    ssl = SSL_new(sctx);
    assert_int_equal(acme_ssl_cert_cb(ssl, cert), 1);
    assert_non_null(SSL_get_certificate(ssl));
    assert_non_null(SSL_get_privatekey(ssl));
    /* The ECDSA fallback is among the certificates set. */
    {
        int found = 0, n = 0, r;
        for (r = SSL_set_current_cert(ssl, SSL_CERT_SET_FIRST); r == 1;
             r = SSL_set_current_cert(ssl, SSL_CERT_SET_NEXT)) {
            X509 *x = SSL_get_certificate(ssl);
            if (x) {
                ++n;
                if (X509_cmp(x, file_cert) == 0) found = 1;
            }
        }
        assert_int_equal(n, 2);
        assert_true(found);
    }
    SSL_free(ssl);
    SSL_CTX_free(sctx);
    /* The same bundle as PEM text from the cache: key, then the same leaf. */
    {
        char *pem = NULL;
        size_t len = 0;
        int fb = -1;
        BIO *bio;
        X509 *x;
        EVP_PKEY *k;
        err = NULL;
        assert_int_equal(acme_cert_pem(cert, 0, &pem, &len, &fb, &err), ACME_OK);
        assert_int_equal(fb, 1);
        assert_int_equal(strlen(pem), len);
        assert_non_null(strstr(pem, "PRIVATE KEY"));
        bio = BIO_new_mem_buf(pem, (int)len);
        k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
        assert_non_null(k);
        assert_non_null(x);
        assert_int_equal(X509_check_private_key(x, k), 1);
        assert_int_equal(X509_cmp(x, file_cert), 0); /* the same certificate as the file */
        X509_free(x);
        EVP_PKEY_free(k);
        BIO_free(bio);
        acme_free(pem);
        EXPECT_INVALID(acme_cert_pem(cert, 2, &pem, NULL, NULL, &err), "index");
    }
    X509_free(file_cert);
    /* Nothing pending for tls-alpn-01. */
    {
        char *c = NULL, *k = NULL;
        err = NULL;
        assert_int_equal(acme_tls_alpn01_pem(ctx, "example.org", &c, &k, &err), ACME_ERR_NOT_FOUND);
        acme_error_free(err);
    }
    /* Adding after prepare is refused. */
    err = NULL;
    cfg.name = "late";
    assert_int_not_equal(acme_ctx_add_cert(ctx, &cfg, NULL, &err), ACME_OK);
    acme_error_free(err);
    acme_ctx_destroy(ctx);
}

static void test_http01_lookup(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    char *ka = NULL;
    size_t len = 0;
    char path[256];
    FILE *f;
    static const char token[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0";
    static const char value[] = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.thumbprint";
    (void)state;
    EXPECT_INVALID(acme_http01_lookup(ctx, "../../etc/passwd", 16, &ka, &len, &err),
                   "malformed");
    err = NULL;
    EXPECT_INVALID(acme_http01_lookup(ctx, "a b", 3, &ka, &len, &err), "malformed");
    err = NULL;
    EXPECT_INVALID(acme_http01_lookup(ctx, "", 0, &ka, &len, &err), "malformed");
    err = NULL;
    assert_int_equal(acme_http01_lookup(ctx, token, strlen(token), &ka, &len, &err),
                     ACME_ERR_NOT_FOUND);
    acme_error_free(err);
    /* Published through the store (as the driver's http-01 solver does). */
    snprintf(path, sizeof path, "%s/store/challenges", g_dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/store/challenges/http-01", g_dir);
    mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/store/challenges/http-01/%s", g_dir, token);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs(value, f);
    fclose(f);
    err = NULL;
    /* The token is taken by length, not up to a NUL. */
    {
        char buf[128];
        snprintf(buf, sizeof buf, "%s trailing", token);
        assert_int_equal(acme_http01_lookup(ctx, buf, strlen(token), &ka, &len, &err), ACME_OK);
    }
    assert_null(err);
    assert_non_null(ka);
    assert_int_equal(len, strlen(value));
    assert_string_equal(ka, value);
    acme_free(ka);
    acme_ctx_destroy(ctx);
}

static void test_status_json_of_empty_context(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    char *out = NULL;
    size_t len = 0;
    json_t *j, *certs;
    json_error_t jerr;
    (void)state;
    assert_int_equal(acme_ctx_status(ctx, ACME_FORMAT_JSON, 0, &out, &len, &err), ACME_OK);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    j = json_loads(out, 0, &jerr);
    if (!j) fail_msg("status is not JSON: %s: %s", jerr.text, out);
    assert_int_equal(json_integer_value(json_object_get(j, "version")), 1);
    certs = json_object_get(j, "certificates");
    assert_true(json_is_array(certs));
    assert_int_equal(json_array_size(certs), 0);
    json_decref(j);
    acme_free(out);
    out = NULL;
    assert_int_equal(acme_ctx_status(ctx, ACME_FORMAT_PROMETHEUS, ACME_STATUS_ALL, &out, &len, &err),
                     ACME_OK);
    assert_non_null(out);
    acme_free(out);
    acme_ctx_destroy(ctx);
}

static void test_revoke_reason_checked(void **state) {
    acme_ctx *ctx = new_ctx();
    acme_error *err = NULL;
    acme_cert *cert = NULL;
    acme_cert_config cfg;
    static const char *const domains[] = {"example.org"};
    (void)state;
    init_cert_config(&cfg, domains, 1);
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, &cert, &err), ACME_OK);
    EXPECT_INVALID(acme_cert_revoke(ctx, cert, 7, 0, &err), "7");
    err = NULL;
    EXPECT_INVALID(acme_cert_revoke(ctx, cert, 11, 0, &err), "11");
    acme_ctx_destroy(ctx);
}

struct log_capture {
    int lines;
    int saw_fallback;
};

static void capture(void *baton, acme_log_level level, const char *message) {
    struct log_capture *c = baton;
    (void)level;
    c->lines++;
    if (strstr(message, "fallback") && strstr(message, "log.example")) c->saw_fallback = 1;
}

static void test_log_callback(void **state) {
    struct log_capture cap = {0, 0};
    acme_ctx *ctx;
    acme_cert_config cfg;
    acme_error *err = NULL;
    static const char *const domains[] = {"log.example"};
    (void)state;
    acme_log_set(capture, &cap, ACME_LOG_INFO);
    ctx = new_ctx();
    init_cert_config(&cfg, domains, 1);
    assert_int_equal(acme_ctx_add_cert(ctx, &cfg, NULL, &err), ACME_OK);
    assert_int_equal(acme_ctx_prepare(ctx, -1, -1, &err), ACME_OK);
    acme_ctx_destroy(ctx);
    acme_log_set(NULL, NULL, ACME_LOG_ERROR);
    assert_true(cap.lines > 0);
    assert_true(cap.saw_fallback);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_null_arguments, setup_dir, remove_dir),
        cmocka_unit_test(test_destroy_null_is_a_no_op),
        cmocka_unit_test_setup_teardown(test_error_accessors, setup_dir, remove_dir),
        cmocka_unit_test(test_status_names_and_versions),
        cmocka_unit_test_setup_teardown(test_struct_size_too_small, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_config_error_message, setup_dir, remove_dir),
        cmocka_unit_test(test_config_error_field),
        cmocka_unit_test_setup_teardown(test_validate_without_a_context, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_two_certs_one_store_name, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_prepare_fallback_and_cert_cb, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_http01_lookup, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_status_json_of_empty_context, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_revoke_reason_checked, setup_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_log_callback, setup_dir, remove_dir),
    };
    return cmocka_run_group_tests_name("capi", tests, NULL, NULL);
}
