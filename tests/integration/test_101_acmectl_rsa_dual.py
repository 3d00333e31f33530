"""acmectl issue with an RSA key (rsa-2048) and with two key types at once (ecdsa-p256 +
rsa-2048): one bundle per key type, each verifying against pebble's root."""

import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestKeyTypes(AcmectlTestCase):

    def test_rsa_and_dual(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        root = pebble.issued_root_file()

        r = self.issue(pebble, pebble, ["rsa.example.org"], "--key-type", "rsa-2048")
        self.assertEqual(r.paths, [self.store_path("certs", "rsa.example.org", "rsa-2048.pem")])
        chain = self.assert_bundle_consistent(r.paths[0])
        info = harness.cert_info(chain[0])
        self.assertEqual(info["key_type"], "rsa")
        self.assertEqual(info["key_bits"], 2048)
        harness.verify_chain(chain, root, hostname="rsa.example.org").check()

        r = self.issue(pebble, pebble, ["dual.example.org"], "--key-type", "ecdsa-p256",
                       "--key-type", "rsa-2048")
        self.assertEqual(r.paths, [self.store_path("certs", "dual.example.org", "ecdsa-p256.pem"),
                                   self.store_path("certs", "dual.example.org", "rsa-2048.pem")])
        ec = self.assert_bundle_consistent(r.paths[0])
        rsa = self.assert_bundle_consistent(r.paths[1])
        self.assertEqual(harness.cert_info(ec[0])["key_type"], "ec")
        self.assertEqual(harness.cert_info(rsa[0])["key_type"], "rsa")
        self.assertNotEqual(harness.cert_info(ec[0])["serial"], harness.cert_info(rsa[0])["serial"])
        for c in (ec, rsa):
            harness.verify_chain(c, root, hostname="dual.example.org").check()
        meta = self.meta("dual.example.org")
        self.assertEqual(sorted(c["key_type"] for c in meta["certificates"]),
                         ["ecdsa-p256", "rsa-2048"], meta)
        self.assertEqual(sorted(c["serial"] for c in meta["certificates"]),
                         sorted(harness.cert_info(c[0])["serial"] for c in (ec, rsa)), meta)


if __name__ == "__main__":
    unittest.main()
