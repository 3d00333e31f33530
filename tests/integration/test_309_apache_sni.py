"""309: SNI with two virtual hosts on one address, one managed (`ACME On`), one with a static
SSLCertificateFile: each name gets its own certificate before and after issuance, over TLS 1.2
and 1.3, whichever host is the default; a client without SNI gets the default host's."""

import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestSni(HttpdTestCase):

    def check(self, managed_first):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        cert, key = self.ws.ca.issue("static", dns=("static.example.org",), ips=())
        static = """
<VirtualHost 127.0.0.1:{port}>
    ServerName static.example.org
    SSLEngine on
    SSLCertificateFile {cert}
    SSLCertificateKeyFile {key}
</VirtualHost>
""".format(port=httpd.https_port, cert=cert, key=key)
        managed = httpd.managed_vhost("managed.example.org")
        vhosts = managed + static if managed_first else static + managed
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() + vhosts)
        httpd.start()
        with open(cert) as f:
            static_fp = harness.cert_info(f.read())["fingerprint_sha256"]

        def check_static():
            for version in ("1.2", "1.3"):
                tls = httpd.chain("static.example.org", tls_version=version)
                self.assertEqual(harness.cert_info(tls.leaf)["fingerprint_sha256"], static_fp)
                harness.verify_chain(tls.certs, self.ws.ca.ca_file,
                                     hostname="static.example.org").check()

        check_static()
        before = harness.cert_info(httpd.chain("managed.example.org").leaf)
        self.assertIn("managed.example.org", before["dns_names"])
        self.assertNotEqual(before["fingerprint_sha256"], static_fp)

        tls = self.wait_for_pebble_cert(httpd, pebble, "managed.example.org")
        managed_fp = harness.cert_info(tls.leaf)["fingerprint_sha256"]
        for version in ("1.2", "1.3"):
            t = httpd.chain("managed.example.org", tls_version=version)
            self.assertEqual(harness.cert_info(t.leaf)["fingerprint_sha256"], managed_fp)
            self.assert_verifies(t, pebble, "managed.example.org")
        check_static()
        # No SNI: the default (first) host of the address.
        none = harness.cert_info(httpd.chain(None).leaf)["fingerprint_sha256"]
        self.assertEqual(none, managed_fp if managed_first else static_fp)
        # An unknown name: also the default host.
        other = harness.cert_info(httpd.chain("other.example.org").leaf)["fingerprint_sha256"]
        self.assertEqual(other, managed_fp if managed_first else static_fp)

    def test_acme_on_wins_over_certificate_file(self):
        # A managed host that still has an (RSA) SSLCertificateFile: only the ACME (ECDSA)
        # certificate is served; an RSA-only client does not get the static one.
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        key = self.ws.file("rsa", "static.key")
        cert = self.ws.file("rsa", "static.pem")
        harness.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                     "-out", cert, "-days", "2", "-subj", "/CN=managed.example.org",
                     "-addext", "subjectAltName=DNS:managed.example.org"])
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() + httpd.managed_vhost(
                               "managed.example.org",
                               extra="    SSLCertificateFile %s\n    SSLCertificateKeyFile %s"
                               % (cert, key)))
        httpd.start()
        self.assertRegex(httpd.error_log_text(),
                         r"ACME01030: .*managed\.example\.org.* are not used")
        tls = self.wait_for_pebble_cert(httpd, pebble, "managed.example.org")
        self.assertEqual(harness.cert_info(tls.leaf)["key_type"], "ec")
        rsa_only = httpd.chain("managed.example.org", sigalgs="RSA-PSS+SHA256:RSA+SHA256",
                               check=False)
        self.assertFalse(rsa_only.ok and harness.cert_info(rsa_only.leaf)["key_type"] == "rsa",
                         rsa_only.output[-2000:])

    def test_managed_host_is_default(self):
        self.check(managed_first=True)

    def test_static_host_is_default(self):
        self.check(managed_first=False)


if __name__ == "__main__":
    unittest.main()
