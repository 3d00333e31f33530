"""300: `apache2 -t` (apachectl configtest) fails on ACME configuration errors and names the
file:line of the directive at fault; a valid configuration passes without creating the store;
httpd refuses to start with the same errors."""

import os
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class TestConfigtest(HttpdTestCase):

    def setUp(self):
        super().setUp()
        self.httpd_ = self.httpd()
        self.ca_file = self.ws.ca.ca_file  # any readable PEM file will do for ACMECARoot

    def conf(self, globals_="", vhosts=None):
        h = self.httpd_
        g = ("ACMECertificateAuthority https://127.0.0.1:14000/dir\nACMECARoot %s\n"
             "ACMEAgreeTOS On\nACMEStoreDir %s\n" % (self.ca_file, h.store_dir))
        if vhosts is None:
            vhosts = h.managed_vhost("example.org")
        h.write_config(h.base_config() + g + globals_ + vhosts)
        return h

    def assert_fails_at(self, pattern, needle, directive_syntax=False):
        """configtest exits non-zero and its output names file:line of the line matching
        ``pattern`` together with ``needle``."""
        h = self.httpd_
        rc, out = h.configtest()
        self.assertNotEqual(rc, 0, out)
        self.assertNotIn("Syntax OK", out)
        line = h.config_line(pattern)
        if directive_syntax:
            where = "line %d of %s" % (line, h.conf_file)
        else:
            where = "%s:%d" % (h.conf_file, line)
        self.assertIn(where, out)
        self.assertIn(needle, out)
        self.assertFalse(os.path.exists(h.store_dir), "configtest created the store")
        return out

    def test_valid_configuration(self):
        h = self.conf()
        rc, out = h.configtest()
        self.assertEqual(rc, 0, out)
        self.assertIn("Syntax OK", out)
        self.assertFalse(os.path.exists(h.store_dir))

    def test_unknown_key_type(self):
        self.conf(vhosts=self.httpd_.managed_vhost("example.org",
                                                  extra="    ACMEKeyType ecdsa-p512"))
        self.assert_fails_at(r"ACMEKeyType", "unknown key type 'ecdsa-p512'",
                             directive_syntax=True)

    def test_two_key_types_of_one_kind(self):
        self.conf(vhosts=self.httpd_.managed_vhost(
            "example.org", extra="    ACMEKeyType rsa-2048 rsa-4096"))
        self.assert_fails_at(r"ACMEKeyType", "one ECDSA and one RSA", directive_syntax=True)

    def test_unknown_challenge(self):
        self.conf(vhosts=self.httpd_.managed_vhost("example.org",
                                                  extra="    ACMEChallenge http-02"))
        self.assert_fails_at(r"ACMEChallenge", "unknown challenge type 'http-02'",
                             directive_syntax=True)

    def test_plain_http_ca_url(self):
        self.httpd_.write_config(self.httpd_.base_config() +
                                 "ACMECertificateAuthority http://127.0.0.1:14000/dir\n" +
                                 self.httpd_.managed_vhost("example.org"))
        self.assert_fails_at(r"ACMECertificateAuthority", "must start with https://",
                             directive_syntax=True)

    def test_ca_url_without_host(self):
        # Refused by the core, not by the directive's syntax check: said once, at the directive.
        self.httpd_.write_config(self.httpd_.base_config() +
                                 "ACMECertificateAuthority https:///dir\n" +
                                 self.httpd_.managed_vhost("example.org"))
        out = self.assert_fails_at(r"ACMECertificateAuthority", '"https:///dir" names no host')
        self.assertNotIn("ACME On", out)

    def test_wildcard_alias_without_dns01(self):
        self.conf(vhosts=self.httpd_.managed_vhost("example.org", aliases=["*.example.org"]))
        out = self.assert_fails_at(r"ACME On", "needs the dns-01 challenge")
        self.assertIn('"*.example.org"', out)
        self.assertIn("ServerAlias", out)  # the hint where the names came from

    def test_wildcard_domains_without_dns01(self):
        self.conf(vhosts=self.httpd_.managed_vhost(
            "example.org", extra="    ACMEDomains example.org *.example.org"))
        out = self.assert_fails_at(r"ACMEDomains", "needs the dns-01 challenge")
        self.assertIn("ACMEDomains", out)

    def test_missing_ca(self):
        h = self.httpd_
        h.write_config(h.base_config() + "ACMEAgreeTOS On\n" + h.managed_vhost("example.org"))
        self.assert_fails_at(r"ACME On", "no ACME CA directory URL is configured")

    def test_bad_renew_window(self):
        self.conf(globals_="ACMERenewWindow 30x\n")
        out = self.assert_fails_at(r"ACMERenewWindow", "30x")
        self.assertIn("ACMERenewWindow", out)

    def test_a_global_error_is_reported_once_at_its_line(self):
        h = self.conf(globals_="ACMERenewWindow 30x\n",
                      vhosts=self.httpd_.managed_vhost("a.example.org") +
                      self.httpd_.managed_vhost("b.example.org"))
        out = self.assert_fails_at(r"ACMERenewWindow", "renew window '30x' is invalid")
        self.assertEqual(out.count("renew window '30x' is invalid"), 1, out)
        self.assertNotIn("%s:%d" % (h.conf_file, h.config_line(r"ACME On")), out)

    def test_hosts_sharing_an_account_must_agree_on_its_contacts(self):
        self.conf(globals_="ACMEContactEmail a@example.org\n",
                  vhosts=self.httpd_.managed_vhost("a.example.org") +
                  self.httpd_.managed_vhost("b.example.org",
                                            extra="    ACMEContactEmail b@example.org"))
        out = self.assert_fails_at(r"ACMEContactEmail b@", "share one account")
        self.assertIn('the certificates "a.example.org" and "b.example.org"', out)
        self.assertIn("different contacts (a@example.org and b@example.org)", out)

    def test_chain_roots_without_a_certificate(self):
        self.conf(globals_="ACMEChainRoots /etc/os-release\n")
        self.assert_fails_at(r"ACMEChainRoots", 'chain roots file "/etc/os-release" holds no '
                             "usable certificate")

    def test_missing_eab_key_file(self):
        self.conf(globals_="ACMEExternalAccountBinding kid-1 file:/nonexistent/eab.key\n")
        self.assert_fails_at(r"ACMEExternalAccountBinding",
                             "EAB HMAC key file /nonexistent/eab.key: No such file or directory")

    def test_dns01_without_hook(self):
        self.conf(vhosts=self.httpd_.managed_vhost("example.org",
                                                  extra="    ACMEChallenge dns-01"))
        self.assert_fails_at(r"ACMEChallenge", "needs a DNS hook")

    def test_dns_hook_not_executable(self):
        self.conf(vhosts=self.httpd_.managed_vhost(
            "example.org", extra="    ACMEChallenge dns-01\n    ACMEDNSHook %s" %
            self.ca_file))
        self.assert_fails_at(r"ACMEDNSHook", "is not an executable file")

    def test_bad_dns_wait(self):
        self.conf(vhosts=self.httpd_.managed_vhost(
            "example.org", extra="    ACMEChallenge dns-01\n    ACMEDNSWait 2d"))
        self.assert_fails_at(r"ACMEDNSWait", "'2d' is not a wait of 0 to 3600 seconds",
                             directive_syntax=True)

    def test_bad_email(self):
        self.conf(globals_="ACMEContactEmail nobody\n")
        self.assert_fails_at(r"ACMEContactEmail", "not an email address", directive_syntax=True)

    def test_missing_ca_root_file(self):
        h = self.httpd_
        h.write_config(h.base_config() + "ACMECertificateAuthority https://ca.example/dir\n"
                       "ACMECARoot /nonexistent/ca.pem\n" + h.managed_vhost("example.org"))
        self.assert_fails_at(r"ACMECARoot", "not a readable file", directive_syntax=True)

    def test_invalid_server_name(self):
        self.conf(vhosts=self.httpd_.managed_vhost("bad_name.example.org"))
        self.assert_fails_at(r"ACME On", "bad_name.example.org")

    def test_two_hosts_one_name_different_settings(self):
        h = self.httpd_
        vhosts = (h.managed_vhost("example.org") +
                  h.managed_vhost("example.org", port=h.http_port,
                                  extra="    ACMEKeyType rsa-2048").replace(
                                      "SSLEngine on", "SSLEngine off"))
        self.conf(vhosts=vhosts)
        rc, out = h.configtest()
        self.assertNotEqual(rc, 0, out)
        # The second host is named, and the first as the other one.
        with open(h.conf_file) as f:
            lines = [i for i, l in enumerate(f, 1) if "ACME On" in l]
        self.assertEqual(len(lines), 2)
        self.assertIn("%s:%d" % (h.conf_file, lines[1]), out)
        self.assertIn("share the store name", out)
        self.assertIn("(%s:%d)" % (h.conf_file, h.config_line(r"<VirtualHost 127.0.0.1:%d>"
                                                              % h.https_port)), out)

    def test_two_hosts_one_name_same_settings_share(self):
        h = self.httpd_
        vhosts = (h.managed_vhost("example.org") +
                  h.managed_vhost("example.org", port=h.http_port).replace(
                      "SSLEngine on", "SSLEngine off"))
        self.conf(vhosts=vhosts)
        rc, out = h.configtest()
        self.assertEqual(rc, 0, out)

    def test_start_fails_too(self):
        h = self.httpd_
        h.write_config(h.base_config() + "ACMEAgreeTOS On\n" + h.managed_vhost("example.org"))
        h.start(wait_ready=False)
        self.assertNotEqual(h.proc.wait(30), 0)
        text = h.proc.log_text() + h.error_log_text()
        self.assertIn("%s:%d" % (h.conf_file, h.config_line(r"ACME On")), text)
        self.assertIn("no ACME CA directory URL is configured", text)
        self.assertFalse(os.path.exists(h.store_dir))


if __name__ == "__main__":
    unittest.main()
