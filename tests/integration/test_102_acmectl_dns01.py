"""acmectl issue by dns-01 through tests/integration/dns_hook.sh (TXT records set in
pebble-challtestsrv), including a wildcard name; the hook is called with setup and teardown."""

import os
import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestDns01(AcmectlTestCase):

    def test_dns01_with_wildcard(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        hook_log = self.ws.write("hook.log", "", mode=0o666)
        env = {"ACME_TEST_CHALLTESTSRV": pebble.challtestsrv_url, "ACME_TEST_HOOK_LOG": hook_log}
        args = ["issue"] + self.ca_args(pebble) + [
            "-d", "example.org", "-d", "*.example.org", "--challenge", "dns-01",
            "--dns-hook", harness.dns_hook_path()]
        r = self.acmectl(*args, env=env, check=0)
        print("acmectl issue (dns-01, wildcard) took %.3f s" % r.elapsed)
        path = self.store_path("certs", "example.org", "ecdsa-p256.pem")
        self.assertEqual(r.paths, [path])
        chain = self.assert_bundle_consistent(path)
        root = pebble.issued_root_file()
        harness.verify_chain(chain, root, hostname="anything.example.org").check()
        harness.verify_chain(chain, root, hostname="example.org").check()
        self.assertFalse(harness.verify_chain(chain, root, hostname="a.b.example.org"))
        self.assertEqual(sorted(harness.cert_info(chain[0])["dns_names"]),
                         ["*.example.org", "example.org"])
        # Both authorizations (the base name and the wildcard's) went through the hook, for the
        # base domain, each set up and torn down; nothing is left in DNS.
        with open(hook_log) as f:
            calls = [line.split() for line in f.read().splitlines()]
        setups = [c for c in calls if c[0] == "setup"]
        teardowns = [c for c in calls if c[0] == "teardown"]
        self.assertEqual(len(setups), 2, calls)
        self.assertEqual(len(teardowns), 2, calls)
        self.assertEqual({c[1] for c in setups + teardowns}, {"example.org"}, calls)
        self.assertEqual(sorted(c[2] for c in setups), sorted(c[2] for c in teardowns))
        for c in setups:
            self.assertRegex(c[2], r"^[A-Za-z0-9_-]{43}$")
        self.assertEqual(pebble.txt("_acme-challenge.example.org"), [])

    def test_failing_hook_is_reported(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        env = {"ACME_TEST_CHALLTESTSRV": pebble.challtestsrv_url,
               "ACME_TEST_HOOK_FAIL": "zone example.org is not ours"}
        args = ["issue"] + self.ca_args(pebble) + [
            "-d", "example.org", "--challenge", "dns-01", "--dns-hook", harness.dns_hook_path()]
        r = self.acmectl(*args, env=env)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("zone example.org is not ours", r.stderr)
        self.assertIn("setup", r.stderr)
        self.assertFalse(os.path.exists(self.store_path("certs", "example.org", "ecdsa-p256.pem")))


if __name__ == "__main__":
    unittest.main()
