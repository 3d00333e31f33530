"""nginx restart: the stored certificate is served from the first handshake and no new order is
placed (counted at a CA front before pebble)."""

import json
import time

import harness
import nginx_harness

NAME = "reuse.example.org"


@nginx_harness.require_module
class TestRestartReuse(nginx_harness.NginxTestCase):

    def test_restart_serves_stored_certificate_without_ordering(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble)
        ngx = self.nginx(pebble, ca_url=front.directory_url, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name reuse.example.org;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.https_port])
        tls = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        first = harness.cert_info(tls.leaf)
        self.assertEqual(front.count("newOrder", method="POST"), 1)
        ngx.wait_for_log(r"acme: %s: done in" % NAME)

        # Stop, start again on the same store.
        ngx.stop()
        log_start = ngx.log_size()
        ngx.start(wait_ports=[self.https_port])
        again = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME)
        self.assertEqual(harness.cert_info(again.leaf)["serial"], first["serial"],
                         "the first handshake after the restart presents the stored certificate")
        harness.verify_chain(again.certs, pebble.issued_root_file(), hostname=NAME).check()

        # The new driver looks at the certificate and finds nothing to do.
        ngx.wait_for_log(r"acme: process \d+ now manages the certificates", start=log_start)
        time.sleep(2)
        self.assertEqual(front.count("newOrder", method="POST"), 1, "no second order")
        self.assertNotIn("ordering a certificate", ngx.error_log_text()[log_start:])
        status = json.loads(harness.http_get(
            "http://127.0.0.1:%d/acme-status" % self.http_port).body)
        [cert] = status["certificates"]
        self.assertEqual(cert["state"], "valid")
        self.assertEqual(cert["key_types"]["ecdsa-p256"]["serial"], first["serial"])
        for _ in range(5):
            tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME)
            self.assertEqual(harness.cert_info(tls.leaf)["serial"], first["serial"])
