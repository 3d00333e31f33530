"""304: the module works under mpm_event, mpm_prefork and mpm_worker: fallback at start, pebble
certificate without restart (verifying against pebble's root), exactly one driver among the
children, running as the worker user."""

import re
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestMpms(HttpdTestCase):

    def check_mpm(self, mpm):
        httpd = self.httpd(mpm=mpm)
        pebble = self.start_pebble(httpd)
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() +
                           httpd.managed_vhost("mpm.example.org", aliases=["www.example.org"]))
        httpd.start()
        self.assertIn("mpm_%s" % mpm, httpd.error_log_text())
        tls = self.wait_for_pebble_cert(httpd, pebble, "mpm.example.org")
        self.assert_verifies(tls, pebble, "www.example.org")
        # Every child serves it (many handshakes spread over the children).
        fp = harness.cert_info(tls.leaf)["fingerprint_sha256"]
        for _ in range(8):
            self.assertEqual(harness.cert_info(httpd.chain("www.example.org").leaf)
                             ["fingerprint_sha256"], fp)
        log = httpd.error_log_text()
        drivers = set(re.findall(r"process (\d+) now manages the certificates", log))
        self.assertEqual(len(drivers), 1, log[-3000:])
        driver = int(drivers.pop())
        self.assertIn(driver, httpd.children())
        with open("/proc/%d/status" % driver) as f:
            uids = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
        self.assertEqual(uids, ["65534"] * 4)
        self.assertEqual(log.count("resuming normal operations"), 1)
        self.assertEqual(httpd.stop(), 0)

    def test_event(self):
        self.check_mpm("event")

    def test_prefork(self):
        self.check_mpm("prefork")

    def test_worker(self):
        self.check_mpm("worker")


if __name__ == "__main__":
    unittest.main()
