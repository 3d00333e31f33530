"""kill -9 of acmectl in the middle of an order: the store holds no temp files and no torn
key/certificate pair (the certificate in service is untouched), and the next run completes by
resuming the saved order (the CA front counts: no second newOrder)."""

import glob
import os
import signal
import unittest

import harness
from acmectl_harness import AcmectlTestCase

NAME = "example.org"


class TestKill9(AcmectlTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0",
                                                "PEBBLE_AUTHZREUSE": "0"})
        self.front = self.ws.start_ca_front(self.pebble, ari=False, profiles=None)

    def args(self, command, *extra):
        return [command] + self.ca_args(self.front) + [
            "-d", NAME, "--http01-listen", "%s:%d" % (harness.LOCALHOST, self.pebble.http_port),
            "-v"] + list(extra)

    def kill_while(self, fault, command, *extra):
        """Start acmectl, SIGKILL it once the CA front holds the request ``fault`` matches."""
        proc = self.ws.start("acmectl", [harness.acmectl_path()] + self.args(command, *extra))
        harness.wait_until(lambda: fault.fired >= 1 or not proc.alive(), 60,
                           what="acmectl to reach the delayed request")
        self.assertTrue(proc.alive(), proc.log_tail())
        proc.signal(signal.SIGKILL)
        self.assertEqual(proc.wait(10), -signal.SIGKILL)

    def check_store_is_whole(self):
        self.assertEqual(self.temp_files(), [])
        bundles = [p for p in glob.glob(self.store_path("**", "*.pem"), recursive=True)
                   if "/challenges/" not in p]
        self.assertTrue(bundles)
        for path in bundles:
            self.assert_bundle_consistent(path)
        return bundles

    def test_kill_during_finalize_keeps_the_certificate_in_service(self):
        first = self.acmectl(*self.args("issue"), check=0)
        bundle_path = first.paths[0]
        with open(bundle_path, "rb") as f:
            before = f.read()
        self.assertEqual(self.front.count("newOrder", method="POST"), 1)

        # The CA front holds the CSR for a while (then passes it on); acmectl dies meanwhile.
        fault = self.front.delay_next(3, path="finalize", method="POST")
        self.kill_while(fault, "renew", "--force")
        self.front.wait_for_count(2, path="finalize", method="POST", timeout=30)

        self.check_store_is_whole()
        with open(bundle_path, "rb") as f:
            self.assertEqual(f.read(), before, "the certificate in service changed")
        order_key = self.store_path("orders", NAME + ".ecdsa-p256.key")
        self.assertTrue(os.path.exists(self.store_path("orders", NAME + ".ecdsa-p256.json")))
        self.assertTrue(os.path.exists(order_key))
        with open(order_key) as f:
            saved_key = f.read()

        # The next run resumes: no new order, no second CSR, the saved key is used.
        second = self.acmectl(*self.args("renew", "--force"), check=0)
        self.assertIn("resuming order", second.stderr)
        self.assertEqual(self.front.count("newOrder", method="POST"), 2)
        self.assertEqual(self.front.count("finalize", method="POST"), 2)
        self.check_store_is_whole()
        with open(bundle_path) as f:
            after = f.read()
        self.assertNotEqual(after.encode(), before)
        pub = lambda pem: harness.run(["openssl", "pkey", "-pubout"], input=pem.encode()).stdout
        self.assertEqual(pub(after), pub(saved_key))
        harness.verify_chain(harness.split_pem(after), self.pebble.issued_root_file(),
                             hostname=NAME).check()
        self.assertFalse(os.path.exists(order_key))  # forgotten once installed

    def test_kill_before_the_first_certificate(self):
        # Hold the first authorization fetch: the order exists, nothing was answered yet.
        fault = self.front.delay_next(3, path="authz", method="POST")
        self.kill_while(fault, "issue")
        self.front.wait_for_count(1, path="authz", method="POST", timeout=30)
        bundles = self.check_store_is_whole()
        # Only the self-signed fallback exists so far.
        self.assertEqual([os.path.relpath(b, self.store) for b in bundles],
                         [os.path.join("fallback", NAME, "ecdsa-p256.pem")])
        self.assertEqual(self.front.count("newOrder", method="POST"), 1)

        r = self.acmectl(*self.args("issue"), check=0)
        self.assertIn("resuming order", r.stderr)
        self.assertEqual(self.front.count("newOrder", method="POST"), 1)
        self.check_store_is_whole()
        harness.verify_chain(harness.split_pem(self.bundle(NAME)), self.pebble.issued_root_file(),
                             hostname=NAME).check()


if __name__ == "__main__":
    unittest.main()
