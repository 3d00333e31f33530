/*
 * apache_certcb_micro.c: the server-side CPU cost of a full TLS handshake with mod_acme's
 * certificate callback (acme_ssl_cert_cb on an SSL_CTX that, as mod_ssl does, also holds the
 * startup bundle) against the same SSL_CTX without it (a static SSLCertificateFile), in one
 * process, over memory BIOs: no network, no httpd, no scheduler noise from other processes
 * (the server's own thread CPU time is measured).
 *
 *   apache_certcb_micro STORE_DIR NAME [ROUNDS] [HANDSHAKES_PER_ROUND] [1.2|1.3]
 *
 * STORE_DIR/certs/NAME/ecdsa-p256.pem must hold the bundle (key + leaf + chain); see
 * bench/apache_handshake.py --micro, which prepares it and builds this file. Prints per-round
 * figures and the median ratio (callback / static) of handshakes per server CPU second.
 */
#include <acme/acme.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double thread_cpu(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
    fprintf(stderr, "apache_certcb_micro: %s\n", what);
    ERR_print_errors_fp(stderr);
    exit(1);
}

/* One full handshake between a fresh client and a fresh server SSL; returns the server's CPU
 * seconds. */
static double handshake(SSL_CTX *server_ctx, SSL_CTX *client_ctx, const char *name)
{
    SSL *c = SSL_new(client_ctx), *s = SSL_new(server_ctx);
    BIO *cb, *sb;
    double spent = 0, t;
    int cdone = 0, sdone = 0, rounds = 0;

    if (!c || !s || !BIO_new_bio_pair(&cb, 0, &sb, 0)) {
        die("SSL_new / BIO pair");
    }
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    SSL_set_tlsext_host_name(c, name);
    while (!(cdone && sdone)) {
        if (++rounds > 100) {
            die("handshake does not finish");
        }
        if (!cdone) {
            int r = SSL_do_handshake(c);
            if (r == 1) {
                cdone = 1;
            }
            else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ) {
                die("client handshake");
            }
        }
        if (!sdone) {
            int r;

            t = thread_cpu();
            r = SSL_do_handshake(s);
            spent += thread_cpu() - t;
            if (r == 1) {
                sdone = 1;
            }
            else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ) {
                die("server handshake");
            }
        }
    }
    SSL_free(c);
    SSL_free(s);
    return spent;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    const char *store, *name, *domains[1], *cas[] = {"https://ca.invalid/directory"};
    int rounds, per_round, i, r, tls13;
    acme_ctx_options opts;
    acme_cert_config cfg;
    acme_ctx *ctx = NULL;
    acme_cert *cert = NULL;
    acme_error *err = NULL;
    char *bundle = NULL;
    SSL_CTX *stat_ctx, *acme_sctx, *client;
    double *ratios;

    if (argc < 3) {
        fprintf(stderr, "usage: %s STORE_DIR NAME [ROUNDS] [HANDSHAKES] [1.2|1.3]\n", argv[0]);
        return 2;
    }
    store = argv[1];
    name = argv[2];
    rounds = argc > 3 ? atoi(argv[3]) : 10;
    per_round = argc > 4 ? atoi(argv[4]) : 2000;
    tls13 = argc > 5 ? strcmp(argv[5], "1.2") != 0 : 1;

    memset(&opts, 0, sizeof(opts));
    opts.struct_size = sizeof(opts);
    opts.store_dir = store;
    memset(&cfg, 0, sizeof(cfg));
    cfg.struct_size = sizeof(cfg);
    domains[0] = name;
    cfg.domains = domains;
    cfg.n_domains = 1;
    cfg.account.struct_size = sizeof(cfg.account);
    cfg.account.ca_urls = cas;
    cfg.account.n_ca_urls = 1;
    if (acme_ctx_create(&opts, &ctx, &err) || acme_ctx_add_cert(ctx, &cfg, &cert, &err) ||
        acme_ctx_prepare(ctx, -1, -1, &err) || acme_cert_files(cert, 0, &bundle, NULL, &err)) {
        fprintf(stderr, "core: %s\n", acme_error_message(err));
        return 1;
    }

    /* Both server contexts load the same bundle (mod_ssl's startup files); one gets the
     * callback, as mod_acme's init_server hook does. */
    stat_ctx = SSL_CTX_new(TLS_server_method());
    acme_sctx = SSL_CTX_new(TLS_server_method());
    client = SSL_CTX_new(TLS_client_method());
    if (!stat_ctx || !acme_sctx || !client) {
        die("SSL_CTX_new");
    }
    for (i = 0; i < 2; ++i) {
        SSL_CTX *sc = i ? acme_sctx : stat_ctx;

        if (SSL_CTX_use_certificate_chain_file(sc, bundle) != 1 ||
            SSL_CTX_use_PrivateKey_file(sc, bundle, SSL_FILETYPE_PEM) != 1) {
            die("loading the bundle");
        }
        SSL_CTX_set_session_cache_mode(sc, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_num_tickets(sc, 0);
    }
    SSL_CTX_set_cert_cb(acme_sctx, acme_ssl_cert_cb, cert);
    if (!tls13) {
        SSL_CTX_set_max_proto_version(client, TLS1_2_VERSION);
    }
    SSL_CTX_set_session_cache_mode(client, SSL_SESS_CACHE_OFF);

    /* Warm-up (first handshakes load the cache, fill OpenSSL's method caches). */
    for (i = 0; i < 200; ++i) {
        handshake(stat_ctx, client, name);
        handshake(acme_sctx, client, name);
    }
    ratios = calloc((size_t)rounds, sizeof(double));
    for (r = 0; r < rounds; ++r) {
        double t_static = 0, t_acme = 0;
        int k;

        /* Interleaved in small blocks so that both variants see the same machine state. */
        for (k = 0; k < per_round; k += 50) {
            for (i = 0; i < 50; ++i) {
                t_acme += handshake(acme_sctx, client, name);
            }
            for (i = 0; i < 50; ++i) {
                t_static += handshake(stat_ctx, client, name);
            }
        }
        ratios[r] = t_static / t_acme; /* throughput ratio = inverse CPU time ratio */
        printf("round %d: static %.1f us, acme %.1f us per server handshake, ratio %.4f\n",
               r + 1, t_static / per_round * 1e6, t_acme / per_round * 1e6, ratios[r]);
    }
    qsort(ratios, (size_t)rounds, sizeof(double), cmp_double);
    printf("TLS %s, %d rounds x %d handshakes per variant: handshakes per server CPU second, "
           "callback / static: median %.4f (min %.4f, max %.4f)\n", tls13 ? "1.3" : "1.2",
           rounds, per_round, ratios[rounds / 2], ratios[0], ratios[rounds - 1]);
    free(ratios);
    acme_free(bundle);
    SSL_CTX_free(stat_ctx);
    SSL_CTX_free(acme_sctx);
    SSL_CTX_free(client);
    acme_ctx_destroy(ctx);
    return 0;
}
