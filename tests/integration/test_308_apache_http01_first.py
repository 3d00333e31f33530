"""308: http-01 is answered before anything else can redirect, rewrite or deny the request:
the port-80 host redirects everything to https (mod_alias `Redirect permanent`, or mod_rewrite
`RewriteRule ... [R=301]`, or denies all), and the certificate is still obtained through http-01.
Unknown and malformed tokens are declined, so the configured behaviour applies to them."""

import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase

REDIRECTS = {
    "alias": ("""    Redirect permanent / https://redirect.example.org/""", ["alias"]),
    "rewrite": ("""    RewriteEngine on
    RewriteRule ^ https://%{HTTP_HOST}%{REQUEST_URI} [R=301,L]""", ["rewrite"]),
    "denied": ("""    <Location />
        Require all denied
    </Location>""", ["authz_host"]),
}


class TestHttp01First(HttpdTestCase):

    def check(self, kind):
        port80, modules = REDIRECTS[kind]
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        httpd.write_config(httpd.base_config(modules=modules) + httpd.acme_globals(pebble) +
                           httpd.http_vhost("redirect.example.org", extra=port80) +
                           httpd.managed_vhost("redirect.example.org"))
        httpd.start()
        expected = 403 if kind == "denied" else 301
        # The configured behaviour for ordinary paths, unknown and malformed tokens.
        for path in ("/", "/index.html", "/.well-known/acme-challenge/",
                     "/.well-known/acme-challenge/" + "A" * 43,
                     "/.well-known/acme-challenge/bad.token!",
                     "/.well-known/acme-challenge/../../etc/passwd"):
            r = httpd.get(path, server_name="redirect.example.org", https=False)
            self.assertEqual(r.status, expected, path)
        tls = self.wait_for_pebble_cert(httpd, pebble, "redirect.example.org")
        self.assert_verifies(tls, pebble, "redirect.example.org")
        log = httpd.error_log_text()
        self.assertIn("answering the http-01 challenge", log)
        # pebble's validation requests got 200 from the port-80 host.
        with open(httpd.access_log) as f:
            hits = [l for l in f if "/.well-known/acme-challenge/" in l and '" 200 ' in l]
        self.assertTrue(hits)

    def test_redirect_permanent(self):
        self.check("alias")

    def test_rewrite_rule(self):
        self.check("rewrite")

    def test_require_all_denied(self):
        self.check("denied")


if __name__ == "__main__":
    unittest.main()
