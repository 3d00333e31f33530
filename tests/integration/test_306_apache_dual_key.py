"""306: `ACMEKeyType ecdsa-p256 rsa-2048`: one virtual host serves an ECDSA and an RSA
certificate (fallbacks at once, then pebble's), chosen by the client's signature algorithms
(TLS 1.3) or cipher suites (TLS 1.2); both verify against pebble's root."""

import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase

ECDSA = "ECDSA+SHA256:ECDSA+SHA384"
RSA = "RSA-PSS+SHA256:RSA+SHA256"


class TestDualKey(HttpdTestCase):

    def test_ecdsa_and_rsa(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() +
                           httpd.managed_vhost("dual.example.org",
                                               extra="    ACMEKeyType ecdsa-p256 rsa-2048\n"
                                               "    <Location /acme-status>\n"
                                               "        SetHandler acme-status\n"
                                               "    </Location>"))
        httpd.start()
        # Both fallbacks from the start.
        ec = harness.cert_info(httpd.chain("dual.example.org", sigalgs=ECDSA).leaf)
        rsa = harness.cert_info(httpd.chain("dual.example.org", sigalgs=RSA).leaf)
        self.assertEqual((ec["key_type"], rsa["key_type"]), ("ec", "rsa"))

        def both_issued():
            got = {}
            for name, sigalgs in (("ec", ECDSA), ("rsa", RSA)):
                tls = httpd.chain("dual.example.org", sigalgs=sigalgs, check=False)
                if not (tls.ok and harness.verify_chain(tls.certs, pebble.issued_root_file(),
                                                         hostname="dual.example.org")):
                    return None
                got[name] = tls
            return got
        got = harness.wait_until(both_issued, 60, interval=0.3, what="both certificates")
        ec = harness.cert_info(got["ec"].leaf)
        rsa = harness.cert_info(got["rsa"].leaf)
        self.assertEqual((ec["key_type"], ec["curve"]), ("ec", "prime256v1"))
        self.assertEqual((rsa["key_type"], rsa["key_bits"]), ("rsa", 2048))
        self.assertNotEqual(ec["serial"], rsa["serial"])
        self.assertEqual(got["ec"].peer_sig_type, "ECDSA")
        self.assertIn(got["rsa"].peer_sig_type, ("RSA-PSS", "RSA"))
        # TLS 1.2: the cipher suite decides.
        for ciphers, kind in (("ECDHE-ECDSA-AES128-GCM-SHA256", "ec"),
                              ("ECDHE-RSA-AES128-GCM-SHA256", "rsa")):
            tls = httpd.chain("dual.example.org", tls_version="1.2", ciphers=ciphers)
            self.assertEqual(harness.cert_info(tls.leaf)["key_type"], kind, ciphers)
            self.assert_verifies(tls, pebble, "dual.example.org")
        # A client that accepts both gets one of them, verified.
        tls = httpd.chain("dual.example.org")
        self.assert_verifies(tls, pebble, "dual.example.org")
        # Status lists both key types.
        r = httpd.get("/acme-status", server_name="dual.example.org")
        self.assertEqual(r.status, 200)
        keys = r.json()["certificates"][0]["key_types"]
        self.assertEqual(sorted(keys), ["ecdsa-p256", "rsa-2048"])
        self.assertEqual(keys["ecdsa-p256"]["serial"].lower().lstrip("0"),
                         ec["serial"].lstrip("0"))
        self.assertEqual(keys["rsa-2048"]["serial"].lower().lstrip("0"),
                         rsa["serial"].lstrip("0"))
        # Elsewhere the handler is not exposed.
        self.assertEqual(httpd.get("/acme-status", https=False).status, 404)
        self.assertEqual(httpd.error_log_text().count("resuming normal operations"), 1)


if __name__ == "__main__":
    unittest.main()
