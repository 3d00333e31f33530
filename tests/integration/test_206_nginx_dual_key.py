"""nginx dual certificates: `acme_key_type ecdsa-p256 rsa-2048` gets one certificate per key
type and serves the one the client prefers (signature algorithms in TLS 1.3, cipher suites in
TLS 1.2), both verifying against pebble's root, from the fallback phase to the issued ones."""

import json

import harness
import nginx_harness

NAME = "dual.example.org"

ECDSA = {"sigalgs": "ECDSA+SHA256"}
RSA = {"sigalgs": "RSA-PSS+SHA256:RSA+SHA256"}
ECDSA12 = {"tls_version": "1.2", "ciphers": "ECDHE-ECDSA-AES128-GCM-SHA256"}
RSA12 = {"tls_version": "1.2", "ciphers": "ECDHE-RSA-AES128-GCM-SHA256"}


@nginx_harness.require_module
class TestDualKey(nginx_harness.NginxTestCase):

    def test_ecdsa_and_rsa_by_client_preference(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble, workers=2)
        ngx.write_config("""
            ssl_protocols TLSv1.2 TLSv1.3;
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name dual.example.org;
                acme_key_type ecdsa-p256 rsa-2048;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.https_port])

        # Both key types from the first handshake on (fallbacks or issued).
        for opts, kind in [(ECDSA, "ec"), (RSA, "rsa")]:
            tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME,
                                          **opts)
            self.assertEqual(harness.cert_info(tls.leaf)["key_type"], kind)

        root = pebble.issued_root_file()
        serials = {}
        for opts, kind, bits in [(ECDSA, "ec", 256), (RSA, "rsa", 2048),
                                 (ECDSA12, "ec", 256), (RSA12, "rsa", 2048)]:
            with self.subTest(opts=opts):
                tls = nginx_harness.wait_for_issuer(self.https_port, NAME, root, **opts)
                info = harness.cert_info(tls.leaf)
                self.assertEqual((info["key_type"], info["key_bits"]), (kind, bits))
                harness.verify_chain(tls.certs, root, hostname=NAME).check()
                serials.setdefault(kind, set()).add(info["serial"])
                if "tls_version" in opts:
                    self.assertEqual(tls.protocol, "TLSv1.2")
                else:
                    self.assertEqual(tls.protocol, "TLSv1.3")
                    self.assertEqual(tls.peer_sig_type,
                                     "ECDSA" if kind == "ec" else "RSA-PSS")
        # One certificate per key type, the same whatever the TLS version.
        self.assertEqual(len(serials["ec"]), 1)
        self.assertEqual(len(serials["rsa"]), 1)
        self.assertNotEqual(serials["ec"], serials["rsa"])
        # A client that accepts both gets one of them; the default OpenSSL client order
        # prefers ECDSA.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME)
        self.assertIn(harness.cert_info(tls.leaf)["serial"], serials["ec"] | serials["rsa"])

        status = json.loads(harness.http_get(
            "http://127.0.0.1:%d/acme-status" % self.http_port).body)
        [cert] = status["certificates"]
        self.assertEqual(sorted(cert["key_types"]), ["ecdsa-p256", "rsa-2048"])
        self.assertEqual({cert["key_types"]["ecdsa-p256"]["serial"]}, serials["ec"])
        self.assertEqual({cert["key_types"]["rsa-2048"]["serial"]}, serials["rsa"])
