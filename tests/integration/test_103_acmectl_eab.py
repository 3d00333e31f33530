"""External account binding with pebble's externalAccountMACKeys: two orders from separate
acmectl processes create exactly one account (one account directory, the same URL), and without
EAB the CA's requirement is a clear configuration error."""

import base64
import json
import os
import unittest

from acmectl_harness import AcmectlTestCase

KID = "kid-1"
HMAC = base64.urlsafe_b64encode(b"zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
                                ).rstrip(b"=").decode()


class TestEab(AcmectlTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(eab_keys={KID: HMAC},
                                           env={"PEBBLE_WFE_NONCEREJECT": "0"})

    def account(self):
        dirs = self.account_dirs()
        self.assertEqual(len(dirs), 1, dirs)
        self.assertEqual(sorted(os.listdir(dirs[0])), ["account.json", "account.key"])
        with open(os.path.join(dirs[0], "account.json")) as f:
            return json.load(f)

    def test_one_account_across_orders_and_processes(self):
        eab = ["--eab-kid", KID, "--eab-hmac", HMAC]
        self.issue(self.pebble, self.pebble, ["one.example.org"], *eab)
        first = self.account()
        self.assertTrue(first["url"].startswith(self.pebble.base_url), first)
        self.assertEqual(first.get("eab_kid"), KID)
        self.assertNotIn(HMAC, json.dumps(first))
        with open(os.path.join(self.account_dirs()[0], "account.key")) as f:
            key = f.read()

        # A second order for another certificate, in a new process.
        self.issue(self.pebble, self.pebble, ["two.example.org"], *eab)
        # And a forced renewal of the first, in yet another process.
        self.issue(self.pebble, self.pebble, ["one.example.org"], *eab, "--force")
        second = self.account()
        self.assertEqual(second["url"], first["url"])
        with open(os.path.join(self.account_dirs()[0], "account.key")) as f:
            self.assertEqual(f.read(), key)
        # acmectl account show reports that one account, as the CA knows it.
        r = self.acmectl("account", "show", *self.ca_args(self.pebble), *eab, check=0)
        shown = json.loads(r.stdout)
        self.assertEqual(shown["url"], first["url"])
        self.assertEqual(shown["status"], "valid")

    def test_without_eab_the_refusal_is_clear(self):
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], check=None)
        self.assertEqual(r.returncode, 2, r)  # a configuration problem, not a CA outage
        self.assertIn("external account binding", r.stderr)
        self.assertIn(self.pebble.directory_url, r.stderr)
        self.assertFalse(os.path.exists(self.store_path("certs", "one.example.org",
                                                        "ecdsa-p256.pem")))

    def test_wrong_hmac_key_is_refused_by_the_ca(self):
        wrong = base64.urlsafe_b64encode(b"x" * 32).rstrip(b"=").decode()
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac", wrong, check=None)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("newAccount", r.stderr)
        self.assertNotIn(wrong, r.stderr)


if __name__ == "__main__":
    unittest.main()
