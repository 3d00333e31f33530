"""acmectl usage errors: exit code 2 and a message naming the problem (missing --store, --ca or
-d, unknown options and commands, bad key types, challenges and values); --help for every
command exits 0 and prints its usage."""

import os
import unittest

from acmectl_harness import AcmectlTestCase

CA = "https://127.0.0.1:1/dir"


class TestUsage(AcmectlTestCase):

    def usage_error(self, args, *needles):
        r = self.acmectl(*args)
        self.assertEqual(r.returncode, 2, r)
        for n in needles:
            self.assertIn(n, r.stderr, r)
        self.assertEqual(r.stdout, "", r)
        return r

    def test_missing_required_options(self):
        store = os.path.join(self.ws.path, "store")
        self.usage_error(["issue", "--ca", CA, "-d", "example.org"], "--store")
        self.usage_error(["issue", "--store", store, "-d", "example.org"], "--ca")
        self.usage_error(["issue", "--store", store, "--ca", CA], "-d NAME")
        self.usage_error(["renew", "--store", store, "--ca", CA], "-d NAME")
        self.usage_error(["revoke", "--store", store, "-d", "example.org"], "--ca")
        self.usage_error(["status"], "--store")
        self.usage_error(["account", "show", "--store", store], "--ca")
        self.usage_error(["account", "--store", store, "--ca", CA], "show", "rollover")
        # Nothing was done: no store was created by these.
        self.assertFalse(os.path.exists(store))

    def test_unknown_commands_and_options(self):
        r = self.acmectl()
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("usage: acmectl", r.stderr)
        self.usage_error(["frobnicate"], "unknown command 'frobnicate'")
        self.usage_error(["issue", "--frobnicate", "--store", "s"], "unknown option '--frobnicate'")
        self.usage_error(["issue", "-x"], "unknown option")
        self.usage_error(["issue", "--store"], "'--store' needs a value")
        self.usage_error(["issue", "-d"], "needs a value")
        self.usage_error(["issue", "extra-argument"], "unexpected argument 'extra-argument'")
        self.usage_error(["issue", "--dns-wait", "soon"], "--dns-wait", "soon")
        self.usage_error(["revoke", "--reason", "11"], "--reason", "11")
        self.usage_error(["status", "--store", self.ws.path, "--format", "xml"], "xml")

    def test_bad_values(self):
        store = os.path.join(self.ws.path, "store")
        base = ["issue", "--store", store, "--ca", CA, "-d", "example.org"]
        self.usage_error(base + ["--key-type", "ecdsa-p521"], "ecdsa-p521", "rsa-2048")
        self.usage_error(base + ["--key-type", "ecdsa-p256", "--key-type", "ecdsa-p384"],
                         "ecdsa-p384")
        self.usage_error(base + ["--challenge", "http-02"], "http-02")
        self.usage_error(base + ["--challenge", "dns-01"], "DNS hook")
        self.usage_error(base + ["--challenge", "dns-01", "--http01-listen", "127.0.0.1:80"],
                         "--http01-listen")
        self.usage_error(["issue", "--store", store, "--ca", "http://127.0.0.1/dir", "-d",
                          "example.org"], "http://127.0.0.1/dir", "https://")
        self.usage_error(["issue", "--store", store, "--ca", CA, "-d", "~^.*\\.example\\.org$"],
                         "~^.*\\.example\\.org$")
        self.usage_error(["issue", "--store", store, "--ca", CA, "-d", "*.example.org"],
                         "*.example.org", "dns-01")
        self.usage_error(base + ["--email", "not-an-address"], "not-an-address")
        self.usage_error(base + ["--eab-kid", "kid-only"], "external account binding")
        self.usage_error(base + ["--renew-window", "soon"], "soon")
        self.usage_error(base + ["--profile", "two words"], "two words")
        self.usage_error(["revoke", "--store", store, "--ca", CA, "-d", "example.org", "--reason",
                          "7"], "reason 7")

    def test_help(self):
        for args, needle in ((["--help"], "commands:"), (["help"], "commands:"),
                             (["issue", "--help"], "--http01-listen"),
                             (["renew", "--help"], "--force"),
                             (["revoke", "--help"], "--use-cert-key"),
                             (["status", "--help"], "--format"),
                             (["account", "--help"], "rollover"),
                             (["issue", "-h"], "--dns-hook")):
            r = self.acmectl(*args)
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("usage:", r.stdout, r)
            self.assertIn(needle, r.stdout, r)
        r = self.acmectl("version")
        self.assertEqual(r.returncode, 0, r)
        self.assertRegex(r.stdout, r"^acmectl \S+ \(ABI \d+\)")


if __name__ == "__main__":
    unittest.main()
