"""An IP identifier (RFC 8738): pebble 2.4 validates 127.0.0.1 by http-01; the certificate has
the address as an iPAddress SAN and verifies for it."""

import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestIpIdentifier(AcmectlTestCase):

    def test_ipv4_http01(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        r = self.issue(pebble, pebble, ["127.0.0.1"])
        self.assertEqual(r.paths, [self.store_path("certs", "127.0.0.1", "ecdsa-p256.pem")])
        chain = self.assert_bundle_consistent(r.paths[0])
        info = harness.cert_info(chain[0])
        self.assertEqual(info["ip_addresses"], ["127.0.0.1"])
        self.assertEqual(info["dns_names"], [])
        harness.verify_chain(chain, pebble.issued_root_file(), ip="127.0.0.1").check()
        self.assertFalse(harness.verify_chain(chain, pebble.issued_root_file(), ip="127.0.0.2"))

    def test_ip_with_dns01_is_a_configuration_error(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        r = self.acmectl("issue", *self.ca_args(pebble), "-d", "127.0.0.1", "--challenge",
                         "dns-01", "--dns-hook", harness.dns_hook_path())
        self.assertEqual(r.returncode, 2, r)
        self.assertIn('"127.0.0.1"', r.stderr)
        self.assertIn("dns-01", r.stderr)


if __name__ == "__main__":
    unittest.main()
