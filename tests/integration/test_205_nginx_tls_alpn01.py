"""nginx tls-alpn-01 on the server's TLS port (pebble's tlsPort is nginx's https port):
`acme-tls/1` is selected only for a pending challenge, over TLS 1.2 (certificate callback before
ALPN) and TLS 1.3 (ALPN first); normal h2 / http/1.1 negotiation is unchanged."""

import harness
import nginx_harness

NAME = "alpn.example.org"


@nginx_harness.require_module
class TestTlsAlpn01(nginx_harness.NginxTestCase):

    def run_scenario(self, protocols):
        pebble = self.ws.start_pebble(tls_port=self.https_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        h1_port = harness.free_port()
        ngx = self.nginx(pebble, workers=2)
        ngx.write_config("""
            ssl_protocols %(protocols)s;
            server {
                listen 127.0.0.1:%(https)d ssl http2;
                server_name alpn.example.org;
                acme_challenge tls-alpn-01;
                acme on;
                location / { return 200 "$server_protocol\\n"; }
            }
            server {
                listen 127.0.0.1:%(h1)d ssl;
                server_name h1.example.org;
                acme_challenge tls-alpn-01;
                acme on;
            }
        """ % self.ports(protocols=protocols, h1=h1_port))
        ngx.start(wait_ports=[self.https_port, h1_port])

        # Before anything is issued, ordinary clients negotiate as with nginx alone.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                      alpn=["h2", "http/1.1"])
        self.assertEqual(tls.alpn, "h2")

        cert = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        harness.verify_chain(cert.certs, pebble.issued_root_file(), hostname=NAME).check()
        self.assertIn("Pebble Intermediate", harness.cert_info(cert.leaf)["issuer"])
        self.assertNotIn("answered an http-01", ngx.error_log_text())

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
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                      alpn="acme-tls/1", check=False)
        self.assertFalse(tls.ok)
        self.assertIn("no application protocol", tls.output)
        # And with the real protocols beside it, a normal one is chosen.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                      alpn=["acme-tls/1", "http/1.1"])
        self.assertEqual(tls.alpn, "http/1.1")
        # HTTP over the negotiated protocols.
        r = harness.http_get("https://127.0.0.1:%d/" % self.https_port,
                             ca=pebble.issued_root_file(), server_name=NAME)
        self.assertEqual((r.status, r.body), (200, b"HTTP/1.1\n"))

    def test_tls12(self):
        self.run_scenario("TLSv1.2")

    def test_tls13(self):
        self.run_scenario("TLSv1.2 TLSv1.3")
