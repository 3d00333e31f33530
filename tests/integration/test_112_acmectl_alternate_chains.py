"""Alternate chains (PEBBLE_ALTERNATE_ROOTS=1): --preferred-chain selects the chain whose top
certificate was issued by the alternate root; without it the default chain is kept."""

import re
import unittest

import harness
from acmectl_harness import AcmectlTestCase


def cn(rfc2253):
    m = re.search(r"(?:^|,)CN=([^,]+)", rfc2253)
    return m.group(1) if m else None


class TestAlternateChains(AcmectlTestCase):

    def test_preferred_chain(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0",
                                           "PEBBLE_ALTERNATE_ROOTS": "1"})
        default_root = cn(harness.cert_info(pebble.roots_pem(0))["subject"])
        alt_root = cn(harness.cert_info(pebble.roots_pem(1))["subject"])
        self.assertNotEqual(default_root, alt_root)

        self.issue(pebble, pebble, ["default.example.org"])
        chain = harness.split_pem(self.bundle("default.example.org"))
        self.assertEqual(cn(harness.cert_info(chain[-1])["issuer"]), default_root)
        harness.verify_chain(chain, pebble.issued_root_file(0), hostname="default.example.org").check()

        self.issue(pebble, pebble, ["alt.example.org"], "--preferred-chain", alt_root)
        chain = harness.split_pem(self.bundle("alt.example.org"))
        self.assertEqual(cn(harness.cert_info(chain[-1])["issuer"]), alt_root)
        harness.verify_chain(chain, pebble.issued_root_file(1), hostname="alt.example.org").check()
        self.assertFalse(harness.verify_chain(chain, pebble.issued_root_file(0)))
        meta = self.meta("alt.example.org")
        self.assertEqual(cn(meta["certificates"][0]["issuer"]), cn(harness.cert_info(chain[0])["issuer"]))

        # A preference nobody offers keeps the default chain.
        self.issue(pebble, pebble, ["none.example.org"], "--preferred-chain", "No Such Root")
        chain = harness.split_pem(self.bundle("none.example.org"))
        self.assertEqual(cn(harness.cert_info(chain[-1])["issuer"]), default_root)


if __name__ == "__main__":
    unittest.main()
