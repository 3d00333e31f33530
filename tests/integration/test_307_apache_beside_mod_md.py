"""307: mod_acme loads beside mod_md (Debian's libapache2-mod-md) with no symbol clash, mod_md's
directives still parse, and both work in one server against pebble: each answers its own
http-01 challenges (mod_acme declines tokens it does not know). The contrast the project exists
for: mod_acme's host serves its certificate at once, mod_md's only after a graceful restart."""

import os
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase, MODULE_DIR, module_path

MOD_MD = os.path.join(MODULE_DIR, "mod_md.so")


def dynamic_symbols(path, defined=True):
    flag = "--defined-only" if defined else "--undefined-only"
    out = harness.run(["nm", "-D", flag, path]).stdout.decode()
    return {line.split()[-1].split("@")[0] for line in out.splitlines() if line.strip()}


class TestBesideModMd(HttpdTestCase):

    def setUp(self):
        super().setUp()
        if not os.path.exists(MOD_MD):
            self.skipTest("mod_md is not installed")

    def test_no_symbol_clash(self):
        ours = dynamic_symbols(module_path())
        theirs = dynamic_symbols(MOD_MD)
        self.assertEqual(ours, {"acme_module"})
        self.assertEqual(ours & theirs, set())
        # Nothing of ours starts with md_ and nothing we need comes from mod_md.
        self.assertFalse([s for s in ours if s.startswith("md_")])
        self.assertFalse(dynamic_symbols(module_path(), defined=False) & theirs)

    def config(self, httpd, pebble):
        md_store = os.path.join(httpd.dir, "md")
        return (httpd.base_config(modules=["md"]) + httpd.acme_globals(pebble) + """
MDCertificateAuthority {dir}
MDCACertificateFile {root}
MDCertificateAgreement accepted
MDContactEmail md-admin@example.org
MDStoreDir {md_store}
MDPortMap http:{http} https:{https}
MDRenewMode always
MDomain md.example.org
""".format(dir=pebble.directory_url, root=pebble.ca_root, md_store=md_store,
           http=httpd.http_port, https=httpd.https_port) +
            httpd.http_vhost() + httpd.managed_vhost("acme.example.org") + """
<VirtualHost 127.0.0.1:{port}>
    ServerName md.example.org
    SSLEngine on
</VirtualHost>
""".format(port=httpd.https_port))

    def test_both_modules_in_one_server(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        httpd.write_config(self.config(httpd, pebble))
        rc, out = httpd.configtest()
        self.assertEqual(rc, 0, out)
        # mod_md's directives are known (a typo in one of them would not be).
        with open(httpd.conf_file, "a") as f:
            f.write("MDNoSuchDirective on\n")
        rc, out = httpd.configtest()
        self.assertNotEqual(rc, 0)
        self.assertIn("MDNoSuchDirective", out)
        httpd.write_config(self.config(httpd, pebble))

        httpd.start()
        modules = harness.run(httpd.argv("-M")).stdout.decode()
        self.assertIn("acme_module", modules)
        self.assertIn("md_module", modules)
        # Ours: served without restart.
        tls = self.wait_for_pebble_cert(httpd, pebble, "acme.example.org")
        self.assert_verifies(tls, pebble, "acme.example.org")
        # mod_md: obtains its certificate too (its own http-01 answers), but stages it.
        httpd.wait_for_error_log(r"md\.example\.org.*(activated on next|graceful)", timeout=60)
        md_before = httpd.chain("md.example.org")
        self.assertFalse(harness.verify_chain(md_before.certs, pebble.issued_root_file(),
                                              hostname="md.example.org"))
        log = httpd.error_log_text()
        self.assertIn("answering the http-01 challenge", log)  # ours, for acme.example.org
        self.assertNotRegex(log, r"answering the http-01 challenge \S+ for md\.example\.org")
        # After the graceful restart mod_md serves its certificate, ours is unchanged.
        fp = harness.cert_info(tls.leaf)["fingerprint_sha256"]
        httpd.graceful()
        md_after = self.wait_for_pebble_cert(httpd, pebble, "md.example.org")
        self.assert_verifies(md_after, pebble, "md.example.org")
        self.assertEqual(harness.cert_info(httpd.chain("acme.example.org").leaf)
                         ["fingerprint_sha256"], fp)


if __name__ == "__main__":
    unittest.main()
