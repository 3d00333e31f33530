"""conf-examples/nginx/*.conf: every example passes `nginx -t` with the module (paths, ports and
the store rewritten into a temp dir), and the basic example, pointed at pebble, really gets and
serves its certificate."""

import glob
import os
import re

import harness
import nginx_harness

EXAMPLES = os.path.join(harness.source_dir(), "conf-examples", "nginx")


class Rewriter:
    """Makes an example runnable in a workspace directory."""

    def __init__(self, directory, ports=None):
        self.dir = directory
        self.ports = dict(ports or {})
        self.hook = os.path.join(directory, "dns-hook.sh")
        with open(self.hook, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(self.hook, 0o755)

    def port(self, number):
        if number not in self.ports:
            self.ports[number] = harness.free_port()
        return self.ports[number]

    def rewrite(self, text):
        text = text.replace("load_module modules/ngx_http_acme_module.so;",
                            "load_module %s;\npid %s;" % (nginx_harness.module_path(),
                                                         os.path.join(self.dir, "nginx.pid")))

        def listen(m):
            addr, rest = m.group(1), m.group(2)
            if addr.startswith("["):
                return ""  # IPv6 listens: loopback IPv4 only in tests
            port = int(addr.rsplit(":", 1)[-1])
            return "listen 127.0.0.1:%d%s;" % (self.port(port), rest)
        text = re.sub(r"listen\s+(\[::\]:\d+|[\d.]+:\d+|\d+)([^;]*);", listen, text)
        store = os.path.join(self.dir, "store")
        if re.search(r"^\s*acme_store\s", text, re.M):
            text = re.sub(r"acme_store\s+[^;]+;", "acme_store %s;" % store, text)
        else:
            text = text.replace("http {", "http {\n    acme_store %s;" % store, 1)
        text = re.sub(r"acme_dns_hook\s+[^;]+;", "acme_dns_hook %s;" % self.hook, text)
        temps = "".join("\n    %s_temp_path %s;" % (k, os.path.join(self.dir, "tmp", k))
                        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        text = text.replace("http {", "http {" + temps, 1)
        return text


@nginx_harness.require_module
class TestConfExamples(nginx_harness.NginxTestCase):

    def examples(self):
        files = sorted(glob.glob(os.path.join(EXAMPLES, "*.conf")))
        self.assertGreaterEqual(len(files), 5, "examples in %s" % EXAMPLES)
        return files

    def test_every_example_passes_nginx_t(self):
        for path in self.examples():
            name = os.path.basename(path)
            with self.subTest(example=name):
                with open(path) as f:
                    original = f.read()
                self.assertRegex(original, r"\n\s*acme\s+on;")
                self.assertNotRegex(original, r"\n\s*ssl_certificate")
                ngx = nginx_harness.Nginx(self.ws, name="conf-" + name[:-5])
                text = Rewriter(ngx.dir).rewrite(original)
                ngx.write_raw_config(text)
                rc, out = ngx.test_config()
                self.assertEqual(rc, 0, "%s:\n%s\n--- rewritten config ---\n%s" % (
                    name, out, text))
                self.assertIn("test is successful", out)
                # A configuration test writes nothing.
                self.assertFalse(os.path.exists(os.path.join(ngx.dir, "store")))

    def test_basic_example_against_pebble(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        with open(os.path.join(EXAMPLES, "basic.conf")) as f:
            original = f.read()
        ngx = self.nginx(pebble)
        text = Rewriter(ngx.dir, {80: self.http_port, 443: self.https_port}).rewrite(original)
        text = text.replace("https://acme-v02.api.letsencrypt.org/directory",
                            "%s;\n    acme_ca_root %s;\n    acme_chain_roots %s" % (
                                pebble.directory_url, pebble.ca_root, pebble.chain_roots))
        text = text.replace("user www-data;", "user %s %s;" % (
            nginx_harness.WORKER_USER, nginx_harness.WORKER_GROUP))
        self.assertIn(pebble.directory_url, text)
        ngx.write_raw_config(text)
        ngx.start(wait_ports=[self.http_port, self.https_port])
        root = pebble.issued_root_file()
        for name in ("example.org", "www.example.org"):
            tls = nginx_harness.wait_for_issuer(self.https_port, name, root)
            harness.verify_chain(tls.certs, root, hostname=name).check()
        r = harness.http_get("http://127.0.0.1:%d/x" % self.http_port, host_header="example.org")
        self.assertEqual(r.status, 301)
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name="example.org",
                                      alpn=["h2", "http/1.1"])
        self.assertEqual(tls.alpn, "h2")
