"""302: graceful restarts keep serving the issued certificate without ordering a new one; the
driver role moves to a child of the new generation, and to another child when the driving one
exits (MaxConnectionsPerChild); an order interrupted by a graceful restart is finished by the
next driver."""

import re
import time
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


def drivers(log):
    """PIDs that announced they manage the store, in order."""
    return [int(p) for p in re.findall(r"process (\d+) now manages the certificates", log)]


class TestGraceful(HttpdTestCase):

    def start_managed(self, pebble_kwargs=None, mpm="event", extra_globals=""):
        httpd = self.httpd(mpm=mpm)
        pebble = self.start_pebble(httpd, **(pebble_kwargs or {}))
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) + extra_globals +
                           httpd.http_vhost() + httpd.managed_vhost("example.org"))
        httpd.start()
        return httpd, pebble

    def test_graceful_keeps_certificate_and_hands_over_driver(self):
        httpd, pebble = self.start_managed()
        tls = self.wait_for_pebble_cert(httpd, pebble, "example.org")
        fingerprint = harness.cert_info(tls.leaf)["fingerprint_sha256"]
        first_driver = drivers(httpd.error_log_text())[0]
        parent = httpd.proc.pid

        for round_ in range(2):
            httpd.graceful()
            # Served at once by the new generation, from the store (startup file + cache).
            again = httpd.chain("example.org")
            self.assertEqual(harness.cert_info(again.leaf)["fingerprint_sha256"], fingerprint)
            self.assert_verifies(again, pebble, "example.org")
            # A child of the new generation takes the driver role over.
            harness.wait_until(lambda: len(drivers(httpd.error_log_text())) >= round_ + 2, 30,
                               what="a new driver after graceful restart %d" % (round_ + 1))
        log = httpd.error_log_text()
        self.assertEqual(httpd.proc.pid, parent)
        self.assertNotIn(parent, drivers(log))
        self.assertNotEqual(drivers(log)[-1], first_driver)
        # No second order: the stored certificate is reused.
        self.assertEqual(len(re.findall(r"ordering a certificate", log)), 1, log[-4000:])
        for _ in range(3):
            self.assertEqual(harness.cert_info(httpd.chain("example.org").leaf)
                             ["fingerprint_sha256"], fingerprint)

    def test_driver_moves_on_when_its_child_exits(self):
        # prefork: every child is a process; MaxConnectionsPerChild retires them quickly.
        httpd, pebble = self.start_managed(mpm="prefork",
                                           extra_globals="MaxConnectionsPerChild 3\n")
        self.wait_for_pebble_cert(httpd, pebble, "example.org")
        first = drivers(httpd.error_log_text())[0]

        def moved():
            # Connections retire children (the driving one among them) until another child
            # announces that it drives.
            for _ in range(6):
                httpd.get("/index.html", https=False)
            later = [p for p in drivers(httpd.error_log_text()) if p != first]
            return later
        later = harness.wait_until(moved, 60, interval=0.5, what="another child to drive")
        self.assertFalse(harness.run(["kill", "-0", str(first)], check=False).returncode == 0
                         and first in httpd.children(), "the first driver is still alive")
        self.assertNotEqual(later[0], httpd.proc.pid)
        # One certificate was issued, even if the driver changed while ordering it (a retired
        # child's order is resumed by the next driver, not placed again).
        log = httpd.error_log_text()
        self.assertEqual(len(re.findall(r"certificate installed", log)), 1, log[-4000:])
        self.assertLessEqual(len(re.findall(r"order https://\S+ placed", log)), 1)

    def test_order_interrupted_by_graceful_is_finished(self):
        # The CA front holds the challenge response for 4 s: the first order is in flight when
        # the graceful restart happens, deterministically.
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        front = self.ws.start_ca_front(pebble)
        front.delay_next(4, path="challenge", method="POST")
        httpd.write_config(
            httpd.base_config() +
            "ACMECertificateAuthority %s\nACMECARoot %s\nACMEChainRoots %s\nACMEAgreeTOS On\nACMEStoreDir %s\n" % (
                front.directory_url, pebble.ca_root, pebble.chain_roots, httpd.store_dir) +
            httpd.http_vhost() + httpd.managed_vhost("example.org"))
        httpd.start()
        httpd.wait_for_error_log(r"order https://\S+ placed", timeout=30)
        httpd.graceful()
        leaf = harness.cert_info(httpd.chain("example.org").leaf)
        self.assertEqual(leaf["issuer"], leaf["subject"],
                         "expected the self-signed fallback right after the graceful restart")
        tls = self.wait_for_pebble_cert(httpd, pebble, "example.org", timeout=60)
        self.assert_verifies(tls, pebble, "example.org")
        log = httpd.error_log_text()
        self.assertGreaterEqual(len(set(drivers(log))), 2, log[-4000:])
        self.assertEqual(log.count("certificate installed"), 1, log[-4000:])

if __name__ == "__main__":
    unittest.main()
