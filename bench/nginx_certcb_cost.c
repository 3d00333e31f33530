/*
 * nginx_certcb_cost.c: the cost of the work `acme on` adds to a TLS handshake, i.e. one call of
 * the certificate callback the nginx module installs (acme_ssl_cert_cb), measured in isolation:
 * SSL_new + SSL_free with and without the callback, on an SSL_CTX loaded with the same bundle a
 * static ssl_certificate would use. Complements nginx_handshake.py, whose end-to-end ratios are
 * noisy on a busy machine: a full handshake costs some hundreds of microseconds, so a callback of
 * a few microseconds bounds the ratio from below.
 *
 *   cc -O2 -I common/include bench/nginx_certcb_cost.c build/lib/libacme_core.a \
 *      -lcurl -ljansson -lssl -lcrypto -lstdc++ -lpthread -o /tmp/nginx_certcb_cost
 *   /tmp/nginx_certcb_cost [KEY-TYPE] [ITERATIONS]
 *
 * Uses a throw-away store in /tmp (a self-signed fallback certificate; the callback does the same
 * work for an issued one, with a longer chain to reference).
 */

#include <acme/acme.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int
fail(const char *what, acme_error *err)
{
    fprintf(stderr, "nginx_certcb_cost: %s: %s\n", what,
            err ? acme_error_message(err) : "failed");
    acme_error_free(err);
    return 1;
}

int
main(int argc, char **argv)
{
    int                  i, n, rounds;
    char                 store[64], *path;
    double               t0, t1, t2, base, with;
    SSL                 *ssl;
    SSL_CTX             *sctx;
    acme_ctx            *ctx;
    acme_cert           *cert;
    acme_error          *err;
    acme_ctx_options     opts;
    acme_cert_config     cfg;
    const char          *domains[] = { "bench.example.org" };
    const char          *cas[] = { "https://127.0.0.1:1/dir" };
    const char          *key_types[1];

    key_types[0] = argc > 1 ? argv[1] : "ecdsa-p256";
    n = argc > 2 ? atoi(argv[2]) : 200000;

    snprintf(store, sizeof(store), "/tmp/nginx-certcb-cost-%d", (int) getpid());

    memset(&opts, 0, sizeof(opts));
    opts.struct_size = sizeof(opts);
    opts.store_dir = store;

    err = NULL;
    if (acme_ctx_create(&opts, &ctx, &err) != ACME_OK) {
        return fail("store", err);
    }

    memset(&cfg, 0, sizeof(cfg));
    cfg.struct_size = sizeof(cfg);
    cfg.domains = domains;
    cfg.n_domains = 1;
    cfg.key_types = key_types;
    cfg.n_key_types = 1;
    cfg.account.struct_size = sizeof(cfg.account);
    cfg.account.ca_urls = cas;
    cfg.account.n_ca_urls = 1;

    if (acme_ctx_add_cert(ctx, &cfg, &cert, &err) != ACME_OK) {
        return fail("configuration", err);
    }

    if (acme_ctx_prepare(ctx, -1, -1, &err) != ACME_OK) {
        return fail("prepare", err);
    }

    if (acme_cert_files(cert, 0, &path, NULL, &err) != ACME_OK) {
        return fail("files", err);
    }

    sctx = SSL_CTX_new(TLS_server_method());
    if (sctx == NULL
        || SSL_CTX_use_certificate_chain_file(sctx, path) != 1
        || SSL_CTX_use_PrivateKey_file(sctx, path, SSL_FILETYPE_PEM) != 1)
    {
        return fail("SSL_CTX", NULL);
    }

    base = with = 1e9;

    for (rounds = 0; rounds < 5; rounds++) {
        t0 = now();
        for (i = 0; i < n; i++) {
            ssl = SSL_new(sctx);
            SSL_free(ssl);
        }

        t1 = now();
        for (i = 0; i < n; i++) {
            ssl = SSL_new(sctx);
            if (acme_ssl_cert_cb(ssl, cert) != 1) {
                return fail("acme_ssl_cert_cb", NULL);
            }
            SSL_free(ssl);
        }

        t2 = now();

        if ((t1 - t0) / n < base) {
            base = (t1 - t0) / n;
        }

        if ((t2 - t1) / n < with) {
            with = (t2 - t1) / n;
        }
    }

    printf("%s: SSL_new+SSL_free %.2f us, with acme_ssl_cert_cb %.2f us: the callback costs "
           "%.2f us per handshake (best of 5 x %d)\n", key_types[0], base * 1e6, with * 1e6,
           (with - base) * 1e6, n);

    acme_free(path);
    SSL_CTX_free(sctx);
    acme_ctx_destroy(ctx);

    return 0;
}
