"""nginx tls-alpn-01 on the server's TLS port (pebble's tlsPort is nginx's https port):
`acme-tls/1` is selected only for a pending challenge, and then the RFC 8737 validation
certificate is served alone, over TLS 1.2 (certificate callback before ALPN) and TLS 1.3 (ALPN
first), whatever the key types (ECDSA, RSA, dual), and also when the tls-alpn-01 server is not
the default server of its address (the ClientHello callback runs on the default server's
SSL_CTX, before SNI); normal h2 / http/1.1 negotiation is unchanged.

The CA front holds the client's challenge response for a few seconds, so the challenge stays
pending long enough to ask for the validation certificate with ``openssl s_client -alpn
acme-tls/1`` like a CA would, with a client that prefers RSA (which an RSA certificate left
beside the validation certificate would win)."""

import harness
import nginx_harness

NAME = "alpn.example.org"
ACME_IDENTIFIER_OID = "1.3.6.1.5.5.7.1.31"

# A client that would rather have RSA: TLS 1.3 picks the certificate by signature algorithm,
# TLS 1.2 by cipher suite (the server follows the client's order by default).
RSA_FIRST_SIGALGS = "RSA-PSS+SHA256:RSA+SHA256:ECDSA+SHA256"
RSA_FIRST_CIPHERS = "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256"


def is_validation_cert(pem):
    text = harness.run(["openssl", "x509", "-noout", "-text"], input=pem.encode()).stdout
    return ACME_IDENTIFIER_OID in text.decode()


@nginx_harness.require_module
class TestTlsAlpn01(nginx_harness.NginxTestCase):

    def run_scenario(self, protocols, versions, key_types=None):
        pebble = self.ws.start_pebble(tls_port=self.https_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble)
        front.delay_next(6, count=2, path="challenge", method="POST")
        h1_port = harness.free_port()
        default_cert, default_key = self.ws.ca.issue("default-server",
                                                     dns=("default.example.org",))
        ngx = self.nginx(pebble, ca_url=front.directory_url, workers=2)
        ngx.write_config("""
            ssl_protocols %(protocols)s;
            server {
                listen 127.0.0.1:%(https)d ssl http2 default_server;
                server_name default.example.org;
                ssl_certificate %(default_cert)s;
                ssl_certificate_key %(default_key)s;
                return 200 "default\\n";
            }
            server {
                listen 127.0.0.1:%(https)d ssl http2;
                server_name alpn.example.org;
                acme_challenge tls-alpn-01;
                %(key_types)s
                acme on;
                location / { return 200 "$server_protocol\\n"; }
            }
            server {
                listen 127.0.0.1:%(h1)d ssl;
                listen 127.0.0.1:%(https)d ssl http2;    # where pebble validates
                server_name h1.example.org;
                acme_challenge tls-alpn-01;
                acme on;
            }
        """ % self.ports(protocols=protocols, h1=h1_port, default_cert=default_cert,
                         default_key=default_key,
                         key_types="acme_key_type %s;" % key_types if key_types else ""))
        ngx.start(wait_ports=[self.https_port, h1_port])

        # Before anything is issued, ordinary clients negotiate as with nginx alone.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                      alpn=["h2", "http/1.1"])
        self.assertEqual(tls.alpn, "h2")

        # While the challenge is pending: the validation certificate alone for acme-tls/1,
        # even for a client that prefers RSA; meanwhile a regular client gets the fallback.
        for version in versions:
            def validation():
                tls = harness.presented_chain(
                    "127.0.0.1", self.https_port, server_name=NAME, alpn="acme-tls/1",
                    tls_version=version, sigalgs=RSA_FIRST_SIGALGS,
                    ciphers=RSA_FIRST_CIPHERS if version == "1.2" else None, check=False)
                return tls if tls.ok and tls.alpn == "acme-tls/1" else None
            tls = harness.wait_until(validation, 20, interval=0.1,
                                     what="acme-tls/1 over TLS %s while the challenge is "
                                          "pending" % version)
            with self.subTest(version=version):
                self.assertTrue(is_validation_cert(tls.leaf),
                                "not the validation certificate over TLS %s: %s" % (
                                    version, harness.cert_info(tls.leaf)))
                info = harness.cert_info(tls.leaf)
                self.assertEqual(info["dns_names"], [NAME])
                self.assertEqual(len(tls.certs), 1)
                regular = harness.presented_chain("127.0.0.1", self.https_port,
                                                  server_name=NAME, alpn=["h2", "http/1.1"],
                                                  tls_version=version)
                self.assertEqual(regular.alpn, "h2")
                self.assertFalse(is_validation_cert(regular.leaf))
                # The default server of the address is unaffected.
                other = harness.presented_chain("127.0.0.1", self.https_port,
                                                server_name="default.example.org",
                                                alpn=["http/1.1"], tls_version=version)
                self.assertEqual(harness.cert_info(other.leaf)["dns_names"],
                                 ["default.example.org"])

        cert = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file(),
                                             timeout=60)
        harness.verify_chain(cert.certs, pebble.issued_root_file(), hostname=NAME).check()
        self.assertIn("Pebble Intermediate", harness.cert_info(cert.leaf)["issuer"])
        n_types = len(key_types.split()) if key_types else 1
        # every key type of alpn.example.org, and h1.example.org's
        harness.wait_until(lambda: ngx.error_log_text().count("certificate installed") >=
                           n_types + 1, 60, what="every key type installed")
        self.assertNotIn("answered an http-01", ngx.error_log_text())
        if key_types and "rsa" in key_types:
            rsa = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                          sigalgs="RSA-PSS+SHA256:RSA+SHA256")
            self.assertEqual(harness.cert_info(rsa.leaf)["key_type"], "rsa")
            harness.verify_chain(rsa.certs, pebble.issued_root_file(), hostname=NAME).check()

        # Normal ALPN: h2 where http2 is on, http/1.1 otherwise and when asked for; no ALPN
        # at all works too.
        h1_cert = nginx_harness.wait_for_issuer(h1_port, "h1.example.org",
                                                pebble.issued_root_file())
        for port, name, offer, want in [
                (self.https_port, NAME, ["h2", "http/1.1"], "h2"),
                (self.https_port, NAME, ["http/1.1"], "http/1.1"),
                (h1_port, "h1.example.org", ["h2", "http/1.1"], "http/1.1"),
                (self.https_port, NAME, None, None)]:
            with self.subTest(port=port, offer=offer):
                tls = harness.presented_chain("127.0.0.1", port, server_name=name, alpn=offer)
                self.assertEqual(tls.alpn, want)
                self.assertEqual(harness.cert_info(tls.leaf)["serial"], harness.cert_info(
                    (cert if port == self.https_port else h1_cert).leaf)["serial"])
        # Without a pending challenge, acme-tls/1 alone is refused as nginx refuses any
        # protocol it does not speak (no_application_protocol).
        for version in versions:
            tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                          alpn="acme-tls/1", tls_version=version, check=False)
            self.assertFalse(tls.ok)
            self.assertIn("no application protocol", tls.output)
        # And with the real protocols beside it, a normal one is chosen.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                      alpn=["acme-tls/1", "http/1.1"])
        self.assertEqual(tls.alpn, "http/1.1")
        # HTTP over the negotiated protocols.
        r = harness.http_get("https://127.0.0.1:%d/" % self.https_port,
                             ca=pebble.issued_root_file(), server_name=NAME,
                             host_header=NAME)
        self.assertEqual((r.status, r.body), (200, b"HTTP/1.1\n"))

    def test_tls12(self):
        self.run_scenario("TLSv1.2", ["1.2"])

    def test_tls13(self):
        self.run_scenario("TLSv1.2 TLSv1.3", ["1.3", "1.2"])

    def test_rsa_tls12(self):
        self.run_scenario("TLSv1.2", ["1.2"], key_types="rsa-2048")

    def test_rsa_tls13(self):
        self.run_scenario("TLSv1.2 TLSv1.3", ["1.3", "1.2"], key_types="rsa-2048")

    def test_dual_tls12(self):
        self.run_scenario("TLSv1.2", ["1.2"], key_types="ecdsa-p256 rsa-2048")

    def test_dual_tls13(self):
        self.run_scenario("TLSv1.2 TLSv1.3", ["1.3", "1.2"], key_types="ecdsa-p256 rsa-2048")
