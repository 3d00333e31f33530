#!/usr/bin/env python3
"""Full-handshake throughput of nginx with `acme on` against a static `ssl_certificate` with the
same key and chain, and against the `ssl_certificate $variable` approach, on one nginx, in one
run, as ratios.

    bench/nginx_handshake.py [--rounds 5] [--seconds 3] [--clients 2] [--key-type ecdsa-p256]
                             [--tls 1.3|1.2]

Needs the build tree (ACME_BUILD_DIR, default <source>/build) with the module, and the Debian
packages the integration tests use (nginx, pebble, openssl). Runs as root (nginx workers run as
nobody), everything on 127.0.0.1.

How: pebble issues a real certificate (leaf + intermediate) to an `acme on` server; its bundle is
copied for a static server and for a server whose certificate is a variable. One nginx with one
worker (pinned to CPU 0 when there are two or more) serves the three on three ports; `openssl
s_time -new` clients (pinned to the other CPUs) make full handshakes against each variant in
turn, several alternating rounds. Two figures per variant:

  capacity  handshakes per second of the worker's CPU time (its main thread, from
            /proc/<pid>/task/<pid>/schedstat): what the server can sustain, independent of
            whether the clients or the server were the bottleneck. The headline ratio.
  wall      handshakes per wall-clock second seen by the clients (bounded by the clients when
            they are slower than the server).

Ratios are medians of the per-round ratios against the static server of the same round.
Nothing here is asserted: this prints figures (record them in bench/README.md).
"""

import argparse
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
import nginx_harness  # noqa: E402

NAME = "bench.example.org"


def main_thread_cpu_ns(pid):
    with open("/proc/%d/task/%d/schedstat" % (pid, pid)) as f:
        return int(f.read().split()[0])


def s_time(port, seconds, tls, cpu):
    argv = ["openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
            "-time", str(seconds), "-tls" + tls.replace(".", "_")]
    if cpu is not None:
        argv = ["taskset", "-c", cpu] + argv
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def parse_connections(output):
    m = re.search(r"(\d+) connections in ([\d.]+)s;", output)
    if not m:
        raise harness.HarnessError("cannot parse s_time output:\n" + output)
    return int(m.group(1))


def run_variant(port, worker, args, client_cpus):
    cpu0 = main_thread_cpu_ns(worker)
    start = time.monotonic()
    procs = [s_time(port, args.seconds, args.tls, client_cpus) for _ in range(args.clients)]
    total = 0
    for p in procs:
        out, _ = p.communicate(timeout=args.seconds * 10 + 30)
        total += parse_connections(out.decode(errors="replace"))
    wall = time.monotonic() - start
    cpu = (main_thread_cpu_ns(worker) - cpu0) / 1e9
    return total, wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=3, help="per variant and round")
    ap.add_argument("--clients", type=int, default=2, help="s_time processes at once")
    ap.add_argument("--key-type", default="ecdsa-p256")
    ap.add_argument("--tls", default="1.3", choices=["1.2", "1.3"])
    args = ap.parse_args()

    if not os.path.exists(nginx_harness.module_path()):
        sys.exit("nginx_handshake.py: module not built: %s" % nginx_harness.module_path())
    ncpu = os.cpu_count() or 1
    pin = ncpu >= 2 and shutil.which("taskset")
    client_cpus = "1-%d" % (ncpu - 1) if pin else None

    with harness.Workspace(prefix="acmebench-") as ws:
        nginx_harness._make_traversable(ws.path)
        http_port = harness.free_port()
        ports = {"acme": harness.free_port(), "static": harness.free_port(),
                 "variable": harness.free_port()}
        pebble = ws.start_pebble(http_port=http_port, env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = nginx_harness.Nginx(ws, pebble=pebble, workers=1, error_level="warn")
        common = """
            ssl_protocols TLSv1.2 TLSv1.3;
            ssl_session_cache off;
            ssl_session_tickets off;
            server {
                listen 127.0.0.1:%(http)d;
                server_name %(name)s;
                return 404;
            }
            server {
                listen 127.0.0.1:%(acme)d ssl;
                server_name %(name)s;
                acme_key_type %(kt)s;
                acme on;
            }
        """
        fmt = dict(ports, http=http_port, name=NAME, kt=args.key_type)
        affinity = "worker_cpu_affinity 01;" if pin else ""

        # 1. The certificate, from pebble, through the module.
        ngx.write_config(common % fmt, main_extra=affinity)
        ngx.start(wait_ports=[ports["acme"]])
        nginx_harness.wait_for_issuer(ports["acme"], NAME, pebble.issued_root_file())
        ngx.stop()
        bundle = os.path.join(ngx.store, "certs", NAME, args.key_type + ".pem")
        copy = ws.write("bench/bundle.pem", open(bundle, "rb").read(), mode=0o644)
        os.chmod(os.path.dirname(copy), 0o755)

        # 2. The three variants on one nginx.
        ngx.write_config((common + """
            server {
                listen 127.0.0.1:%(static)d ssl;
                server_name %(name)s;
                ssl_certificate %(bundle)s;
                ssl_certificate_key %(bundle)s;
            }
            map $ssl_server_name $bench_cert {
                default %(bundle)s;
            }
            server {
                listen 127.0.0.1:%(variable)d ssl;
                server_name %(name)s;
                ssl_certificate $bench_cert;
                ssl_certificate_key $bench_cert;
            }
        """) % dict(fmt, bundle=copy), main_extra=affinity)
        ngx.start(wait_ports=list(ports.values()))
        [worker] = ngx.worker_pids()
        leaves = {}
        for v, port in ports.items():
            tls = harness.presented_chain("127.0.0.1", port, server_name=NAME)
            leaves[v] = (tls.leaf, len(tls.certs))
        if len(set(leaves.values())) != 1:
            sys.exit("nginx_handshake.py: the variants do not present the same chain")
        info = harness.cert_info(leaves["acme"][0])

        order = ["static", "acme", "variable"]
        results = {v: [] for v in order}
        for r in range(args.rounds):
            rotated = order[r % 3:] + order[:r % 3]
            for v in rotated:
                results[v].append(run_variant(ports[v], worker, args, client_cpus))
            print("round %d/%d: %s" % (r + 1, args.rounds, "  ".join(
                "%s %d hs/cpu-s" % (v, results[v][-1][0] / results[v][-1][2]) for v in order)),
                file=sys.stderr)
        ngx.stop()

    print("nginx %s, 1 worker%s, %s (%s, chain of %d), TLS %s, full handshakes" % (
        subprocess.run(["nginx", "-v"], stderr=subprocess.PIPE).stderr.decode().strip()
        .split("/")[-1], " pinned to CPU 0" if pin else "", args.key_type, info["issuer"],
        leaves["acme"][1], args.tls))
    print("%d rounds x %d s x %d s_time clients%s, variants alternating" % (
        args.rounds, args.seconds, args.clients, " on CPUs %s" % client_cpus if pin else ""))
    print()
    print("%-22s %10s %10s %12s %12s %10s %10s" % (
        "variant", "handshakes", "wall hs/s", "CPU us/hs", "capacity/s", "capacity", "wall"))
    print("%-22s %10s %10s %12s %12s %10s %10s" % ("", "", "", "", "", "vs static",
                                                    "vs static"))
    labels = {"static": "static ssl_certificate", "acme": "acme on",
              "variable": "ssl_certificate $var"}
    for v in order:
        n = sum(x[0] for x in results[v])
        wall = sum(x[1] for x in results[v])
        cpu = sum(x[2] for x in results[v])
        cap_ratio = statistics.median(
            (a[0] / a[2]) / (s[0] / s[2]) for a, s in zip(results[v], results["static"]))
        wall_ratio = statistics.median(
            (a[0] / a[1]) / (s[0] / s[1]) for a, s in zip(results[v], results["static"]))
        print("%-22s %10d %10.0f %12.1f %12.0f %10.3f %10.3f" % (
            labels[v], n, n / wall, cpu / n * 1e6, n / cpu, cap_ratio, wall_ratio))
    return 0


if __name__ == "__main__":
    sys.exit(main())
