"""310: every conf-examples/apache/*.conf passes `apache2 -t` (with its ports, paths and files
rewritten to the test's), and basic.conf, pointed at pebble, really obtains its certificate."""

import glob
import os
import re
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase, module_path

EXAMPLES_DIR = os.path.join(harness.source_dir(), "conf-examples", "apache")
MODULES = ["http2", "alias", "rewrite", "authz_host", "dir"]


def examples():
    return sorted(glob.glob(os.path.join(EXAMPLES_DIR, "*.conf")))


class TestConfExamples(HttpdTestCase):

    def rewrite(self, httpd, text, pebble=None, add_store=True):
        """The example with the test's ports, module, store, files (and CA, for pebble)."""
        htdocs = os.path.join(httpd.dir, "htdocs")
        cert, key = self.ws.ca.issue("legacy", dns=("legacy.example.org",), ips=())
        subst = [
            ("*:80>", "127.0.0.1:%d>" % httpd.http_port),
            ("*:443>", "127.0.0.1:%d>" % httpd.https_port),
            ("/usr/lib/apache2/modules/mod_acme.so", module_path()),
            ("/var/lib/apache2/acme", httpd.store_dir),
            ("/usr/local/bin/acme-dns-hook", harness.dns_hook_path()),
            ("/etc/ssl/certs/ssl-cert-snakeoil.pem", cert),
            ("/etc/ssl/private/ssl-cert-snakeoil.key", key),
        ]
        for old, new in subst:
            text = text.replace(old, new)
        text = re.sub(r"DocumentRoot /var/www/\S*", "DocumentRoot %s" % htdocs, text)
        if add_store and "ACMEStoreDir" not in text:
            text = "ACMEStoreDir %s\n" % httpd.store_dir + text
        if pebble is not None:
            text = re.sub(r"^ACMECertificateAuthority .*$",
                          "ACMECertificateAuthority %s\nACMECARoot %s\nACMEChainRoots %s" % (
                              pebble.directory_url, pebble.ca_root, pebble.chain_roots), text,
                          flags=re.M)
        return text

    def write(self, httpd, example, pebble=None):
        with open(example) as f:
            text = self.rewrite(httpd, f.read(), pebble)
        included = os.path.join(httpd.dir, "conf", os.path.basename(example))
        with open(included, "w") as f:
            f.write(text)
        httpd.write_config(httpd.base_config(modules=MODULES) + "Include %s\n" % included)
        return included

    def test_examples_exist(self):
        names = [os.path.basename(p) for p in examples()]
        for expected in ("basic.conf", "dual-key.conf", "tls-alpn01.conf",
                         "wildcard-dns01.conf", "several-sites-status.conf"):
            self.assertIn(expected, names)

    def test_every_example_passes_configtest(self):
        for example in examples():
            with self.subTest(example=os.path.basename(example)):
                httpd = self.httpd(name="httpd-" + os.path.basename(example)[:-5])
                self.write(httpd, example)
                rc, out = httpd.configtest()
                self.assertEqual(rc, 0, "%s:\n%s" % (example, out))
                self.assertIn("Syntax OK", out)
                self.assertNotIn("ACME0", out)
                self.assertFalse(os.path.exists(httpd.store_dir))

    def test_examples_are_checked_for_real(self):
        # The rewriting keeps the ACME settings: a broken value in an example must fail.
        httpd = self.httpd()
        included = self.write(httpd, os.path.join(EXAMPLES_DIR, "dual-key.conf"))
        with open(included) as f:
            text = f.read()
        with open(included, "w") as f:
            f.write(text.replace("ACMEKeyType ecdsa-p256 rsa-3072", "ACMEKeyType rsa-3072 rsa-4096"))
        rc, out = httpd.configtest()
        self.assertNotEqual(rc, 0)
        self.assertIn("one ECDSA and one RSA", out)

    def test_debian_mods_available_snippets(self):
        # apache-module/acme.load + acme.conf as a2enmod would include them.
        httpd = self.httpd()
        parts = []
        for name in ("acme.load", "acme.conf"):
            with open(os.path.join(harness.source_dir(), "apache-module", name)) as f:
                parts.append(self.rewrite(httpd, f.read(), add_store=False))
        httpd.write_config(httpd.base_config(modules=MODULES).replace(
            "LoadModule acme_module %s\n" % module_path(), "") + "".join(parts) +
            "ACMECertificateAuthority https://ca.example/dir\n" +
            httpd.managed_vhost("example.org"))
        rc, out = httpd.configtest()
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)

    def test_basic_example_obtains_certificate(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        self.write(httpd, os.path.join(EXAMPLES_DIR, "basic.conf"), pebble)
        httpd.start()
        tls = self.wait_for_pebble_cert(httpd, pebble, "www.example.org")
        self.assert_verifies(tls, pebble, "example.org")
        r = httpd.get("/", server_name="example.org", https=False)
        self.assertEqual(r.status, 301)
        self.assertEqual(r.headers.get("Location"), "https://example.org/")


if __name__ == "__main__":
    unittest.main()
