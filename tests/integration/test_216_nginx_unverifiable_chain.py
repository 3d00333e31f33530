"""216: nginx never installs a chain that a client trusting the CA's roots cannot verify. The CA
front answers the certificate download with the leaf alone (a well-formed certificate for the
right names and key, without its intermediate): nginx keeps serving what it served before, the
status reports the refusal as the certificate's last error with a retry, and the log says why."""

import harness
import nginx_harness

NAME = "chain.example.org"


@nginx_harness.require_module
class TestUnverifiableChain(nginx_harness.NginxTestCase):

    def test_leaf_without_intermediate_is_not_installed(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble, ari=False, profiles=None)
        front.corrupt_next_certificate(mode="leaf-only")
        ngx = self.nginx(pebble, ca_url=front.directory_url)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name chain.example.org;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.http_port, self.https_port])
        url = "http://127.0.0.1:%d/acme-status" % self.http_port

        def failed():
            certs = harness.http_get(url).json()["certificates"]
            return certs[0] if certs and certs[0]["fails"] >= 1 else None
        cert = harness.wait_until(failed, timeout=60, what="the refused chain in the status")
        # The CA issued the certificate; the front cut the chain; nginx refused it.
        self.assertEqual(front.count("certificate"), 1)
        self.assertEqual(cert["state"], "retrying", cert)
        self.assertIn("does not verify against the trusted roots", cert["last_error"]["detail"])
        self.assertIn("unable to get local issuer certificate", cert["last_error"]["detail"])
        self.assertGreater(cert["next_renewal"], cert["last_error"]["at"], cert)
        ngx.wait_for_log(r"\[error\] .*acme: chain\.example\.org: .*does not verify", timeout=10)
        # Said once, with its context once.
        log = ngx.error_log_text()
        errors = [l for l in log.splitlines() if "[error]" in l and "does not verify" in l]
        self.assertEqual(len(errors), 1, errors)
        self.assertNotIn("chain.example.org: acme: chain.example.org", log)

        # What a client sees: still the self-signed stand-in, not pebble's leaf.
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME)
        self.assertTrue(tls.ok, tls)
        leaf = harness.cert_info(tls.leaf)
        self.assertEqual(leaf["issuer"], leaf["subject"], leaf)
        self.assertFalse(harness.verify_chain(tls.certs, pebble.issued_root_file(), NAME))
