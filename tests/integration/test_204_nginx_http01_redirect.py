"""nginx http-01 behind `return 301`: the port-80 server does nothing but redirect to https, yet
the challenge is answered (POST_READ phase, before the rewrite phases), so pebble validates and
the certificate arrives. Unknown, malformed and overlong tokens fall through to whatever the
server does (301 there, 404 on a server with a document root)."""

import os
import pwd

import harness
import nginx_harness

NAME = "redirect.example.org"
PREFIX = "/.well-known/acme-challenge/"


@nginx_harness.require_module
class TestHttp01BehindRedirect(nginx_harness.NginxTestCase):

    def test_challenge_answered_before_return_301(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        plain_port = harness.free_port()
        docroot = self.ws.mkdir("docroot")
        os.chmod(docroot, 0o755)
        ngx = self.nginx(pebble, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                server_name redirect.example.org;
                return 301 https://$host$request_uri;
            }
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name redirect.example.org;
                acme on;
                location / { return 200 "secure\\n"; }
            }
            server {
                listen 127.0.0.1:%(plain)d;
                server_name plain.example.org;
                root %(docroot)s;
            }
        """ % self.ports(plain=plain_port, docroot=docroot))
        ngx.start(wait_ports=[self.http_port, self.https_port, plain_port])

        # pebble validated through the redirecting server: the certificate arrives.
        tls = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        harness.verify_chain(tls.certs, pebble.issued_root_file(), hostname=NAME).check()
        log = ngx.error_log_text()
        self.assertIn("acme: answered an http-01 challenge", log)
        self.assertIn('server: redirect.example.org, request: "GET %s' % PREFIX, log)

        # Everything else on the port-80 server is still redirected.
        r = harness.http_get("http://127.0.0.1:%d/page" % self.http_port, host_header=NAME)
        self.assertEqual(r.status, 301)
        self.assertEqual(r.headers.get("Location"), "https://%s/page" % NAME)

        # A token published in the store is answered by every server, exactly.
        token = "tok_" + "A1b2-C3d4" * 4
        key_authz = token + ".thumbprint-of-the-account-key_0123456789abcdef"
        path = os.path.join(ngx.store, "challenges", "http-01", token)
        with open(path, "w") as f:
            f.write(key_authz)
        nobody = pwd.getpwnam(nginx_harness.WORKER_USER)
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
        os.chmod(path, 0o600)
        for port in (self.http_port, plain_port):
            r = harness.http_get("http://127.0.0.1:%d%s%s" % (port, PREFIX, token),
                                 host_header=NAME)
            self.assertEqual(r.status, 200, port)
            self.assertEqual(r.body.decode(), key_authz)
            self.assertEqual(r.headers.get("Content-Type"), "text/plain")
            self.assertEqual(int(r.headers.get("Content-Length")), len(key_authz))
            r = harness.http_request("HEAD", "http://127.0.0.1:%d%s%s" % (port, PREFIX, token),
                                     host_header=NAME)
            self.assertEqual((r.status, r.body), (200, b""))
            self.assertEqual(int(r.headers.get("Content-Length")), len(key_authz))
        # Over https too (pebble never does, but nothing is special about it).
        r = harness.http_get("https://127.0.0.1:%d%s%s" % (self.https_port, PREFIX, token),
                             ca=pebble.issued_root_file(), server_name=NAME)
        self.assertEqual((r.status, r.body.decode()), (200, key_authz))
        # Other methods are not challenge requests.
        r = harness.http_request("POST", "http://127.0.0.1:%d%s%s" % (
            plain_port, PREFIX, token), body="x")
        self.assertNotEqual(r.status, 200)

        # Unknown, malformed, empty and overlong tokens fall through.
        for bad in ["unknown-token-0123456789", "bad!token", "", "a" * 129,
                    "tok%2F..%2Fgeneration", token + "/x"]:
            with self.subTest(token=bad):
                r = harness.http_get("http://127.0.0.1:%d%s%s" % (self.http_port, PREFIX, bad),
                                     host_header=NAME)
                self.assertEqual(r.status, 301)
                r = harness.http_get("http://127.0.0.1:%d%s%s" % (plain_port, PREFIX, bad))
                self.assertEqual(r.status, 404)
        self.assertEqual(ngx.proc.returncode, None)
