"""314: httpd never installs a chain that a client trusting the CA's roots cannot verify. The CA
front answers the certificate download with the leaf alone: httpd keeps serving the stand-in, and
the status reports the refusal as the certificate's last error with a later retry."""

import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase

NAME = "chain.example.org"


class TestUnverifiableChain(HttpdTestCase):

    def test_leaf_without_intermediate_is_not_installed(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        front = self.ws.start_ca_front(pebble, ari=False, profiles=None)
        front.corrupt_next_certificate(mode="leaf-only")
        status_vhost = httpd.http_vhost(extra="""    <Location /acme-status>
        SetHandler acme-status
    </Location>""")
        httpd.write_config(httpd.base_config() +
                           httpd.acme_globals(pebble, ca_url=front.directory_url) +
                           status_vhost + httpd.managed_vhost(NAME))
        httpd.start()

        def failed():
            certs = httpd.get("/acme-status", https=False).json()["certificates"]
            return certs[0] if certs and certs[0]["fails"] >= 1 else None
        cert = harness.wait_until(failed, timeout=60, what="the refused chain in the status")
        self.assertEqual(front.count("certificate"), 1)
        self.assertEqual(cert["state"], "retrying", cert)
        self.assertIn("does not verify against the trusted roots", cert["last_error"]["detail"])
        self.assertGreater(cert["next_renewal"], cert["last_error"]["at"], cert)
        httpd.wait_for_error_log(r"acme: chain\.example\.org: .*does not verify", timeout=10)

        tls = httpd.chain(NAME)
        self.assertTrue(tls.ok, tls)
        leaf = harness.cert_info(tls.leaf)
        self.assertEqual(leaf["issuer"], leaf["subject"], leaf)
        self.assertFalse(harness.verify_chain(tls.certs, pebble.issued_root_file(), NAME))


if __name__ == "__main__":
    unittest.main()
