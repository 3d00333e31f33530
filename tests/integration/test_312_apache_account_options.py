"""312: the account and order directives reach the CA: `ACMEExternalAccountBinding` against
a pebble that requires EAB (and a wrong key shows up in the status, httpd keeps serving the
fallback), `ACMEProfile` (seen by the CA front in newOrder), several `ACMECertificateAuthority`
URLs (a first CA that cannot be reached costs seconds: the next one is asked in the same
attempt), and per-host `ACMEStoreDir` (one store and one driver each)."""

import base64
import os
import re
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestAccountOptions(HttpdTestCase):

    def test_eab_and_profile(self):
        hmac = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        httpd = self.httpd()
        pebble = self.start_pebble(httpd, eab_keys={"kid-apache": hmac})
        front = self.ws.start_ca_front(pebble)
        # The key from a file that only its owner reads (not in httpd's configuration).
        key_file = self.ws.write("eab.key", hmac + "\n", mode=0o600)
        httpd.write_config(
            httpd.base_config() +
            "ACMECertificateAuthority %s\nACMECARoot %s\nACMEChainRoots %s\nACMEAgreeTOS On\nACMEStoreDir %s\n"
            "ACMEContactEmail admin@example.org\n"
            "ACMEExternalAccountBinding kid-apache file:%s\nACMEProfile shortlived\n" % (
                front.directory_url, pebble.ca_root, pebble.chain_roots, httpd.store_dir,
                key_file) +
            httpd.http_vhost() + httpd.managed_vhost("eab.example.org"))
        httpd.start()
        tls = self.wait_for_pebble_cert(httpd, pebble, "eab.example.org")
        self.assert_verifies(tls, pebble, "eab.example.org")
        self.assertEqual(front.profiles_seen, ["shortlived"])
        with open(httpd.conf_file) as f:
            self.assertNotIn(hmac, f.read())

    def test_wrong_eab_key_is_reported_in_status(self):
        good = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        bad = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        httpd = self.httpd()
        pebble = self.start_pebble(httpd, eab_keys={"kid-apache": good})
        httpd.write_config(
            httpd.base_config() + httpd.acme_globals(pebble) +
            "ACMEExternalAccountBinding kid-apache %s\n" % bad +
            httpd.http_vhost(extra="    <Location /acme-status>\n        SetHandler acme-status"
                                   "\n    </Location>") +
            httpd.managed_vhost("eab.example.org"))
        httpd.start()

        def failed():
            doc = httpd.get("/acme-status", https=False).json()
            cert = doc["certificates"][0]
            return cert if cert["last_error"] else None
        cert = harness.wait_until(failed, 30, interval=0.3, what="the failure in the status")
        self.assertIn("unauthorized", cert["last_error"]["type"] + cert["last_error"]["detail"])
        self.assertGreaterEqual(cert["fails"], 1)
        # Still serving the fallback; httpd keeps running.
        leaf = harness.cert_info(httpd.chain("eab.example.org").leaf)
        self.assertEqual(leaf["subject"], leaf["issuer"])
        self.assertTrue(httpd.alive())

    def test_ca_failover(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        dead = "https://127.0.0.1:%d/dir" % harness.free_port()
        httpd.write_config(
            httpd.base_config() +
            "ACMECertificateAuthority %s %s\nACMECARoot %s\nACMEChainRoots %s\n"
            "ACMEAgreeTOS On\nACMEStoreDir %s\n"
            % (dead, pebble.directory_url, pebble.ca_root, pebble.chain_roots, httpd.store_dir) +
            httpd.http_vhost() + httpd.managed_vhost("failover.example.org"))
        httpd.start()
        # The first CA cannot be reached: the second is asked in the same attempt, so the
        # certificate is served within seconds, not after minutes of backoff.
        tls = self.wait_for_pebble_cert(httpd, pebble, "failover.example.org", timeout=20)
        self.assert_verifies(tls, pebble, "failover.example.org")
        log = httpd.error_log_text()
        self.assertRegex(log, r"failover\.example\.org: .*; trying %s now" % re.escape(
            pebble.directory_url))
        self.assertNotIn("next attempt", log)

    def test_one_store_per_host(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        store_a = os.path.join(httpd.dir, "store-a")
        store_b = os.path.join(httpd.dir, "store-b")
        httpd.write_config(
            httpd.base_config() + httpd.acme_globals(pebble, store=False) + httpd.http_vhost() +
            httpd.managed_vhost("a.example.org", extra="    ACMEStoreDir %s" % store_a) +
            httpd.managed_vhost("b.example.org", extra="    ACMEStoreDir %s" % store_b))
        httpd.start()
        for name in ("a.example.org", "b.example.org"):
            self.assert_verifies(self.wait_for_pebble_cert(httpd, pebble, name), pebble, name)
        self.assertTrue(os.path.exists(os.path.join(store_a, "certs", "a.example.org")))
        self.assertFalse(os.path.exists(os.path.join(store_a, "certs", "b.example.org")))
        self.assertTrue(os.path.exists(os.path.join(store_b, "certs", "b.example.org")))
        log = httpd.error_log_text()
        self.assertIn("manages the certificates in %s" % store_a, log)
        self.assertIn("manages the certificates in %s" % store_b, log)


if __name__ == "__main__":
    unittest.main()
