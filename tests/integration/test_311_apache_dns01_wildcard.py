"""311: a wildcard certificate through dns-01: `ACMEDomains example.org *.example.org`,
`ACMEChallenge dns-01`, `ACMEDNSHook` (tests/integration/dns_hook.sh, publishing in
pebble-challtestsrv). The hook runs in the driving child, as the worker user, with httpd's
environment; any name under the wildcard gets the certificate, without restart."""

import os
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestDns01Wildcard(HttpdTestCase):

    def test_wildcard(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        hook_log = self.ws.write("hook/calls.log", "", mode=0o666)
        os.chmod(os.path.dirname(hook_log), 0o777)
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) + httpd.managed_vhost(
            "wild.example.org", aliases=["*.wild.example.org"],
            extra="    ACMEDomains wild.example.org *.wild.example.org\n"
                  "    ACMEChallenge dns-01\n    ACMEDNSHook %s\n    ACMEDNSWait 0" %
                  harness.dns_hook_path()))
        rc, out = httpd.configtest()
        self.assertEqual(rc, 0, out)
        httpd.proc = self.ws.start(httpd.name, httpd.argv("-DFOREGROUND"), env={
            "ACME_TEST_CHALLTESTSRV": pebble.challtestsrv_url, "ACME_TEST_HOOK_LOG": hook_log})
        harness.wait_for_port(httpd.https_port, proc=httpd.proc)
        tls = self.wait_for_pebble_cert(httpd, pebble, "anything.wild.example.org", timeout=60)
        info = harness.cert_info(tls.leaf)
        self.assertEqual(sorted(info["dns_names"]), ["*.wild.example.org", "wild.example.org"])
        self.assert_verifies(httpd.chain("wild.example.org"), pebble, "wild.example.org")
        self.assert_verifies(httpd.chain("www.wild.example.org"), pebble, "www.wild.example.org")
        # One authorization for the name, one for the wildcard: both are validated through
        # _acme-challenge.wild.example.org (the hook gets the base name, RFC 8555 7.1.3).
        with open(hook_log) as f:
            calls = [l.split()[:2] for l in f]
        self.assertEqual(calls.count(["setup", "wild.example.org"]), 2, calls)
        self.assertEqual(calls.count(["teardown", "wild.example.org"]), 2, calls)
        log = httpd.error_log_text()
        self.assertEqual(log.count("resuming normal operations"), 1)
        self.assertNotIn("answering the http-01 challenge", log)


if __name__ == "__main__":
    unittest.main()
