"""20 of 20 issuances succeed while pebble rejects half of all nonces
(PEBBLE_WFE_NONCEREJECT=50): badNonce is retried with the nonce of the error response. At 90%
rejected nonces a request can exhaust its own retries; the order is then resumed, a bounded number
of times, so that every issuance still finishes."""

import unittest

import harness
from acmectl_harness import AcmectlTestCase

RUNS = 20


class TestBadNonce(AcmectlTestCase):

    def test_twenty_of_twenty(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "50"})
        # The CA front only counts what pebble answers (no ARI, no profiles: transparent).
        front = self.ws.start_ca_front(pebble, ari=False, profiles=None)
        serials, failures = set(), []
        for i in range(RUNS):
            # Alternate between new certificates and forced renewals of the first one.
            name = "n%d.example.org" % i if i % 2 else "example.org"
            extra = ["--force"] if name == "example.org" else []
            r = self.issue(front, pebble, [name], *extra, check=None)
            if r.returncode != 0:
                failures.append(r)
                continue
            chain = self.assert_bundle_consistent(r.paths[0])
            serials.add(harness.cert_info(chain[0])["serial"])
        self.assertEqual(failures, [], "%d of %d issuances failed" % (len(failures), RUNS))
        self.assertEqual(len(serials), RUNS)
        # pebble did reject nonces (400 answers to signed requests).
        rejected = front.count(method="POST", status=400)
        print("pebble rejected %d nonces during %d issuances" % (rejected, RUNS))
        self.assertGreater(rejected, 0)

    def test_ninety_percent_rejected(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "90"})
        front = self.ws.start_ca_front(pebble, ari=False, profiles=None)
        failures = []
        for i in range(6):
            r = self.issue(front, pebble, ["r%d.example.org" % i], check=None)
            if r.returncode != 0:
                failures.append(r)
        self.assertEqual(failures, [], "%d of 6 issuances failed" % len(failures))


if __name__ == "__main__":
    unittest.main()
