"""acmectl revoke: pebble's management API reports the serial revoked, signed with the account
key and (--use-cert-key) with the certificate's own key; the revoked bundle leaves service."""

import os
import shutil
import unittest

import harness
from acmectl_harness import AcmectlTestCase


class TestRevoke(AcmectlTestCase):

    def revoke_and_check(self, pebble, name, *extra, drop_account=False):
        self.issue(pebble, pebble, [name])
        if drop_account:
            shutil.rmtree(self.store_path("accounts"))
        serial = harness.cert_info(self.bundle(name))["serial"]
        self.assertEqual(pebble.cert_status(serial)["Status"], "Valid")
        # As for a server that started with a stored certificate: no stand-in on disk yet.
        shutil.rmtree(self.store_path("fallback", name))
        r = self.acmectl("revoke", *self.ca_args(pebble), "-d", name, *extra, check=0)
        self.assertIn("revoked %s" % name, r.stdout)
        status = pebble.cert_status(serial)
        self.assertEqual(status["Status"], "Revoked", status)
        # Not served any more: the bundle went to the archive.
        self.assertFalse(os.path.exists(self.store_path("certs", name, "ecdsa-p256.pem")))
        archived = os.listdir(self.store_path("certs", name, "archive"))
        self.assertTrue(any(a.endswith("ecdsa-p256.pem") for a in archived), archived)
        # Servers switch to a self-signed stand-in for the name until the replacement arrives.
        with open(self.store_path("fallback", name, "ecdsa-p256.pem")) as f:
            stand_in = harness.cert_info(f.read())
        self.assertIn("acme fallback", stand_in["subject"])
        self.assertEqual(stand_in["dns_names"], [name])
        return status

    def test_revoke_with_account_key(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        status = self.revoke_and_check(pebble, "acct.example.org", "--reason", "4")
        self.assertEqual(status.get("Reason"), 4, status)

    def test_revoke_with_certificate_key(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        # Without the account (a new store holding only the certificate), the certificate key
        # is enough.
        self.revoke_and_check(pebble, "certkey.example.org", "--use-cert-key", drop_account=True)
        self.assertEqual(self.account_dirs(), [])  # no account was needed or created

    def test_revoke_without_certificate_fails_clearly(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        r = self.acmectl("revoke", *self.ca_args(pebble), "-d", "none.example.org")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("no certificate is stored", r.stderr)


if __name__ == "__main__":
    unittest.main()
