#!/usr/bin/env python3
"""The main job, end to end: nginx with `acme on` gets a certificate from a local pebble CA.

Everything runs on 127.0.0.1 on free ports, in a temporary directory:
  1. pebble (Let's Encrypt's test CA) and pebble-challtestsrv (its DNS), from Debian's packages;
  2. Debian's nginx with the module (load_module build/modules/ngx_http_acme_module.so) and a
     server block with `acme on` and no ssl_certificate at all;
  3. a TLS client watching what nginx presents: first the self-signed fallback, then, with no
     reload, the certificate pebble issued. It prints its subject, issuer, expiry, whether the
     chain verifies against pebble's root, how long after nginx came up it appeared, and the
     module's status JSON.

Run it through scripts/demo.sh (which installs and builds first). --keep leaves everything running
until Ctrl-C so that you can look around (the URLs are printed).
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "tests", "integration"))
os.environ.setdefault("ACME_SOURCE_DIR", SOURCE)
os.environ.setdefault("ACME_BUILD_DIR", os.path.join(SOURCE, "build"))

import harness  # noqa: E402

NAME = "demo.example.org"


def nginx_conf(ws, pebble, http_port, https_port, store):
    module = os.path.join(harness.build_dir(), "modules", "ngx_http_acme_module.so")
    return f"""
load_module {module};
user nobody nogroup;
worker_processes 2;
pid {ws.path}/nginx.pid;
error_log {ws.path}/error.log notice;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {ws.path}/tmp/body;
    proxy_temp_path {ws.path}/tmp/proxy;
    fastcgi_temp_path {ws.path}/tmp/fastcgi;
    uwsgi_temp_path {ws.path}/tmp/uwsgi;
    scgi_temp_path {ws.path}/tmp/scgi;

    acme_ca        {pebble.directory_url};
    acme_ca_root   {pebble.ca_root};
    acme_email     admin@example.org;
    acme_agree_tos on;
    acme_store     {store};

    server {{
        listen 127.0.0.1:{http_port};
        listen 127.0.0.1:{https_port} ssl;
        server_name {NAME};
        acme on;                      # no ssl_certificate lines needed

        location / {{ return 200 "hello from nginx with acme on\\n"; }}
        location = /acme-status {{ acme_status; }}
    }}
}}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", action="store_true", help="keep nginx and pebble running")
    args = ap.parse_args()

    module = os.path.join(harness.build_dir(), "modules", "ngx_http_acme_module.so")
    if not os.path.exists(module):
        sys.exit(f"demo: {module} is missing; run scripts/demo.sh (it builds first)")

    with harness.Workspace(prefix="acme-demo-") as ws:
        run(ws, args.keep)


def run(ws, keep):
    http_port, https_port = harness.free_port(), harness.free_port()
    print(f"demo: starting pebble (test CA) on 127.0.0.1, validating http-01 on port {http_port}")
    pebble = ws.start_pebble(http_port=http_port)
    store = os.path.join(ws.path, "store")
    os.makedirs(os.path.join(ws.path, "tmp"), exist_ok=True)
    conf = os.path.join(ws.path, "nginx.conf")
    with open(conf, "w") as f:
        f.write(nginx_conf(ws, pebble, http_port, https_port, store))

    print(f"demo: starting nginx with `acme on` for {NAME} (https on 127.0.0.1:{https_port})")
    ws.start("nginx", ["/usr/sbin/nginx", "-p", ws.path, "-c", conf, "-e",
                       os.path.join(ws.path, "error.log"), "-g", "daemon off;"])
    harness.wait_for_port(https_port, timeout=20)
    up = time.monotonic()

    first = harness.presented_chain("127.0.0.1", https_port, server_name=NAME)
    first_info = harness.cert_info(first.certs[0])
    print(f"demo: nginx is up; it presents at once: {first_info['subject']} "
          f"(issuer {first_info['issuer']})")

    def pebble_issued():
        chain = harness.presented_chain("127.0.0.1", https_port, server_name=NAME)
        info = harness.cert_info(chain.certs[0])
        return (chain, info) if "Pebble" in info["issuer"] else None

    chain, info = harness.wait_until(pebble_issued, timeout=30, interval=0.05,
                                     what="nginx to present a pebble-issued certificate")
    elapsed = time.monotonic() - up
    verdict = harness.verify_chain(chain.certs, pebble.issued_root_file(), NAME)
    print()
    print(f"  served by nginx, no reload: {elapsed:.2f} s after nginx was up")
    print(f"  subject:  {info['subject']}")
    print(f"  issuer:   {info['issuer']}")
    print(f"  expires:  {info['not_after_text']}")
    print(f"  names:    {', '.join(info['dns_names'] + info['ip_addresses'])}")
    print(f"  chain verifies against pebble's root: {'yes' if verdict.ok else 'NO: ' + verdict.output}")
    print()
    status, _, body = harness.http_get(f"https://127.0.0.1:{https_port}/acme-status",
                                       server_name=NAME, host_header=NAME,
                                       ca=pebble.issued_root_file())
    print(f"demo: GET /acme-status -> {status}")
    print(json.dumps(json.loads(body), indent=2))
    if not verdict.ok:
        sys.exit(1)
    if keep:
        print(f"\ndemo: running; try: curl --cacert {pebble.issued_root_file()} "
              f"--resolve {NAME}:{https_port}:127.0.0.1 https://{NAME}:{https_port}/\n"
              "demo: Ctrl-C stops nginx and pebble")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
