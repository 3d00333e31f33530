"""nginx acme_status: JSON per certificate (names, key types, issuer, not-after, next renewal,
last error, CA) and Prometheus text with ?format=prometheus; GET/HEAD only."""

import re
import time

import harness
import nginx_harness

GOOD = "good.example.org"
BAD = "bad.example.org"


@nginx_harness.require_module
class TestStatus(nginx_harness.NginxTestCase):

    def test_json_and_prometheus(self):
        # tls-alpn-01 validation goes to a port where nothing listens: that certificate fails.
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name good.example.org;
                acme on;
                location = /acme-status { acme_status; }
            }
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name bad.example.org;
                acme_challenge tls-alpn-01;
                acme on;
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.http_port, self.https_port])
        tls = nginx_harness.wait_for_issuer(self.https_port, GOOD, pebble.issued_root_file())
        leaf = harness.cert_info(tls.leaf)
        url = "http://127.0.0.1:%d/acme-status" % self.http_port

        def failed_once():
            status = harness.http_get(url).json()
            bad = [c for c in status["certificates"] if c["name"] == BAD]
            return status if bad and bad[0]["fails"] >= 1 else None
        harness.wait_until(failed_once, timeout=30, what="the failing certificate's error")

        r = harness.http_get(url)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        status = r.json()
        self.assertEqual(status["version"], 1)
        self.assertTrue(status["driver"]["active"], "this single worker drives")
        certs = {c["name"]: c for c in status["certificates"]}
        self.assertEqual(sorted(certs), [BAD, GOOD])

        good = certs[GOOD]
        self.assertEqual(good["domains"], [GOOD])
        self.assertEqual(good["ca"], pebble.directory_url)
        self.assertEqual(good["state"], "valid")
        self.assertEqual(good["fails"], 0)
        self.assertIsNone(good["last_error"])
        self.assertIsNotNone(good["last_success"])
        self.assertIsNotNone(good["next_renewal"])
        k = good["key_types"]["ecdsa-p256"]
        self.assertEqual(k["serial"], leaf["serial"])
        self.assertEqual(k["sha256"], leaf["fingerprint_sha256"])
        self.assertIn("Pebble Intermediate", k["issuer"])
        self.assertTrue(k["issuer_cn"].startswith("Pebble Intermediate CA"))
        self.assertEqual(k["not_after"],
                         time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(leaf["not_after"])))

        bad = certs[BAD]
        self.assertEqual(bad["domains"], [BAD])
        self.assertIn(bad["state"], ("retrying", "waiting-for-config"))
        self.assertGreaterEqual(bad["fails"], 1)
        self.assertEqual(bad["key_types"], {})
        self.assertIn("urn:ietf:params:acme:error:", bad["last_error"]["type"])
        self.assertIn(BAD, bad["last_error"]["detail"])
        self.assertIsNone(bad["last_success"])

        # Prometheus text.
        r = harness.http_get(url + "?format=prometheus")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Content-Type"),
                         "text/plain; version=0.0.4; charset=utf-8")
        text = r.body.decode()
        samples = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r'^([a-z_]+)(\{[^}]*\})? (-?\d+)$', line)
            self.assertIsNotNone(m, "not a Prometheus sample: %r" % line)
            samples[(m.group(1), m.group(2) or "")] = int(m.group(3))
        self.assertIn("# TYPE acme_certificate_not_after_seconds gauge", text)
        self.assertEqual(samples[("acme_certificate_not_after_seconds",
                                  '{name="%s",key_type="ecdsa-p256"}' % GOOD)],
                         leaf["not_after"])
        self.assertEqual(samples[("acme_certificate_valid",
                                  '{name="%s",key_type="ecdsa-p256"}' % GOOD)], 1)
        self.assertEqual(samples[("acme_certificate_failures", '{name="%s"}' % GOOD)], 0)
        self.assertGreaterEqual(samples[("acme_certificate_failures", '{name="%s"}' % BAD)], 1)
        self.assertEqual(samples[("acme_driver_active", "")], 1)
        self.assertNotIn(("acme_certificate_valid",
                          '{name="%s",key_type="ecdsa-p256"}' % BAD), samples)

        # ?format=json is the default; anything else is a client error.
        self.assertEqual(harness.http_get(url + "?format=json").json()["version"], 1)
        self.assertEqual(harness.http_get(url + "?format=xml").status, 400)
        # GET and HEAD only.
        r = harness.http_request("HEAD", url)
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(harness.http_request("POST", url, body="x").status, 405)
        self.assertEqual(harness.http_request("DELETE", url).status, 405)

    def test_every_worker_reports_the_driver(self):
        # Only one of the workers drives; a status request answered by any other worker still
        # names the driving process (it publishes its state in the store).
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble, workers=4)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d reuseport;
                listen 127.0.0.1:%(https)d ssl;
                server_name good.example.org;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.http_port, self.https_port])
        nginx_harness.wait_for_issuer(self.https_port, GOOD, pebble.issued_root_file())
        workers = set(ngx.worker_pids())
        url = "http://127.0.0.1:%d/acme-status" % self.http_port
        drivers, answered_by_driver = set(), []
        for _ in range(40):
            d = harness.http_get(url).json()["driver"]
            self.assertTrue(d["active"], d)
            drivers.add(d["pid"])
            answered_by_driver.append(d["this_process"])
        self.assertEqual(len(drivers), 1, drivers)
        self.assertIn(drivers.pop(), workers)
        # reuseport spreads the 40 connections over the 4 workers: some answered by others.
        self.assertIn(False, answered_by_driver)

