"""315: httpd with `ACME On` and `SSLUseStapling On` staples the OCSP response the driver fetched
for the certificate it serves, also for a certificate swapped in after start (mod_ssl alone
staples only what it loaded at start, and fetches it on a request thread)."""

import os
import unittest

import harness
from ocsp_responder import OcspResponder, wait_for_staple
from test_399_httpd_fixture import HttpdTestCase

NAME = "ocsp.example.org"


class TestOcspStapling(HttpdTestCase):

    def test_staple_after_the_swap_and_after_a_renewal(self):
        httpd = self.httpd()
        ocsp_port = harness.free_port()
        pebble = self.start_pebble(httpd, config={
            "ocspResponderURL": "http://127.0.0.1:%d/" % ocsp_port})
        responder = OcspResponder(self.ws, pebble, ocsp_port).start()
        httpd.write_config(
            httpd.base_config() + httpd.acme_globals(pebble) +
            "SSLUseStapling On\nSSLStaplingCache \"shmcb:%s/run/ocsp(128000)\"\n" % httpd.dir +
            httpd.http_vhost() + httpd.managed_vhost(NAME))
        httpd.start()
        tls = self.wait_for_pebble_cert(httpd, pebble, NAME)
        serial = harness.cert_info(tls.leaf)["serial"].upper().lstrip("0")

        wait_for_staple(httpd.https_port, NAME, serial)
        self.assertIn(serial, [s.lstrip("0") for s in responder.requests])

        if not os.path.exists(harness.acmectl_path()):
            self.skipTest("acmectl not built")
        children = httpd.children()
        harness.run([harness.acmectl_path(), "renew", "--force", "--store", httpd.store_dir,
                     "--ca", pebble.directory_url, "--ca-root", pebble.ca_root,
                     "--chain-roots", pebble.chain_roots, "--agree-tos", "-d", NAME],
                    timeout=120)

        def renewed():
            t = httpd.chain(NAME, check=False)
            if not t.ok or not harness.verify_chain(t.certs, pebble.issued_root_file(), NAME):
                return None
            s = harness.cert_info(t.leaf)["serial"].upper().lstrip("0")
            return s if s != serial else None
        serial2 = harness.wait_until(renewed, timeout=30, interval=0.2, what="the renewal")
        wait_for_staple(httpd.https_port, NAME, serial2)
        self.assertEqual(httpd.children(), children, "no restart")


if __name__ == "__main__":
    unittest.main()
