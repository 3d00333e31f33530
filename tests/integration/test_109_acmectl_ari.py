"""ARI (RFC 9773) through the CA front: a suggested window in the past makes `acmectl renew`
renew, and the new order carries "replaces" = the old certificate's ARI certID; a window in the
future makes it a no-op."""

import time
import unittest

import harness
from acmectl_harness import AcmectlTestCase

NAME = "example.org"


class TestAri(AcmectlTestCase):

    def test_window_in_the_past_renews_with_replaces(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble)
        self.issue(front, pebble, [NAME])
        old = harness.split_pem(self.bundle(NAME))[0]
        old_id = harness.ari_cert_id(old)
        self.assertEqual(front.replaces_seen, [None])
        self.assertEqual(self.meta(NAME)["certificates"][0]["ari"].get("cert_id"), old_id)

        now = int(time.time())
        front.set_renewal_window(now - 7200, now - 3600, cert_id=old_id)
        r = self.issue(front, pebble, [NAME], command="renew")
        self.assertIn(old_id, front.renewal_info_requests)
        new = harness.split_pem(self.bundle(NAME))[0]
        self.assertNotEqual(harness.cert_info(new)["serial"], harness.cert_info(old)["serial"], r)
        self.assertEqual(front.replaces_seen, [None, old_id])
        harness.verify_chain(harness.split_pem(self.bundle(NAME)), pebble.issued_root_file(),
                             hostname=NAME).check()

        # The new certificate's window is a month away: renew does nothing.
        new_id = harness.ari_cert_id(new)
        front.set_renewal_window(now + 30 * 86400, now + 31 * 86400, cert_id=new_id)
        orders = front.count("newOrder", method="POST")
        with open(self.store_path("certs", NAME, "ecdsa-p256.pem"), "rb") as f:
            before = f.read()
        self.issue(front, pebble, [NAME], command="renew")
        self.assertIn(new_id, front.renewal_info_requests)
        self.assertEqual(front.count("newOrder", method="POST"), orders)
        with open(self.store_path("certs", NAME, "ecdsa-p256.pem"), "rb") as f:
            self.assertEqual(f.read(), before)
        cert = self.status()["certificates"][0]
        window = cert["key_types"]["ecdsa-p256"]["ari_window"]
        self.assertIsNotNone(window, cert)
        self.assertEqual(cert["renewal_source"], "ari", cert)


if __name__ == "__main__":
    unittest.main()
