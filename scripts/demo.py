#!/usr/bin/env python3
"""Demo: Debian's nginx with ngx_http_acme_module gets a certificate from a local pebble (the ACME
test CA) right after it starts, and serves it without a reload.

    scripts/demo.sh [--keep]     (as root; it runs scripts/setup.sh first, then this script)

Starts pebble + pebble-challtestsrv and nginx (one `acme on` server, no ssl_certificate) on free
127.0.0.1 ports in a temp directory, then shows: what nginx serves right after it started (the
self-signed fallback), the pebble certificate it serves a moment later (chain verified against
pebble's root with `openssl verify`), how long that took from nginx being up, that the master and
workers are the same processes (no reload), and the acme_status JSON. --keep leaves everything
running until Ctrl-C (the URLs are printed) so you can look for yourself.
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
os.environ.setdefault("ACME_SOURCE_DIR", SOURCE)
os.environ.setdefault("ACME_BUILD_DIR", os.path.join(SOURCE, "build"))

import harness  # noqa: E402
import nginx_harness  # noqa: E402

NAME = "demo.example.org"


def show_cert(title, tls, root=None):
    info = harness.cert_info(tls.leaf)
    print("%s:" % title)
    print("    subject  %s" % info["subject"])
    print("    names    %s" % ", ".join(info["dns_names"]))
    print("    issuer   %s" % info["issuer"])
    print("    serial   %s, valid until %s" % (info["serial"], info["not_after_text"]))
    print("    chain    %d certificate(s), %s" % (len(tls.certs), tls.protocol))
    if root:
        v = harness.verify_chain(tls.certs, root, hostname=NAME)
        print("    verify   %s" % v.output.splitlines()[-1])
        return v.ok
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep running until Ctrl-C")
    args = ap.parse_args()
    if not os.path.exists(nginx_harness.module_path()):
        sys.exit("demo.py: build the module first (scripts/demo.sh does); not found: %s" %
                 nginx_harness.module_path())
    if os.geteuid() != 0:
        sys.exit("demo.py: run as root (nginx's workers then run as nobody)")

    with harness.Workspace(prefix="acme-demo-") as ws:
        nginx_harness._make_traversable(ws.path)
        http_port, https_port = harness.free_port(), harness.free_port()
        print("starting pebble (ACME test CA) ...")
        pebble = ws.start_pebble(http_port=http_port, env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = nginx_harness.Nginx(ws, pebble=pebble, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name %(name)s;
                acme on;
                location = /acme-status { acme_status; }
                location / { return 200 "hello from nginx $pid\\n"; }
            }
        """ % {"http": http_port, "https": https_port, "name": NAME})
        print("nginx.conf (http part written by the demo):")
        with open(ngx.conf_path) as f:
            text = f.read()
        print("    " + text[text.index("http {"):].replace("\n", "\n    ").rstrip())
        print("starting nginx ...")
        ngx.start(wait_ports=[https_port])
        up = time.monotonic()
        master, workers = ngx.proc.pid, ngx.worker_pids()
        print("nginx is up: master %d, workers %s" % (master, workers))
        first = harness.presented_chain("127.0.0.1", https_port, server_name=NAME)
        show_cert("\nfirst handshake", first)

        tls = nginx_harness.wait_for_issuer(https_port, NAME, pebble.issued_root_file(),
                                            timeout=30)
        took = time.monotonic() - up
        verified = show_cert("\npresented %.2f s after nginx was up" % took, tls,
                             pebble.issued_root_file())
        same = ngx.proc.pid == master and ngx.worker_pids() == workers
        print("\nno reload, no restart: master and workers unchanged: %s" % same)
        r = harness.http_get("http://127.0.0.1:%d/acme-status" % http_port)
        print("\nGET /acme-status:\n" + r.body.decode())
        print("error.log (acme lines):")
        for line in ngx.error_log_text().splitlines():
            if "acme:" in line and "http-01 challenge" not in line:
                print("    " + line)
        if args.keep:
            print("\nrunning; try:\n    curl --cacert %s --resolve %s:%d:127.0.0.1 https://%s:%d/"
                  "\n    curl http://127.0.0.1:%d/acme-status\nCtrl-C to stop." % (
                      pebble.issued_root_file(), NAME, https_port, NAME, https_port, http_port))
            try:
                while ngx.proc.alive():
                    time.sleep(1)
            except KeyboardInterrupt:
                pass
        ngx.stop()
    if not (verified and same):
        print("demo: FAILED: %s" % ("the chain does not verify against pebble's root"
                                    if not verified else "nginx was restarted"))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
