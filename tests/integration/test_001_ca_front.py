"""The test-only CA front (ca_front.py): transparent for ACME (pebble builds URLs from the
forwarded Host, so signed requests through the front work), adds ARI and profiles, records what
clients sent, and injects faults that fire the requested number of times and then clear."""

import calendar
import http.client
import subprocess
import time
import unittest

import harness
from acmetest.tinyacme import TinyAcme


def _epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


class TestCAFront(harness.HarnessTestCase):

    def setUp(self):
        super().setUp()
        self.pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        self.front = self.ws.start_ca_front(self.pebble)
        self.ca = self.pebble.ca_root

    def get(self, url, **kwargs):
        return harness.http_get(url, ca=self.ca, **kwargs)

    def test_directory_has_renewal_info_and_profiles(self):
        r = self.get(self.front.directory_url)
        self.assertEqual(r.status, 200)
        d = r.json()
        self.assertEqual(d["renewalInfo"], self.front.base_url + "/renewal-info/")
        self.assertEqual(sorted(d["meta"]["profiles"]), ["classic", "shortlived"])
        # pebble built every URL from the forwarded Host: all point at the front.
        for key in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
            self.assertTrue(d[key].startswith(self.front.base_url + "/"), (key, d[key]))
        self.assertNotIn("renewalInfo", self.get(self.pebble.directory_url).json())
        self.assertEqual(self.front.count("directory"), 1)

    def test_renewal_info_windows(self):
        url = self.front.renewal_info_url
        # Unknown serial (pebble never issued it): 404 problem.
        r = self.get(url + "AAAA.AQID")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers.get("Content-Type"), "application/problem+json")
        # Malformed certID: 400.
        self.assertEqual(self.get(url + "no-dot-here").status, 400)
        # Default window set by the test, then one for a specific certID.
        now = int(time.time())
        self.front.set_renewal_window(now - 60, now + 60, retry_after=120,
                                      explanation_url="https://example.org/why")
        self.front.set_renewal_window(now + 86400, now + 2 * 86400, cert_id="AAAA.AQIE")
        r = self.get(url + "AAAA.AQID")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers.get("Retry-After"), "120")
        doc = r.json()
        self.assertEqual(_epoch(doc["suggestedWindow"]["start"]), now - 60)
        self.assertEqual(_epoch(doc["suggestedWindow"]["end"]), now + 60)
        self.assertEqual(doc["explanationURL"], "https://example.org/why")
        doc = self.get(url + "AAAA.AQIE").json()
        self.assertEqual(_epoch(doc["suggestedWindow"]["start"]), now + 86400)
        self.assertNotIn("explanationURL", doc)
        self.assertEqual(self.front.renewal_info_requests,
                         ["AAAA.AQID", "no-dot-here", "AAAA.AQID", "AAAA.AQIE"])

    def test_fault_fires_once_then_clears(self):
        self.front.fail_next(path="directory", retry_after=7)
        r = self.get(self.front.directory_url)
        self.assertEqual(r.status, 503)
        self.assertEqual(r.headers.get("Retry-After"), "7")
        self.assertEqual(r.json()["type"], "urn:ietf:params:acme:error:serverInternal")
        self.assertEqual(self.get(self.front.directory_url).status, 200)
        self.assertEqual(self.front.count("directory"), 2)
        self.assertEqual(self.front.count("directory", status=503), 1)
        self.assertEqual(self.front.pending_faults(), [])

    def test_fault_kinds_and_path_matching(self):
        nonce_url = self.front.base_url + "/nonce-plz"
        # Path matching: a fault for newNonce leaves the directory alone.
        self.front.rate_limit_next(count=2, path="newNonce", retry_after=30)
        self.assertEqual(self.get(self.front.directory_url).status, 200)
        for _ in range(2):
            r = harness.http_request("HEAD", nonce_url, ca=self.ca)
            self.assertEqual(r.status, 429)
            self.assertEqual(r.headers.get("Retry-After"), "30")
        r = harness.http_request("HEAD", nonce_url, ca=self.ca)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Replay-Nonce"))
        # Connection closed without an answer.
        self.front.close_next(path="directory")
        with self.assertRaises((http.client.RemoteDisconnected, ConnectionError)):
            self.get(self.front.directory_url)
        self.assertEqual(self.get(self.front.directory_url).status, 200)
        # Delay, then forwarded.
        self.front.delay_next(0.3, path="directory")
        start = time.monotonic()
        self.assertEqual(self.get(self.front.directory_url).status, 200)
        self.assertGreaterEqual(time.monotonic() - start, 0.3)
        actions = [r.action for r in self.front.requests if r.path == "/dir"]
        self.assertEqual(actions, ["forward", "fault:close", "forward", "fault:delay"])

    def test_control_endpoint(self):
        ctl = self.front.base_url + "/__front__/"
        r = harness.http_request("POST", ctl + "fault", ca=self.ca,
                                 body={"kind": "status", "path": "/dir", "status": 500})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.get(self.front.directory_url).status, 500)
        self.assertEqual(self.get(self.front.directory_url).status, 200)
        r = harness.http_request("POST", ctl + "renewal-window", ca=self.ca,
                                 body={"start": "2030-01-01T00:00:00Z",
                                       "end": "2030-01-02T00:00:00Z"})
        self.assertEqual(r.status, 200)
        doc = self.get(self.front.renewal_info_url + "AAAA.AQID").json()
        self.assertEqual(doc["suggestedWindow"]["start"], "2030-01-01T00:00:00Z")
        state = self.get(ctl + "state").json()
        self.assertEqual([q["status"] for q in state["requests"] if q["path"] == "/dir"],
                         [500, 200])
        self.assertEqual(state["renewal_info_requests"], ["AAAA.AQID"])
        self.assertEqual(harness.http_request("POST", ctl + "fault", ca=self.ca,
                                              body={"kind": "nonsense"}).status, 400)
        self.assertEqual(harness.http_request("POST", ctl + "reset", ca=self.ca).status, 200)
        self.assertEqual(self.front.requests, [])

    def test_curl_keepalive(self):
        # libcurl (the product's transport) reuses one connection for several requests.
        out = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "--cacert", self.ca, "-o", "/dev/null",
             "-o", "/dev/null", "-w", "%{http_code} %{num_connects}\n",
             self.front.directory_url, self.front.directory_url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.decode().split(), ["200", "1", "200", "0"])

    def test_acme_through_front(self):
        acme = TinyAcme(self.front.directory_url, self.ca, self.ws.mkdir("tiny"))
        self.assertEqual(acme.new_account().status, 201)
        self.assertTrue(acme.kid.startswith(self.front.base_url + "/"))
        result = acme.issue(["example.org"], pebble=self.pebble, profile="shortlived")
        self.assertTrue(result.order_url.startswith(self.front.base_url + "/"))
        chain = harness.split_pem(result.chain_pem)
        harness.verify_chain(chain, self.pebble.issued_root_file(), "example.org").check()
        info = harness.cert_info(chain[0])

        # Default ARI window from the certificate itself: [1/2, 2/3] of its lifetime.
        cert_id = harness.ari_cert_id(chain[0])
        doc = self.get(self.front.renewal_info_url + cert_id).json()
        life = info["not_after"] - info["not_before"]
        self.assertAlmostEqual(_epoch(doc["suggestedWindow"]["start"]),
                               info["not_before"] + life // 2, delta=2)
        self.assertAlmostEqual(_epoch(doc["suggestedWindow"]["end"]),
                               info["not_before"] + life * 2 // 3, delta=2)

        # replaces and profile are recorded; an unknown profile is refused by the front with a
        # fresh nonce the client can use at once.
        r = acme.new_order(["example.org"], replaces=cert_id)
        self.assertEqual(r.status, 201)
        r = acme.new_order(["example.org"], profile="longlived", check=False)
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["type"], "urn:ietf:params:acme:error:invalidProfile")
        self.assertTrue(r.headers.get("Replay-Nonce"))
        self.assertEqual(acme.new_order(["example.org"], profile="classic").status, 201)
        self.assertEqual(self.front.profiles_seen, ["shortlived", None, "longlived", "classic"])
        self.assertEqual(self.front.replaces_seen, [None, cert_id, None, None])
        self.assertEqual(self.front.count("newOrder"), 4)
        self.assertEqual(self.front.count("newOrder", status=400), 1)

        # A 503 on newOrder fires once; the client sees the problem, the next order works.
        self.front.fail_next(path="newOrder", retry_after=5)
        r = acme.new_order(["example.org"], check=False)
        self.assertEqual((r.status, r.headers.get("Retry-After")), (503, "5"))
        self.assertEqual(acme.new_order(["example.org"]).status, 201)

        # Corrupted certificate downloads no longer verify (or parse); the next one is intact.
        for mode in ("signature", "truncate", "garbage"):
            self.front.corrupt_next_certificate(mode=mode)
            body = acme.post(result.order["certificate"], None).body.decode()
            self.assertFalse(harness.verify_chain(body, self.pebble.issued_root_file()), mode)
        body = acme.post(result.order["certificate"], None).body.decode()
        harness.verify_chain(body, self.pebble.issued_root_file(), "example.org").check()

    def test_profiles_off(self):
        front = self.ws.start_ca_front(self.pebble, profiles=None, ari=False)
        d = self.get(front.directory_url).json()
        self.assertNotIn("renewalInfo", d)
        self.assertNotIn("profiles", d["meta"])
        acme = TinyAcme(front.directory_url, self.ca, self.ws.mkdir("tiny2"))
        acme.new_account()
        # pebble 2.4 ignores a "profile" field it does not know.
        self.assertEqual(acme.new_order(["example.org"], profile="anything").status, 201)
        self.assertEqual(front.profiles_seen, ["anything"])
        self.assertEqual(self.get(front.base_url + "/renewal-info/AAAA.AQID").status, 404)


if __name__ == "__main__":
    unittest.main()
