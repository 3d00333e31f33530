"""nginx dns-01: a wildcard server name (`*.example.org`) gets a certificate through the DNS hook
(tests/integration/dns_hook.sh publishing TXT records in pebble-challtestsrv), run by the
unprivileged driver; the certificate covers the base name and any subdomain."""

import os

import harness
import nginx_harness


@nginx_harness.require_module
class TestDns01Wildcard(nginx_harness.NginxTestCase):

    def test_wildcard_through_hook(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        hook_log = self.ws.write("hook/hook.log", "", mode=0o666)
        os.chmod(os.path.dirname(hook_log), 0o777)
        # A wrapper that records who runs the hook.
        uid_log = self.ws.write("hook/uid.log", "", mode=0o666)
        wrapper = self.ws.write("hook/wrapper.sh", "#!/bin/sh\nid -u >>%s\nexec %s \"$@\"\n" % (
            uid_log, harness.dns_hook_path()), mode=0o755)
        ngx = self.nginx(pebble, env_vars=["ACME_TEST_CHALLTESTSRV", "ACME_TEST_HOOK_LOG"])
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name example.org *.example.org;
                acme_challenge dns-01;
                acme_dns_hook %(hook)s;
                acme on;
                location / { return 200 "$host\\n"; }
            }
        """ % self.ports(hook=wrapper))
        ngx.start(wait_ports=[self.https_port],
                  env={"ACME_TEST_CHALLTESTSRV": pebble.challtestsrv_url,
                       "ACME_TEST_HOOK_LOG": hook_log})

        root = pebble.issued_root_file()
        tls = nginx_harness.wait_for_issuer(self.https_port, "www.example.org", root)
        info = harness.cert_info(tls.leaf)
        self.assertEqual(sorted(info["dns_names"]), ["*.example.org", "example.org"])
        for host in ("example.org", "www.example.org", "any.example.org"):
            harness.verify_chain(tls.certs, root, hostname=host).check()
            r = harness.http_get("https://127.0.0.1:%d/" % self.https_port, ca=root,
                                 server_name=host, host_header=host)
            self.assertEqual((r.status, r.body), (200, host.encode() + b"\n"))
        self.assertFalse(harness.verify_chain(tls.certs, root, hostname="a.b.example.org"))
        # The hook ran (set up, then torn down) as the worker user, never as root.
        with open(hook_log) as f:
            calls = [line.split()[:2] for line in f.read().splitlines()]
        # One TXT value per authorization (the wildcard's and the base name's are both
        # published at _acme-challenge.example.org).
        self.assertEqual(sorted(c for c in calls if c[0] == "setup"),
                         [["setup", "example.org"]] * 2)
        self.assertIn(["teardown", "example.org"], calls)
        with open(uid_log) as f:
            uids = set(f.read().split())
        self.assertEqual(uids, {str(nginx_harness.pwd_uid(nginx_harness.WORKER_USER))})
        self.assertEqual(pebble.txt("_acme-challenge.example.org"), [])
        self.assertNotIn("answered an http-01", ngx.error_log_text())
