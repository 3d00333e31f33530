"""acmectl account rollover: the stored account key changes, the account URL stays, and the
next issuance works with the new key (pebble would refuse the old one)."""

import json
import os
import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestRollover(AcmectlTestCase):

    def test_rollover_then_issue(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        self.issue(pebble, pebble, ["example.org"])
        acct_dir = self.account_dirs()[0]
        key_file = os.path.join(acct_dir, "account.key")
        with open(key_file) as f:
            old_key = f.read()
        before = json.loads(self.acmectl("account", "show", *self.ca_args(pebble), check=0).stdout)

        r = self.acmectl("account", "rollover", *self.ca_args(pebble), "--key-type", "ecdsa-p384",
                         check=0)
        self.assertIn("rolled over", r.stdout)
        with open(key_file) as f:
            new_key = f.read()
        self.assertNotEqual(new_key, old_key)
        self.assertEqual(os.stat(key_file).st_mode & 0o077, 0)
        self.assertFalse(os.path.exists(key_file + ".next"))
        out = harness.run(["openssl", "pkey", "-noout", "-text"], input=new_key.encode()).stdout
        self.assertIn(b"NIST CURVE: P-384", out)

        after = json.loads(self.acmectl("account", "show", *self.ca_args(pebble), check=0).stdout)
        self.assertEqual(after["url"], before["url"])
        self.assertNotEqual(after["thumbprint"], before["thumbprint"])
        self.assertEqual(after["key_type"], "ecdsa-p384")
        self.assertEqual(after["status"], "valid")

        # Another issuance works, signed with the new key.
        serial = harness.cert_info(self.bundle("example.org"))["serial"]
        self.issue(pebble, pebble, ["example.org"], "--force")
        self.assertNotEqual(harness.cert_info(self.bundle("example.org"))["serial"], serial)
        self.assertEqual(len(self.account_dirs()), 1)
        with open(key_file) as f:
            self.assertEqual(f.read(), new_key)

        # The old key no longer signs for the account: put it back and the CA refuses.
        with open(key_file, "w") as f:
            f.write(old_key)
        r = self.issue(pebble, pebble, ["example.org"], "--force", check=None)
        self.assertNotEqual(r.returncode, 0, r)


if __name__ == "__main__":
    unittest.main()
