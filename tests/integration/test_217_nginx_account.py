"""217: the account as the CA sees it follows the configuration. A changed acme_email reaches the
CA after a reload (the account is updated, not replaced: same URL), without waiting for the next
order; the EAB HMAC key can come from a file that only its owner reads (`acme_eab KID
file:PATH`), so `nginx -T` does not print it, and a key file that other users can read is
refused by `nginx -t`."""

import base64
import json
import os

import harness
import nginx_harness

NAME = "account.example.org"


@nginx_harness.require_module
class TestAccount(nginx_harness.NginxTestCase):

    def server(self):
        return """
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name account.example.org;
                acme on;
            }
        """ % self.ports()

    def account_at_the_ca(self, pebble, store):
        cp = harness.run([harness.acmectl_path(), "account", "show", "--store", store,
                          "--ca", pebble.directory_url, "--ca-root", pebble.ca_root],
                         timeout=60)
        return json.loads(cp.stdout)

    def test_changed_email_reaches_the_ca(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble)
        ngx.write_config("acme_email old@example.org;\n" + self.server())
        ngx.start(wait_ports=[self.http_port, self.https_port])
        nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        before = self.account_at_the_ca(pebble, ngx.store)
        self.assertEqual(before["contacts"], ["mailto:old@example.org"])

        ngx.write_config("acme_email new@example.org ops@example.org;\n" + self.server())
        ngx.signal_reload()

        def updated():
            a = self.account_at_the_ca(pebble, ngx.store)
            return a if a["contacts"] != before["contacts"] else None
        after = harness.wait_until(updated, timeout=30, interval=0.3,
                                   what="the new contacts at the CA")
        self.assertEqual(after["contacts"], ["mailto:new@example.org", "mailto:ops@example.org"])
        self.assertEqual(after["url"], before["url"], "the same account, updated")
        ngx.wait_for_log(r"acme: account \S+: contacts updated at the CA", timeout=10)

    def test_eab_key_from_a_file(self):
        hmac = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
        pebble = self.ws.start_pebble(http_port=self.http_port, eab_keys={"kid-file": hmac},
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        key_file = self.ws.write("eab.key", hmac + "\n", mode=0o600)
        ngx = self.nginx(pebble)
        ngx.write_config("acme_eab kid-file file:%s;\n" % key_file + self.server())

        # Readable by everybody: refused, with the fix in the message.
        os.chmod(key_file, 0o644)
        rc, out = ngx.test_config()
        self.assertNotEqual(rc, 0, out)
        self.assertIn("EAB HMAC key file %s: readable by every local user" % key_file, out)
        self.assertIn("chmod o-rwx %s" % key_file, out)
        with open(ngx.conf_path) as f:
            line = next(i for i, l in enumerate(f, 1) if "acme_eab" in l)
        self.assertIn("%s:%d" % (ngx.conf_path, line), out)
        os.chmod(key_file, 0o600)

        rc, out = ngx.test_config()
        self.assertEqual(rc, 0, out)
        dump = harness.run(ngx.argv("-T"), timeout=60).stdout.decode()
        self.assertIn("file:%s" % key_file, dump)
        self.assertNotIn(hmac, dump)

        ngx.start(wait_ports=[self.http_port, self.https_port])
        tls = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        harness.verify_chain(tls.certs, pebble.issued_root_file(), NAME).check()
        self.assertNotIn(hmac, ngx.error_log_text())
