"""218: nginx with `acme on` and `ssl_stapling on` staples an OCSP response for the certificate
it serves, fetched by the driver (not on the event loop) from the responder named in the
certificate, and staples the new certificate's own response after a renewal, without a reload.
(nginx itself staples only certificates it loaded: with the module alone it never stapled.)"""

import os

import harness
import nginx_harness
from ocsp_responder import OcspResponder, stapled_status, wait_for_staple

NAME = "ocsp.example.org"


@nginx_harness.require_module
class TestOcspStapling(nginx_harness.NginxTestCase):

    def test_staple_at_start_and_after_a_renewal(self):
        ocsp_port = harness.free_port()
        pebble = self.ws.start_pebble(
            http_port=self.http_port, env={"PEBBLE_WFE_NONCEREJECT": "0"},
            config={"ocspResponderURL": "http://127.0.0.1:%d/" % ocsp_port})
        responder = OcspResponder(self.ws, pebble, ocsp_port).start()
        ngx = self.nginx(pebble, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name ocsp.example.org;
                ssl_stapling on;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.http_port, self.https_port])
        tls = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        serial = harness.cert_info(tls.leaf)["serial"].upper().lstrip("0")

        wait_for_staple(self.https_port, NAME, serial)
        self.assertIn(serial, [s.lstrip("0") for s in responder.requests])
        # Every worker staples (each serves from its own cache).
        for _ in range(6):
            self.assertEqual(stapled_status(self.https_port, NAME)["status"], "good")
        status = harness.http_get("http://127.0.0.1:%d/acme-status" % self.http_port).json()
        ocsp = status["certificates"][0]["key_types"]["ecdsa-p256"]["ocsp"]
        self.assertEqual(ocsp["responder"], responder.url)
        self.assertIsNotNone(ocsp["next_update"])
        self.assertIsNone(ocsp["error"])

        # A renewal (by acmectl, on the server's store): the new certificate comes with a
        # response of its own, on the next handshakes, in every worker.
        if not os.path.exists(harness.acmectl_path()):
            self.skipTest("acmectl not built")
        workers = ngx.worker_pids()
        harness.run([harness.acmectl_path(), "renew", "--force", "--store", ngx.store,
                     "--ca", pebble.directory_url, "--ca-root", pebble.ca_root,
                     "--chain-roots", pebble.chain_roots, "--agree-tos", "-d", NAME],
                    timeout=120)
        tls2 = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        serial2 = harness.cert_info(tls2.leaf)["serial"].upper().lstrip("0")
        self.assertNotEqual(serial2, serial)
        wait_for_staple(self.https_port, NAME, serial2)
        self.assertEqual(ngx.worker_pids(), workers, "no reload")
