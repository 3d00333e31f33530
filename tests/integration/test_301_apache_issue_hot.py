"""301: httpd with `ACME On` and an empty store starts at once with the self-signed fallback,
obtains a certificate from pebble in the background, and presents it on the next handshake with
no restart and no graceful: the chain verifies against pebble's root. The status handler reports
it (JSON and Prometheus)."""

import re
import sys
import time
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestIssueWithoutRestart(HttpdTestCase):

    def test_fallback_then_pebble_certificate_without_restart(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        status_vhost = httpd.http_vhost(extra="""    <Location /acme-status>
        SetHandler acme-status
    </Location>""")
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) + status_vhost +
                           httpd.managed_vhost("example.org", aliases=["www.example.org"]))
        t0 = time.monotonic()
        httpd.start()
        up = time.monotonic()
        parent = httpd.proc.pid

        # A handshake works at once: the fallback (or, if the CA was quick, the real one).
        first = httpd.chain("example.org")
        self.assertTrue(first.ok)
        info = harness.cert_info(first.leaf)
        self.assertIn("example.org", info["dns_names"])

        tls = self.wait_for_pebble_cert(httpd, pebble, "example.org")
        served = time.monotonic()
        leaf = harness.cert_info(tls.leaf)
        self.assertEqual(sorted(leaf["dns_names"]), ["example.org", "www.example.org"])
        self.assertEqual(leaf["key_type"], "ec")
        self.assertEqual(leaf["curve"], "prime256v1")
        self.assert_verifies(tls, pebble, "www.example.org")
        self.assertIn("Pebble", leaf["issuer"])
        sys.stderr.write("\n301: httpd up after %.2fs; pebble certificate served %.2fs after "
                         "that\n" % (up - t0, served - up))

        # Same parent, no restart of any kind happened.
        self.assertEqual(httpd.proc.pid, parent)
        self.assertTrue(httpd.alive())
        log = httpd.error_log_text()
        self.assertEqual(log.count("resuming normal operations"), 1, log[-3000:])
        self.assertNotIn("SIGUSR1", log)
        self.assertNotIn("SIGHUP", log)
        # Every handshake from now on (any child, TLS 1.2 and 1.3) gets it.
        for version in ("1.2", "1.3", "1.3", "1.2"):
            again = httpd.chain("www.example.org", tls_version=version)
            self.assertEqual(harness.cert_info(again.leaf)["fingerprint_sha256"],
                             leaf["fingerprint_sha256"], version)
        # The driver ran in a child as the worker user, never in the root parent.
        m = re.search(r"process (\d+) now manages the certificates", log)
        self.assertIsNotNone(m, log[-3000:])
        self.assertNotEqual(int(m.group(1)), parent)

        # Requests are served normally (no 503 as with mod_ssl's fallback mechanism).
        r = httpd.get("/index.html", server_name="example.org", ca=pebble.issued_root_file(),
                      insecure=False)
        self.assertEqual(r.status, 200)

        # Status: JSON.
        r = httpd.get("/acme-status", https=False)
        self.assertEqual(r.status, 200, r.body)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        doc = r.json()
        self.assertEqual(doc["version"], 1)
        certs = {c["name"]: c for c in doc["certificates"]}
        self.assertEqual(list(certs), ["example.org"])
        c = certs["example.org"]
        self.assertEqual(sorted(c["domains"]), ["example.org", "www.example.org"])
        self.assertEqual(c["ca"], pebble.directory_url)
        self.assertEqual(c["state"], "valid")
        k = c["key_types"]["ecdsa-p256"]
        self.assertEqual(k["serial"].lower().lstrip("0"), leaf["serial"].lstrip("0"))
        self.assertIn("Pebble", k["issuer"])
        self.assertGreater(k["expires_in_seconds"], 0)
        self.assertIsNone(c["last_error"])
        # Status: Prometheus.
        r = httpd.get("/acme-status?format=prometheus", https=False)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Content-Type").startswith("text/plain; version=0.0.4"))
        text = r.body.decode()
        self.assertRegex(text, r'acme_certificate_valid\{name="example.org",'
                               r'key_type="ecdsa-p256"\} 1')
        self.assertRegex(text, r'acme_certificate_not_after_seconds\{name="example.org",'
                               r'key_type="ecdsa-p256"\} %d' % leaf["not_after"])
        # Only GET.
        r = harness.http_request("POST", "http://127.0.0.1:%d/acme-status" % httpd.http_port,
                                 body="x")
        self.assertEqual(r.status, 405)


if __name__ == "__main__":
    unittest.main()
