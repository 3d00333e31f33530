"""The EAB HMAC key stays out of other users' sight: acmectl reads it from --eab-hmac-file (a
private file; one readable by everybody is refused) or from $ACME_EAB_HMAC_KEY (removed from the
environment, so the dns-01 hook does not inherit it), and the compatible --eab-hmac KEY is blanked
in /proc/<pid>/cmdline while acmectl runs."""

import base64
import json
import os
import unittest

import harness
from acmectl_harness import AcmectlTestCase

KID = "kid-1"
HMAC = base64.urlsafe_b64encode(b"zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
                                ).rstrip(b"=").decode()


class TestEabSecrets(AcmectlTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(eab_keys={KID: HMAC},
                                           env={"PEBBLE_WFE_NONCEREJECT": "0"})

    def assert_eab_account(self, ca=None):
        dirs = self.account_dirs()
        self.assertEqual(len(dirs), 1, dirs)
        with open(os.path.join(dirs[0], "account.json")) as f:
            account = json.load(f)
        self.assertEqual(account.get("eab_kid"), KID)
        self.assertTrue(account["url"].startswith((ca or self.pebble).base_url), account)

    def test_key_from_a_private_file(self):
        # Surrounding white space (an editor's newline) is ignored.
        key_file = self.ws.write("eab.key", "  %s\n\n" % HMAC, mode=0o600)
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac-file", key_file)
        self.assertEqual(r.paths, [self.store_path("certs", "one.example.org", "ecdsa-p256.pem")])
        self.assertNotIn(HMAC, r.stderr)
        self.assert_eab_account()

    def test_a_file_readable_by_everybody_is_refused(self):
        key_file = self.ws.write("eab.key", HMAC + "\n", mode=0o644)
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac-file", key_file, check=2)
        self.assertIn(key_file, r.stderr)
        self.assertIn("readable by every local user", r.stderr)
        self.assertNotIn(HMAC, r.stderr)
        self.assertFalse(os.path.exists(self.store))
        # A missing or empty file, or the key given twice, are usage errors too.
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac-file", key_file + ".missing", check=2)
        self.assertIn(key_file + ".missing", r.stderr)
        empty = self.ws.write("empty.key", "\n", mode=0o600)
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac-file", empty, check=2)
        self.assertIn("empty", r.stderr)
        os.chmod(key_file, 0o600)
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       "--eab-hmac-file", key_file, "--eab-hmac", HMAC, check=2)
        self.assertIn("give the key once", r.stderr)

    def test_key_from_the_environment_is_not_passed_to_the_hook(self):
        r = self.issue(self.pebble, self.pebble, ["one.example.org"], "--eab-kid", KID,
                       env_key=HMAC)
        self.assertEqual(len(r.paths), 1, r)
        self.assert_eab_account()
        # The dns-01 hook (run as the unprivileged user) dumps its environment and fails.
        out = self.ws.mkdir("hook-out")
        os.chmod(out, 0o777)
        hook = self.ws.write("hook.sh", "#!/bin/sh\nenv > %s/env.txt\nexit 1\n" % out,
                             mode=0o755)
        r = self.acmectl(*(["issue"] + self.ca_args(self.pebble) + [
            "-d", "two.example.org", "--challenge", "dns-01", "--dns-hook", hook,
            "--eab-kid", KID]), env={"ACME_EAB_HMAC_KEY": HMAC}, check=1)
        with open(os.path.join(out, "env.txt")) as f:
            env = f.read()
        self.assertIn("PATH=", env)  # the hook ran
        self.assertNotIn("ACME_EAB_HMAC_KEY", env)
        self.assertNotIn(HMAC, env)

    def test_key_on_the_command_line_is_blanked_in_proc_cmdline(self):
        front = self.ws.start_ca_front(self.pebble, ari=False, profiles=None)
        # The CA front holds newAccount (the request that needs the key) while we look.
        fault = front.delay_next(4, path="newAccount", method="POST")
        argv = [harness.acmectl_path(), "issue"] + self.ca_args(front) + [
            "-d", "one.example.org", "--http01-listen",
            "%s:%d" % (harness.LOCALHOST, self.pebble.http_port),
            "--eab-kid", KID, "--eab-hmac", HMAC]
        proc = self.ws.start("acmectl", argv)
        harness.wait_until(lambda: fault.fired >= 1 or not proc.alive(), 60,
                           what="acmectl to send newAccount")
        self.assertTrue(proc.alive(), proc)
        with open("/proc/%d/cmdline" % proc.pid, "rb") as f:
            cmdline = f.read()
        self.assertIn(b"--eab-hmac\0", cmdline)
        self.assertIn(KID.encode(), cmdline)
        self.assertNotIn(HMAC.encode(), cmdline)
        self.assertNotIn(HMAC[:16].encode(), cmdline)
        self.assertEqual(proc.wait(60), 0)
        self.assert_eab_account(front)

    def test_help_prefers_the_file_or_the_environment(self):
        r = self.acmectl("issue", "--help", check=0)
        self.assertIn("--eab-hmac-file FILE", r.stdout)
        self.assertIn("ACME_EAB_HMAC_KEY", r.stdout)
        self.assertIn("prefer the file or the environment", r.stdout)

    def issue(self, ca, pebble, domains, *extra, env_key=None, check=0):
        args = ["issue"] + self.ca_args(ca)
        for d in domains:
            args += ["-d", d]
        args += ["--http01-listen", "%s:%d" % (harness.LOCALHOST, pebble.http_port)]
        env = {"ACME_EAB_HMAC_KEY": env_key} if env_key else None
        return self.acmectl(*(args + list(extra)), env=env, check=check)


if __name__ == "__main__":
    unittest.main()
