#!/usr/bin/env python3
"""Soak: nginx and httpd side by side, renewing for a long time, while clients make handshakes.
Does memory stay flat per installed certificate?

    bench/soak.py [--names 1] [--installs 1000] [--sample 100] [--workers 2]

Needs the build tree (ACME_BUILD_DIR, default <source>/build) with both modules and acmectl, and
the Debian packages the integration tests use (nginx, apache2, pebble). Runs as root; everything
on 127.0.0.1.

How: pebble issues to one nginx (`--workers` workers, `acme on`) and one httpd (event MPM,
`ACME On`), each with `--names` managed names and a store of its own (one pebble each: pebble
sends every http-01 validation to one port). Then forced renewals
(`acmectl renew --force` on each server's store, the names in turn, nginx and httpd
alternating) install `--installs` certificates into each server, while a client thread makes TLS
handshakes to every name of both servers without pause and checks each chain against pebble's
root. Every `--sample` installs it records, per server process (nginx workers, httpd children):
RSS, open descriptors and threads. At the end, per process: the growth per install after
warm-up (least-squares slope of RSS over the second half of the samples, in bytes), descriptors
and threads at the start and at the end, and the failed handshakes. Nothing is asserted: this
prints figures for bench/README.md. The goal is <= 1 KiB per install per process, flat
descriptors and threads, no failed handshake.
"""

import argparse
import os
import ssl
import socket
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import harness  # noqa: E402
import nginx_harness  # noqa: E402
from test_399_httpd_fixture import Httpd, _make_traversable  # noqa: E402


def proc_figures(pid):
    rss = threads = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return rss, fds, threads


def slope(points):
    """Least-squares slope of (x, y) points."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class Handshakes(threading.Thread):
    """Handshakes without pause to every (port, name); counts those that fail or do not verify."""

    def __init__(self, targets, root_file):
        super().__init__(daemon=True)
        self.targets = targets
        self.ctx = ssl.create_default_context(cafile=root_file)
        self.done = 0
        self.failed = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            for port, name in self.targets:
                try:
                    with socket.create_connection((harness.LOCALHOST, port), timeout=10) as s:
                        with self.ctx.wrap_socket(s, server_hostname=name):
                            pass
                    self.done += 1
                except (OSError, ssl.SSLError) as e:
                    self.failed.append("%s:%d %s" % (name, port, e))
                if self.stop.is_set():
                    return


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--names", type=int, default=1)
    ap.add_argument("--installs", type=int, default=1000, help="per server")
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    ws = harness.Workspace("soak")
    try:
        os.chmod(ws.path, 0o755)
        ngx_http, ngx_https = harness.free_port(), harness.free_port()
        httpd = Httpd(ws)
        # pebble sends every http-01 validation to one port: one pebble per server.
        pebble_ngx = ws.start_pebble(http_port=ngx_http, env={
            "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "100"})
        pebble_httpd = ws.start_pebble(http_port=httpd.http_port, tls_port=httpd.https_port,
                                       env={"PEBBLE_WFE_NONCEREJECT": "0",
                                            "PEBBLE_AUTHZREUSE": "100"})
        _make_traversable(ws.path, ws.ca.dir)

        names_ngx = ["n%d.soak.example" % i for i in range(args.names)]
        names_httpd = ["h%d.soak.example" % i for i in range(args.names)]
        ngx = nginx_harness.Nginx(ws, pebble=pebble_ngx, workers=args.workers,
                                  error_level="warn")
        ngx.write_config("\n".join("""
            server {
                listen 127.0.0.1:%d;
                listen 127.0.0.1:%d ssl;
                server_name %s;
                acme on;
            }""" % (ngx_http, ngx_https, n) for n in names_ngx))
        httpd.write_config(httpd.base_config(loglevel="warn") +
                           httpd.acme_globals(pebble_httpd) + httpd.http_vhost() +
                           "".join(httpd.managed_vhost(n) for n in names_httpd))
        ngx.start(wait_ports=[ngx_https])
        httpd.start()
        print("waiting for %d certificates per server..." % args.names, flush=True)
        for n in names_ngx:
            nginx_harness.wait_for_issuer(ngx_https, n, pebble_ngx.issued_root_file(),
                                          timeout=600)
        for n in names_httpd:
            harness.wait_until(lambda n=n: harness.verify_chain(
                httpd.chain(n, check=False).certs, pebble_httpd.issued_root_file(), n),
                600, interval=0.2, what="httpd's certificate for " + n)

        roots = ws.write("soak-roots.pem", open(pebble_ngx.issued_root_file()).read() +
                         open(pebble_httpd.issued_root_file()).read())
        clients = Handshakes([(ngx_https, n) for n in names_ngx] +
                             [(httpd.https_port, n) for n in names_httpd], roots)
        clients.start()

        def processes():
            return {"nginx %d" % p: p for p in ngx.worker_pids()} | \
                {"httpd %d" % p: p for p in httpd.children()}

        procs = processes()
        samples = {k: [] for k in procs}
        started = {k: proc_figures(p) for k, p in procs.items()}

        def sample(i):
            for k, p in procs.items():
                rss, fds, threads = proc_figures(p)
                samples[k].append((i, rss, fds, threads))
            print("%6d installs  %s  handshakes %d failed %d" % (
                i, "  ".join("%s %.1f MiB" % (k, s[-1][1] / 1048576.0)
                             for k, s in samples.items()),
                clients.done, len(clients.failed)), flush=True)

        def renew(store, pebble, name):
            harness.run([harness.acmectl_path(), "renew", "--force", "-q", "--store", store,
                         "--ca", pebble.directory_url, "--ca-root", pebble.ca_root,
                         "--chain-roots", pebble.chain_roots, "--agree-tos", "-d", name],
                        timeout=300)

        t0 = time.time()
        sample(0)
        for i in range(1, args.installs + 1):
            renew(ngx.store, pebble_ngx, names_ngx[i % args.names])
            renew(httpd.store_dir, pebble_httpd, names_httpd[i % args.names])
            if i % args.sample == 0:
                sample(i)
        elapsed = time.time() - t0
        time.sleep(2)
        clients.stop.set()
        clients.join(30)
        if processes() != procs:
            print("note: the set of server processes changed during the run")

        print("\n%d names per server, %d installs per server in %.0f s, %d handshakes, "
              "%d failed" % (args.names, args.installs, elapsed, clients.done,
                             len(clients.failed)))
        print("%-14s %12s %12s %14s %10s %12s" % ("process", "RSS start", "RSS end",
                                                 "bytes/install", "fds", "threads"))
        for k, s in samples.items():
            half = [(i, rss) for i, rss, _, _ in s if i >= args.installs // 2]
            print("%-14s %10.1f M %10.1f M %14.0f %5d->%-4d %5d->%-4d" % (
                k, started[k][0] / 1048576.0, s[-1][1] / 1048576.0, slope(half),
                started[k][1], s[-1][2], started[k][2], s[-1][3]))
        for f in clients.failed[:10]:
            print("failed handshake:", f)
    finally:
        ws.close()


if __name__ == "__main__":
    main()
