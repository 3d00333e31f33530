"""nginx -t: configuration errors of the module are refused with a message that names the
problem and the file:line where it is, and a good configuration needs no ssl_certificate."""

import os
import re

import harness
import nginx_harness

# Each case: (name, http block body, line needle, expected message regex, main-context extra).
# The line needle is a substring of the line the error must point at.
CASES = [
    ("regex server name", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name ~^www\\d+\\.example\\.org$;
            acme on;
        }""", "acme on;",
     r'the regular expression server name "~\^www\\d\+\\\.example\\\.org\$" cannot be a '
     r'certificate name; list the names with "acme_domains"'),
    ("wildcard without dns-01", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name *.example.org;
            acme on;
        }""", "acme on;",
     r'wildcard name "\*\.example\.org" needs the dns-01 challenge'),
    ("leading-dot name without dns-01", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name .example.org;
            acme on;
        }""", "acme on;",
     r'wildcard name "\*\.example\.org" needs the dns-01 challenge'),
    ("trailing wildcard", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name www.example.*;
            acme on;
        }""", "acme on;",
     r'the server name "www\.example\.\*" with a trailing wildcard cannot be a certificate name'),
    ("no names", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            acme on;
        }""", "acme on;",
     r'no names for the certificate: set "server_name" or "acme_domains"'),
    ("invalid name", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name _;
            acme on;
        }""", "acme on;", r'invalid domain name "_"'),
    ("bad key type", """
        acme_key_type ed25519;
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme_key_type",
     r'invalid key type "ed25519" \(use ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or '
     r'rsa-4096\)'),
    ("two ECDSA key types", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_key_type ecdsa-p256 ecdsa-p384;
            acme on;
        }""", "acme_key_type",
     r'two key types must be one ECDSA and one RSA type, not "ecdsa-p256" and "ecdsa-p384"'),
    ("three key types", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_key_type ecdsa-p256 rsa-2048 rsa-4096;
            acme on;
        }""", "acme_key_type", r'invalid number of arguments in "acme_key_type" directive'),
    ("bad challenge", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_challenge http-02;
            acme on;
        }""", "acme_challenge",
     r'invalid challenge type "http-02" \(use http-01, tls-alpn-01 or dns-01\)'),
    ("missing acme_ca", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme on;", r'no ACME CA directory URL is configured', "no-ca"),
    ("plain http CA", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_ca http://ca.example.org/dir;
            acme on;
        }""", 'acme_ca http://',
     r'CA directory URL "http://ca\.example\.org/dir" must start with https://'),
    ("http-level CA that is not a URL", """
        acme_ca notaurl;
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme_ca notaurl", r'CA directory URL "notaurl" must start with https://',
     "no-ca"),
    ("CA without a host", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_ca https:///dir;
            acme on;
        }""", 'acme_ca https:///dir', r'CA directory URL "https:///dir" names no host'),
    ("acme on|off", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme yes;
        }""", "acme yes;",
     r'invalid value "yes" in "acme" directive, it must be "on" or "off"'),
    ("acme_agree_tos value", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_agree_tos maybe;
            acme on;
        }""", "acme_agree_tos maybe",
     r'invalid value "maybe" in "acme_agree_tos" directive, it must be "on" or "off"'),
    ("renew window", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_renew_window soon;
            acme on;
        }""", 'acme_renew_window soon', r'expected a duration like 30d or a percentage like 33%'),
    ("dns-01 without hook", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_challenge dns-01;
            acme on;
        }""", 'acme_challenge dns-01', r'the dns-01 challenge needs a DNS hook program'),
    ("dns hook not executable", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_challenge dns-01;
            acme_dns_hook /nonexistent/hook.sh;
            acme on;
        }""", 'acme_dns_hook /nonexistent', r'DNS hook "/nonexistent/hook\.sh" is not an executable file'),
    ("dns wait too long", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_dns_wait 2h;
            acme on;
        }""", 'acme_dns_wait 2h', r'DNS propagation wait must be between 0 and 3600 seconds'),
    ("EAB algorithm", """
        acme_eab kid-1 c2VjcmV0 HS1;
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme_eab",
     r'invalid EAB MAC algorithm "HS1" \(use HS256, HS384 or HS512\)'),
    ("EAB key not base64url", """
        acme_eab kid-1 "not base64!";
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", 'acme_eab kid-1 "not base64!"',
     r'the external account binding HMAC key is not base64url-encoded'),
    ("bad email", """
        acme_email "not an address";
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", 'acme_email "not an address"', r'invalid contact email address "not an address"'),
    ("two contacts for one account", """
        acme_email a@example.org;
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name b.example.org;
            acme_email b@example.org;
            acme on;
        }""", 'acme_email b@example.org',
     r'the certificates "a\.example\.org" and "b\.example\.org" share one account at '
     r'https://127\.0\.0\.1:1/dir but give it different contacts \(a@example\.org and '
     r'b@example\.org\)'),
    ("two HMAC keys for one EAB key id", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_eab kid-1 c2VjcmV0;
            acme on;
        }
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name b.example.org;
            acme_eab kid-1 b3RoZXI;
            acme on;
        }""", 'acme_eab kid-1 b3RoZXI',
     r'the external account binding key id "kid-1" at https://127\.0\.0\.1:1/dir has another '
     r'HMAC key for the certificate "a\.example\.org"'),
    ("chain roots file missing", """
        acme_chain_roots /nonexistent/roots.pem;
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme_chain_roots /nonexistent",
     r'chain roots file "/nonexistent/roots\.pem" is not readable'),
    ("chain roots file without a certificate", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_chain_roots /etc/os-release;
            acme on;
        }""", "acme_chain_roots /etc/os-release",
     r'chain roots file "/etc/os-release" holds no usable certificate'),
    ("EAB key file missing", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_eab kid-1 file:/nonexistent/eab.key;
            acme on;
        }""", "acme_eab kid-1 file:",
     r'EAB HMAC key file /nonexistent/eab\.key: No such file or directory'),
    ("bad profile", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_profile "short lived";
            acme on;
        }""", 'acme_profile "short lived"', r'invalid ACME profile name "short lived"'),
    ("ssl_certificate in a managed server", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            ssl_certificate /etc/ssl/certs/ssl-cert-snakeoil.pem;
            ssl_certificate_key /etc/ssl/private/ssl-cert-snakeoil.key;
            acme on;
        }""", "acme on;",
     r'"ssl_certificate" and "ssl_certificate_key" cannot be set in a server with "acme on"'),
    ("same store name, different settings", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }
        server {
            listen 127.0.0.1:%(http)d ssl;
            server_name a.example.org;
            acme_key_type rsa-2048;
            acme on;  # second
        }""", "acme on;  # second", r'two certificates would share the store name "a\.example\.org"'),
    ("acme in a location", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            location / { acme on; }
        }""", "location / { acme on; }", r'"acme" directive is not allowed here'),
    ("acme_status with an argument", """
        server {
            listen 127.0.0.1:%(http)d;
            location /s { acme_status json; }
        }""", "acme_status json", r'invalid number of arguments in "acme_status" directive'),
    ("duplicate acme_ca", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_ca https://one.example/dir;
            acme_ca https://two.example/dir;
            acme on;
        }""", "two.example", r'"acme_ca" directive is duplicate'),
    ("CA listed twice", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_ca https://one.example/dir https://one.example/dir;
            acme on;
        }""", "acme_ca https://one", r'"https://one\.example/dir" is listed twice in "acme_ca"'),
    ("store cannot be created", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme on;
        }""", "acme_store /dev/null/store", r'acme_store: store: open directory /dev/null/store: Not a directory',
     "bad-store"),
    ("acme_store in a server", """
        server {
            listen 127.0.0.1:%(https)d ssl;
            server_name a.example.org;
            acme_store /tmp/x;
            acme on;
        }""", "acme_store /tmp/x", r'"acme_store" directive is not allowed here'),
]


def line_of(text, needle):
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError("%r not in config" % needle)


@nginx_harness.require_module
class TestConfigErrors(nginx_harness.NginxTestCase):

    def test_errors_name_file_and_line(self):
        ngx = self.nginx()
        good_store = ngx.store
        for case in CASES:
            name, body, needle, pattern = case[:4]
            flag = case[4] if len(case) > 4 else None
            with self.subTest(name):
                ngx.ca_url = None if flag == "no-ca" else "https://127.0.0.1:1/dir"
                ngx.store = "/dev/null/store" if flag == "bad-store" else good_store
                ngx.write_config(body % self.ports())
                with open(ngx.conf_path) as f:
                    text = f.read()
                rc, out = ngx.test_config()
                self.assertNotEqual(rc, 0, out)
                self.assertIn("[emerg]", out)
                self.assertRegex(out, pattern)
                where = "%s:%d" % (ngx.conf_path, line_of(text, needle))
                # The message and its location are on one line.
                self.assertRegex(out, pattern + r'.* in ' + re.escape(where) + r'\b', out)
                self.assertIn("test failed", out)

    def test_good_configuration_needs_no_ssl_certificate(self):
        ngx = self.nginx()
        ngx.ca_url = "https://127.0.0.1:1/dir"
        hook = harness.dns_hook_path()
        ngx.write_config("""
            acme_email admin@example.org;
            acme_key_type ecdsa-p384;
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name a.example.org b.example.org;
                acme on;
                location = /status { acme_status; }
            }
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name c.example.org;
                acme_key_type ecdsa-p256 rsa-2048;
                acme_challenge tls-alpn-01;
                acme_renew_window 30d;
                acme on;
            }
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name .example.net;
                acme_challenge dns-01;
                acme_dns_hook %(hook)s;
                acme_dns_wait 5s;
                acme_profile shortlived;
                acme on;
            }
            server {
                listen 127.0.0.1:%(http)d;
                server_name d.example.org;
                acme off;
                return 301 https://$host$request_uri;
            }
            # A regular-expression server_name with explicit names.
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name ~^shop\d+\.example\.org$;
                acme_domains shop1.example.org shop2.example.org;
                acme on;
            }
            # The same names and settings in two servers: one certificate.
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name e.example.org;
                acme on;
            }
            server {
                listen 127.0.0.1:%(other)d ssl;
                server_name e.example.org;
                acme on;
            }
        """ % self.ports(hook=hook, other=harness.free_port()))
        rc, out = ngx.test_config()
        self.assertEqual(rc, 0, out)
        self.assertIn("test is successful", out)
        # A configuration test writes nothing: no store, no stand-in certificate on disk.
        self.assertFalse(os.path.exists(ngx.store), os.listdir(os.path.dirname(ngx.store)))

    def test_configuration_test_of_an_existing_store_changes_nothing(self):
        ngx = self.nginx()
        ngx.ca_url = "https://127.0.0.1:1/dir"
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name a.example.org;
                acme on;
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.https_port])  # makes the store and its stand-in
        fallback = os.path.join(ngx.store, "fallback", "a.example.org", "ecdsa-p256.pem")
        harness.wait_until(lambda: os.path.exists(fallback), what="the stand-in on disk")
        ngx.stop()

        def snapshot():
            out = {}
            for root, dirs, files in os.walk(ngx.store):
                for n in dirs + files:
                    p = os.path.join(root, n)
                    st = os.lstat(p)
                    out[p] = (st.st_mode, st.st_uid, st.st_mtime_ns, st.st_size)
            return out
        os.remove(fallback)  # even a missing stand-in is not written by nginx -t
        before = snapshot()
        rc, out = ngx.test_config()
        self.assertEqual(rc, 0, out)
        self.assertEqual(snapshot(), before)
