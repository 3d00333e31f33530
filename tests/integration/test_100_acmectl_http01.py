"""acmectl issue with its own http-01 responder (ECDSA P-256): the certificate verifies against
pebble's root, covers the name, and the stored bundle's key matches it; its renewal point is
recorded when it is installed."""

import os
import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestHttp01(AcmectlTestCase):

    def test_issue_http01_ecdsa(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        r = self.issue(pebble, pebble, ["example.org", "www.example.org"])
        print("acmectl issue (http-01, ecdsa-p256) took %.3f s" % r.elapsed)
        self.assertEqual(r.paths, [self.store_path("certs", "example.org", "ecdsa-p256.pem")], r)
        chain = self.assert_bundle_consistent(r.paths[0])
        self.assertGreaterEqual(len(chain), 2)
        root = pebble.issued_root_file()
        harness.verify_chain(chain, root, hostname="www.example.org").check()
        harness.verify_chain(chain, root, hostname="example.org").check()
        self.assertFalse(harness.verify_chain(chain, root, hostname="example.net"))
        info = harness.cert_info(chain[0])
        self.assertEqual(sorted(info["dns_names"]), ["example.org", "www.example.org"])
        self.assertEqual(info["key_type"], "ec")
        self.assertEqual(info["curve"], "prime256v1")
        self.assertIn("Pebble Intermediate", info["issuer"])
        # The private key is not readable by others; the store is owned by the unprivileged user.
        self.assertEqual(os.stat(r.paths[0]).st_mode & 0o077, 0)
        if os.geteuid() == 0:
            self.assertNotEqual(os.stat(self.store).st_uid, 0)
        # pebble knows the certificate.
        self.assertEqual(pebble.cert_status(info["serial"])["Status"], "Valid")
        # The renewal point is picked (with jitter) once, when the certificate is installed, and
        # kept: a second issue with nothing due does nothing, and does not move it.
        renewal_at = self.meta("example.org")["schedule"].get("renewal_at")
        self.assertTrue(renewal_at, self.meta("example.org"))
        again = self.issue(pebble, pebble, ["example.org", "www.example.org"])
        self.assertEqual(self.meta("example.org")["schedule"].get("renewal_at"), renewal_at)
        self.assertEqual(harness.split_pem(self.bundle("example.org"))[0], chain[0])
        self.assertEqual(again.paths, r.paths)


if __name__ == "__main__":
    unittest.main()
