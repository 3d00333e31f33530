"""305: tls-alpn-01 with `ACMEChallenge tls-alpn-01` and `Protocols h2 http/1.1 acme-tls/1`.

The CA front delays the challenge response to pebble, which keeps the challenge pending for a
few seconds: meanwhile a client offering acme-tls/1 gets the RFC 8737 validation certificate
(over TLS 1.2, where mod_ssl's ALPN callback installs it through ssl_answer_challenge, and over
TLS 1.3, where the certificate callback runs after ALPN), a regular client the fallback. Then
pebble validates through httpd itself and the issued certificate is served without restart.
With RSA certificates only, the validation certificate is RSA too: over TLS 1.2 mod_ssl installs
it after the cipher suite was chosen for the server's own certificates."""

import re
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase

ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31"


def is_validation_cert(pem):
    text = harness.run(["openssl", "x509", "-noout", "-text"], input=pem.encode()).stdout
    return ACME_IDENTIFIER_OID in text.decode()


class TestTlsAlpn01(HttpdTestCase):

    def run_scenario(self, key_types=None, client_sigalgs=None):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        front = self.ws.start_ca_front(pebble)
        front.delay_next(6, path="challenge", method="POST")
        extra = "    ACMEChallenge tls-alpn-01\n    Protocols h2 http/1.1 acme-tls/1\n"
        if key_types:
            extra += "    ACMEKeyType %s\n" % key_types
        httpd.write_config(
            httpd.base_config(modules=["http2"]) +
            "ACMECertificateAuthority %s\nACMECARoot %s\nACMEChainRoots %s\nACMEAgreeTOS On\nACMEStoreDir %s\n" % (
                front.directory_url, pebble.ca_root, pebble.chain_roots, httpd.store_dir) +
            httpd.managed_vhost("alpn.example.org", extra=extra))
        httpd.start()
        self.assertNotIn("do not list acme-tls/1", httpd.error_log_text())

        # While the challenge is pending: the validation certificate for acme-tls/1 clients.
        def validation(version):
            tls = httpd.chain("alpn.example.org", alpn="acme-tls/1", tls_version=version,
                              sigalgs=client_sigalgs, check=False)
            if tls.ok and tls.alpn == "acme-tls/1" and is_validation_cert(tls.leaf):
                return tls
            return None
        for version in ("1.3", "1.2"):
            tls = harness.wait_until(lambda: validation(version), 20, interval=0.1,
                                     what="the validation certificate over TLS %s" % version)
            info = harness.cert_info(tls.leaf)
            self.assertEqual(info["dns_names"], ["alpn.example.org"])
            self.assertEqual(len(tls.certs), 1)
            self.assertEqual(info["subject"], info["issuer"])
            # Meanwhile a regular client gets the regular (fallback) certificate.
            regular = httpd.chain("alpn.example.org", alpn=["h2", "http/1.1"],
                                  tls_version=version)
            self.assertEqual(regular.alpn, "h2")
            self.assertFalse(is_validation_cert(regular.leaf))
        # Pebble validates through httpd (tls-alpn-01), and the certificate arrives.
        tls = self.wait_for_pebble_cert(httpd, pebble, "alpn.example.org", timeout=60)
        self.assertFalse(is_validation_cert(tls.leaf))
        n_types = len(key_types.split()) if key_types else 1
        harness.wait_until(lambda: httpd.error_log_text().count("certificate installed") >=
                           n_types, 60, what="every key type installed")
        log = httpd.error_log_text()
        self.assertIn("answering the tls-alpn-01 challenge for alpn.example.org", log)
        self.assertNotIn("answering the http-01 challenge", log)
        self.assertEqual(log.count("resuming normal operations"), 1)
        # After validation, acme-tls/1 clients get no validation certificate any more.
        after = httpd.chain("alpn.example.org", alpn="acme-tls/1", check=False)
        self.assertFalse(after.ok and is_validation_cert(after.leaf))
        return httpd, pebble

    def test_tls_alpn01(self):
        self.run_scenario()

    def test_tls_alpn01_rsa(self):
        # The validation certificate is ECDSA; the server's own certificates RSA only.
        httpd, pebble = self.run_scenario(key_types="rsa-2048")
        tls = httpd.chain("alpn.example.org")
        self.assertEqual(harness.cert_info(tls.leaf)["key_type"], "rsa")
        self.assert_verifies(tls, pebble, "alpn.example.org")

    def test_tls_alpn01_dual_key_prefers_validation_certificate(self):
        # With an RSA certificate beside the ECDSA one and a client preferring RSA-PSS, the
        # validation certificate (ECDSA) must still be the one served.
        httpd, pebble = self.run_scenario(key_types="ecdsa-p256 rsa-2048",
                                          client_sigalgs="RSA-PSS+SHA256:ECDSA+SHA256")
        rsa = httpd.chain("alpn.example.org", sigalgs="RSA-PSS+SHA256")
        self.assertEqual(harness.cert_info(rsa.leaf)["key_type"], "rsa")
        self.assert_verifies(rsa, pebble, "alpn.example.org")


if __name__ == "__main__":
    unittest.main()
