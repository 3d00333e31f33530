#!/usr/bin/env python3
"""Full-handshake throughput of httpd with `ACME On` against a static `SSLCertificateFile`
with the same key and chain, on one httpd, in one run, as a ratio.

    bench/apache_handshake.py [--rounds 6] [--seconds 4] [--clients 2] [--tls 1.3|1.2]
                              [--key-type ecdsa-p256] [--mpm event|prefork]

Needs the build tree (ACME_BUILD_DIR, default <source>/build) with modules/mod_acme.so, and the
Debian packages of the integration tests (apache2, pebble, openssl). Runs as root (children run
as nobody), everything on 127.0.0.1.

How: pebble issues a real certificate (leaf + intermediate) to an `ACME On` host; its bundle
(key + chain, one file) is copied for a static host on a second port (`SSLCertificateFile` =
that copy). One httpd (event MPM, one child process; pinned to CPU 0 when there are two or more
CPUs) serves both. `openssl s_time -new` clients (pinned to the other CPUs) make full handshakes
against each host in turn, in alternating rounds (ACME first in odd rounds, static first in even
ones). Two figures per host and round:

  capacity  handshakes per CPU second of the httpd child (all its threads, from
            /proc/<pid>/task/*/schedstat): what the server sustains whether or not the clients
            were the bottleneck. The headline ratio.
  wall      handshakes per wall-clock second seen by the clients.

Ratios are medians of the per-round ratios (ACME / static of the same round). Nothing is
asserted; the figures go to bench/README-apache.md.

Then (unless --no-micro) bench/apache_certcb_micro.c, built here against the core archive,
measures the same comparison without httpd and without the network: server-side CPU time of
in-process handshakes over memory BIOs, with and without the certificate callback, on the bundle
pebble just issued. On a busy machine this is the steadier figure.
"""

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))

import harness  # noqa: E402
from test_399_httpd_fixture import Httpd  # noqa: E402

NAME = "bench.example.org"

ONE_CHILD = {
    "event": """
StartServers 1
ServerLimit 1
ThreadsPerChild 8
ThreadLimit 8
MinSpareThreads 1
MaxSpareThreads 8
MaxRequestWorkers 8
""",
    "prefork": """
StartServers 4
MinSpareServers 4
MaxSpareServers 4
ServerLimit 4
MaxRequestWorkers 4
""",
}


def process_cpu_ns(pids):
    """CPU time (ns) of every thread of the given processes."""
    total = 0
    for pid in pids:
        for path in glob.glob("/proc/%d/task/*/schedstat" % pid):
            try:
                with open(path) as f:
                    total += int(f.read().split()[0])
            except (OSError, ValueError):
                pass
    return total


def s_time(port, seconds, tls, cpus):
    argv = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
            "-time", str(seconds), "-tls" + tls.replace(".", "_")]
    if cpus:
        argv = ["taskset", "-c", cpus] + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def connections(output):
    m = re.search(r"(\d+) connections in ([\d.]+)s;", output)
    if not m:
        raise harness.HarnessError("cannot parse s_time output:\n" + output)
    return int(m.group(1))


def run_variant(port, children, args, client_cpus):
    cpu0 = process_cpu_ns(children)
    start = time.monotonic()
    procs = [s_time(port, args.seconds, args.tls, client_cpus) for _ in range(args.clients)]
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=args.seconds * 10 + 60)
        total += connections(out.decode(errors="replace"))
    wall = time.monotonic() - start
    cpu = (process_cpu_ns(children) - cpu0) / 1e9
    return {"n": total, "wall": total / wall, "capacity": total / cpu if cpu > 0 else 0.0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--clients", type=int, default=2)
    ap.add_argument("--tls", default="1.3", choices=["1.2", "1.3"])
    ap.add_argument("--key-type", default="ecdsa-p256")
    ap.add_argument("--mpm", default="event", choices=sorted(ONE_CHILD))
    ap.add_argument("--no-micro", action="store_true", help="skip the in-process measurement")
    ap.add_argument("--micro-rounds", type=int, default=10)
    ap.add_argument("--micro-handshakes", type=int, default=2000)
    args = ap.parse_args()

    ncpu = os.cpu_count() or 1
    server_cpus = "0" if ncpu >= 2 else None
    client_cpus = "1-%d" % (ncpu - 1) if ncpu >= 2 else None

    with harness.Workspace(prefix="acmebench-apache-") as ws:
        os.chmod(ws.path, 0o755)
        httpd = Httpd(ws, mpm=args.mpm)
        static_port = harness.free_port()
        pebble = harness.Pebble(ws, http_port=httpd.http_port, tls_port=httpd.https_port,
                                env={"PEBBLE_WFE_NONCEREJECT": "0"})
        pebble.start()
        os.chmod(ws.ca.dir, 0o755)
        managed = httpd.managed_vhost(NAME, extra="    ACMEKeyType %s" % args.key_type)
        base = dict(loglevel="warn", mpm_settings=ONE_CHILD[args.mpm])

        # 1. Obtain the certificate.
        httpd.write_config(httpd.base_config(**base) + httpd.acme_globals(pebble) +
                           httpd.http_vhost() + managed)
        httpd.start()
        root = pebble.issued_root_file()
        harness.wait_until(lambda: harness.verify_chain(
            httpd.chain(NAME, check=False).certs, root, hostname=NAME), 60, interval=0.2,
            what="the pebble certificate")
        httpd.stop()
        bundle = os.path.join(httpd.store_dir, "certs", NAME, "%s.pem" % args.key_type)
        static_file = os.path.join(httpd.dir, "conf", "static.pem")
        shutil.copyfile(bundle, static_file)
        os.chmod(static_file, 0o600)

        # 2. Both hosts in one httpd, one child, pinned.
        static = """
<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    SSLEngine on
    SSLCertificateFile {file}
</VirtualHost>
""".format(port=static_port, name=NAME, file=static_file)
        httpd.write_config(httpd.base_config(
            listen=[httpd.http_port, httpd.https_port, static_port], **base) +
            httpd.acme_globals(pebble) + httpd.http_vhost() + managed + static)
        argv = httpd.argv("-DFOREGROUND")
        if server_cpus:
            argv = ["taskset", "-c", server_cpus] + argv
        httpd.proc = ws.start("httpd-bench", argv)
        for port in (httpd.https_port, static_port):
            harness.wait_for_port(port, proc=httpd.proc, timeout=30)
        httpd.wait_for_error_log(r"resuming normal operations")
        # The same certificate on both ports.
        a = harness.presented_chain("127.0.0.1", httpd.https_port, server_name=NAME)
        b = harness.presented_chain("127.0.0.1", static_port, server_name=NAME)
        if a.certs != b.certs:
            raise harness.HarnessError("the two hosts present different chains")
        harness.verify_chain(a.certs, root, hostname=NAME).check()
        time.sleep(1)
        children = httpd.children()

        ratios_cap, ratios_wall, rows = [], [], []
        for r in range(args.rounds):
            order = [("acme", httpd.https_port), ("static", static_port)]
            if r % 2:
                order.reverse()
            res = {}
            for name, port in order:
                res[name] = run_variant(port, children, args, client_cpus)
            rc = res["acme"]["capacity"] / res["static"]["capacity"]
            rw = res["acme"]["wall"] / res["static"]["wall"]
            ratios_cap.append(rc)
            ratios_wall.append(rw)
            rows.append((r + 1, res, rc, rw))
            print("round %d: acme %6.0f/s cpu %6.0f/s wall | static %6.0f/s cpu %6.0f/s wall | "
                  "ratio capacity %.3f wall %.3f" % (
                      r + 1, res["acme"]["capacity"], res["acme"]["wall"],
                      res["static"]["capacity"], res["static"]["wall"], rc, rw), flush=True)
        httpd.stop()
        pebble.stop()
        micro = None if args.no_micro else run_micro(ws, httpd.store_dir, args)

    print("\nhttpd %s MPM, TLS %s, %s, %d rounds x %d s x %d clients (server CPU %s, clients %s)"
          % (args.mpm, args.tls, args.key_type, args.rounds, args.seconds, args.clients,
             server_cpus or "any", client_cpus or "any"))
    print("ACME On / static SSLCertificateFile, median of per-round ratios:")
    print("  capacity (handshakes per server CPU second): %.3f  (min %.3f, max %.3f)" % (
        statistics.median(ratios_cap), min(ratios_cap), max(ratios_cap)))
    print("  wall (handshakes per second at the clients):  %.3f  (min %.3f, max %.3f)" % (
        statistics.median(ratios_wall), min(ratios_wall), max(ratios_wall)))
    if micro:
        print("in-process (no httpd, no network): " + micro)
    return 0


def run_micro(ws, store_dir, args):
    """Builds and runs bench/apache_certcb_micro.c; returns its summary line."""
    src = os.path.join(HERE, "apache_certcb_micro.c")
    exe = os.path.join(ws.path, "apache_certcb_micro")
    lib = os.path.join(harness.build_dir(), "lib", "libacme_core.a")
    include = os.path.join(os.path.dirname(HERE), "common", "include")
    harness.run(["cc", "-O2", "-Wall", "-o", exe, src, "-I", include, lib, "-lssl", "-lcrypto",
                 "-lcurl", "-ljansson", "-lstdc++", "-lpthread"], timeout=300)
    store = os.path.join(ws.path, "micro-store")
    shutil.copytree(store_dir, store)
    argv = [exe, store, NAME, str(args.micro_rounds), str(args.micro_handshakes), args.tls]
    if os.cpu_count() and os.cpu_count() >= 2:
        argv = ["taskset", "-c", "0"] + argv
    out = harness.run(argv, timeout=3600).stdout.decode()
    sys.stdout.write(out)
    return out.strip().splitlines()[-1]


if __name__ == "__main__":
    sys.exit(main())
