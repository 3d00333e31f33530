"""A failed renewal leaves the certificate in service untouched: the CA front fails finalize, or
corrupts the downloaded certificate; `acmectl renew --force` fails with a clear message, the
stored bundle is byte-identical, and the status JSON shows the last error."""

import os
import unittest

import harness
from acmectl_harness import AcmectlTestCase

NAME = "example.org"


class TestFailedOrder(AcmectlTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        self.front = self.ws.start_ca_front(self.pebble, ari=False, profiles=None)
        self.issue(self.front, self.pebble, [NAME])
        self.path = self.store_path("certs", NAME, "ecdsa-p256.pem")
        with open(self.path, "rb") as f:
            self.before = f.read()
        self.mtime = os.stat(self.path).st_mtime_ns

    def renew_fails(self, *needles):
        r = self.issue(self.front, self.pebble, [NAME], "--force", command="renew", check=None)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("renew:", r.stderr)
        for n in needles:
            self.assertIn(n, r.stderr)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), self.before, "the certificate in service was replaced")
        self.assertEqual(os.stat(self.path).st_mtime_ns, self.mtime)
        self.assertEqual(self.temp_files(), [])
        cert = self.status()["certificates"][0]
        self.assertIsNotNone(cert["last_error"], cert)
        self.assertEqual(cert["fails"], 1, cert)
        self.assertEqual(cert["state"], "retrying", cert)
        # Still the valid certificate: its serial is what status reports.
        serial = harness.cert_info(self.before)["serial"].lstrip("0")
        self.assertEqual(cert["key_types"]["ecdsa-p256"]["serial"].lstrip("0"), serial)
        return r, cert

    def test_finalize_fails(self):
        self.front.fail_next(path="finalize", status=500, retry_after=120,
                             detail="the CA is having a bad day")
        r, cert = self.renew_fails("finalize", "serverInternal", "the CA is having a bad day")
        self.assertIn("the CA asks not to retry before", r.stderr)
        self.assertIn("serverInternal", cert["last_error"]["type"])
        self.assertIn("bad day", cert["last_error"]["detail"])

    def test_corrupt_download(self):
        self.front.corrupt_next_certificate(mode="signature")
        r, cert = self.renew_fails(NAME, "does not verify")
        self.assertIn("does not verify", cert["last_error"]["detail"])

    def test_leaf_only_download(self):
        # Well-formed, right names and key, but clients cannot build the path to the root.
        self.front.corrupt_next_certificate(mode="leaf-only")
        r, cert = self.renew_fails(NAME, "does not verify against the trusted roots",
                                   "unable to get local issuer certificate")
        self.assertIn("does not verify", cert["last_error"]["detail"])

    def test_roots_of_the_system_trust_store_refuse_pebble(self):
        # Without --chain-roots the system trust store decides: pebble's root is not in it.
        args = [a for a in self.ca_args(self.front)]
        i = args.index("--chain-roots")
        del args[i:i + 2]
        r = self.acmectl("renew", *args, "-d", NAME, "--force", "--http01-listen",
                         "%s:%d" % (harness.LOCALHOST, self.pebble.http_port), check=1)
        self.assertIn("does not verify against the trusted roots", r.stderr)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), self.before, "the certificate in service was replaced")

    def test_garbage_download(self):
        self.front.corrupt_next_certificate(mode="garbage")
        # The CA's fault: transient (retried with backoff), not a configuration problem.
        self.renew_fails(NAME, "not a PEM certificate chain")


if __name__ == "__main__":
    unittest.main()
