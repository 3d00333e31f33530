"""The harness itself: pebble + challtestsrv start and stop cleanly, HTTPS trust is the harness
CA, DNS answers come from challtestsrv, the TLS/HTTP/DNS client helpers report what they see,
processes never outlive their workspace, and a failing test prints its logs."""

import contextlib
import io
import os
import ssl
import subprocess
import time
import unittest

import harness
from acmetest.tinyacme import Http01Server, TinyAcme


def _pid_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class TestPebble(harness.HarnessTestCase):

    def test_directory_over_https_needs_harness_ca(self):
        pebble = self.ws.start_pebble()
        status, headers, body = harness.http_get(pebble.directory_url, ca=pebble.ca_root)
        self.assertEqual(status, 200)
        directory = harness.HttpResponse(status, headers, body).json()
        for key in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"):
            self.assertTrue(directory[key].startswith(pebble.base_url + "/"), directory)
        self.assertEqual(pebble.directory_url,
                         "https://127.0.0.1:%d/dir" % pebble.listen_port)
        # Without the harness CA the certificate is not trusted.
        with self.assertRaises(ssl.SSLCertVerificationError):
            harness.http_get(pebble.directory_url)

    def test_roots_and_intermediates(self):
        pebble = self.ws.start_pebble()
        root = harness.cert_info(pebble.roots_pem(0))
        inter = harness.cert_info(pebble.intermediates_pem(0))
        self.assertIn("Pebble Root CA", root["subject"])
        self.assertEqual(root["subject"], root["issuer"])
        self.assertEqual(inter["issuer"], root["subject"])
        harness.verify_chain([pebble.intermediates_pem(0)], pebble.issued_root_file(),
                             purpose="any").check()
        self.assertIn("PRIVATE KEY", pebble.intermediate_key_pem(0))

    def test_txt_records_and_default_addresses(self):
        pebble = self.ws.start_pebble()
        name = harness.challenge_txt_name("*.example.org")
        self.assertEqual(name, "_acme-challenge.example.org.")
        self.assertEqual(harness.dns_query(pebble.dns_port, name, "TXT"), [])
        pebble.set_txt(name, "value-one")
        pebble.set_txt(name, "value-two")
        self.assertEqual(sorted(harness.dns_query(pebble.dns_port, name, "TXT")),
                         ["value-one", "value-two"])
        pebble.clear_txt(name)
        self.assertEqual(pebble.txt(name), [])
        self.assertEqual(harness.dns_query(pebble.dns_port, "any.example.net", "A"),
                         ["127.0.0.1"])
        self.assertEqual(harness.dns_query(pebble.dns_port, "any.example.net", "AAAA"), [])
        pebble.add_a("other.example.net", ["127.0.0.2"])
        self.assertEqual(harness.dns_query(pebble.dns_port, "other.example.net", "A"),
                         ["127.0.0.2"])
        self.assertTrue(pebble.dns_history("other.example.net"))

    def test_dns_hook(self):
        pebble = self.ws.start_pebble()
        hook_log = self.ws.file("hook.log")
        env = dict(os.environ, ACME_TEST_CHALLTESTSRV=pebble.challtestsrv_url,
                   ACME_TEST_HOOK_LOG=hook_log)

        def hook(*args, extra_env=None):
            return subprocess.run([harness.dns_hook_path()] + list(args),
                                  env=dict(env, **(extra_env or {})), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, timeout=30)

        cp = hook("setup", "*.example.org", "abc_DEF-123")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(pebble.txt("_acme-challenge.example.org"), ["abc_DEF-123"])
        cp = hook("teardown", "*.example.org", "abc_DEF-123")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(pebble.txt("_acme-challenge.example.org"), [])
        with open(hook_log) as f:
            self.assertEqual(f.read().splitlines(), ["setup *.example.org abc_DEF-123",
                                                     "teardown *.example.org abc_DEF-123"])
        # Failures exit non-zero with a message.
        for args, extra, needle in [
                (("setup", "bad domain", "x"), None, b"invalid domain"),
                (("setup", "example.org", 'x"y'), None, b"invalid TXT value"),
                (("frobnicate", "example.org", "x"), None, b"unknown action"),
                (("setup", "example.org", "x"), {"ACME_TEST_CHALLTESTSRV": ""}, b"not set"),
                (("setup", "example.org", "x"), {"ACME_TEST_HOOK_FAIL": "boom"}, b"boom"),
                (("setup", "example.org", "x"),
                 {"ACME_TEST_CHALLTESTSRV": "http://127.0.0.1:%d" % harness.free_port()},
                 b"failed")]:
            cp = hook(*args, extra_env=extra)
            self.assertNotEqual(cp.returncode, 0, args)
            self.assertIn(needle, cp.stderr, args)

    def test_tls_client_helpers(self):
        pebble = self.ws.start_pebble()
        tls = harness.presented_chain("127.0.0.1", pebble.listen_port, server_name="localhost",
                                      alpn=["h2", "http/1.1"])
        self.assertTrue(tls.ok)
        self.assertEqual(tls.protocol, "TLSv1.3")
        self.assertEqual(tls.alpn, "h2")
        self.assertEqual(len(tls.certs), 1)
        info = harness.cert_info(tls.leaf)
        self.assertEqual(info["dns_names"], ["localhost"])
        self.assertEqual(info["ip_addresses"], ["127.0.0.1"])
        self.assertEqual(info["key_type"], "ec")
        self.assertEqual(info["curve"], "prime256v1")
        self.assertIn("ACME test harness CA", info["issuer"])
        self.assertTrue(harness.verify_chain(tls.certs, pebble.ca_root, hostname="localhost"))
        self.assertTrue(harness.verify_chain(tls.certs, pebble.ca_root, ip="127.0.0.1"))
        self.assertFalse(harness.verify_chain(tls.certs, pebble.ca_root, hostname="example.org"))
        self.assertFalse(harness.verify_chain(tls.certs, pebble.issued_root_file()))
        tls12 = harness.presented_chain("127.0.0.1", pebble.listen_port, tls_version="1.2")
        self.assertEqual(tls12.protocol, "TLSv1.2")
        self.assertIsNone(tls12.alpn)
        closed = harness.presented_chain("127.0.0.1", harness.free_port(), check=False)
        self.assertFalse(closed.ok)
        with self.assertRaises(harness.HarnessError):
            harness.presented_chain("127.0.0.1", harness.free_port(), timeout=5)

    def test_issue_dns01_and_status(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        acme = TinyAcme(pebble.directory_url, pebble.ca_root, self.ws.mkdir("tiny"))
        self.assertEqual(acme.new_account(contact=["mailto:ops@example.org"]).status, 201)
        result = acme.issue(["example.org", "*.example.org"], pebble=pebble)
        chain = harness.split_pem(result.chain_pem)
        self.assertEqual(len(chain), 2)
        harness.verify_chain(chain, pebble.issued_root_file(), hostname="www.example.org").check()
        self.assertFalse(harness.verify_chain(chain, pebble.issued_root_file(),
                                              hostname="example.net"))
        info = harness.cert_info(chain[0])
        self.assertEqual(sorted(info["dns_names"]), ["*.example.org", "example.org"])
        # pebble 2.4's default validity: 5 years (157766400 s, notAfter inclusive).
        self.assertAlmostEqual(info["not_after"] - info["not_before"], 157766400, delta=2)
        self.assertEqual(pebble.cert_status(info["serial"])["Status"], "Valid")
        self.assertEqual(acme.revoke(result.chain_pem, reason=4).status, 200)
        self.assertEqual(pebble.cert_status(info["serial"])["Status"], "Revoked")

    def test_ip_identifier_http01_and_validity_config(self):
        http_port = harness.free_port()
        pebble = self.ws.start_pebble(http_port=http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"},
                                      config={"certificateValidityPeriod": 3600})
        acme = TinyAcme(pebble.directory_url, pebble.ca_root, self.ws.mkdir("tiny"))
        acme.new_account()
        with Http01Server(http_port) as srv:
            result = acme.issue(["127.0.0.1"], challenge="http-01", http_server=srv)
            self.assertTrue(srv.requests)
        info = harness.cert_info(result.chain_pem)
        self.assertEqual(info["ip_addresses"], ["127.0.0.1"])
        self.assertEqual(info["dns_names"], [])
        self.assertAlmostEqual(info["not_after"] - info["not_before"], 3600, delta=2)
        harness.verify_chain(harness.split_pem(result.chain_pem), pebble.issued_root_file(),
                             ip="127.0.0.1").check()

    def test_restart_keeps_urls_and_changes_roots(self):
        pebble = self.ws.start_pebble()
        url, root = pebble.directory_url, pebble.roots_pem()
        pebble.stop()
        self.assertFalse(pebble.alive())
        with self.assertRaises(OSError):
            harness.http_get(url, ca=pebble.ca_root, timeout=2)
        pebble.start()
        self.assertEqual(pebble.directory_url, url)
        self.assertNotEqual(pebble.roots_pem(), root)
        self.assertEqual(harness.http_get(url, ca=pebble.ca_root).status, 200)


class TestProcesses(unittest.TestCase):

    def test_workspace_close_stops_everything(self):
        ws = harness.Workspace()
        pebble = ws.start_pebble()
        pids = [pebble.pebble_proc.pid, pebble.challtestsrv_proc.pid]
        # A process that ignores SIGTERM and has a child in its group.
        stubborn = ws.start("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & wait"])
        harness.wait_until(lambda: "sleep" in subprocess.run(
            ["pgrep", "-g", str(stubborn.pid), "-a"], stdout=subprocess.PIPE).stdout.decode(),
            5, what="stubborn child")
        path = ws.path
        start = time.monotonic()
        stubborn.stop(timeout=0.5)
        self.assertEqual(stubborn.returncode, -9)
        ws.close()
        self.assertLess(time.monotonic() - start, 20)
        for pid in pids + [stubborn.pid]:
            self.assertFalse(_pid_exists(pid), pid)
        self.assertEqual(subprocess.run(["pgrep", "-g", str(stubborn.pid)]).returncode, 1)
        self.assertFalse(os.path.exists(path))
        ws.close()  # idempotent

    def test_wait_for_port_fails_fast_when_process_exits(self):
        with harness.Workspace() as ws:
            proc = ws.start("dies", ["sh", "-c", "echo 'cannot bind: oops'; exit 3"])
            start = time.monotonic()
            with self.assertRaises(harness.HarnessError) as cm:
                harness.wait_for_port(harness.free_port(), timeout=30, proc=proc)
            self.assertLess(time.monotonic() - start, 20)
            self.assertIn("cannot bind: oops", str(cm.exception))
            self.assertEqual(proc.returncode, 3)

    def test_bounded_waits(self):
        with self.assertRaises(harness.HarnessError):
            harness.wait_for_port(harness.free_port(), timeout=0.3)
        with self.assertRaises(harness.HarnessError):
            harness.wait_for_http("http://127.0.0.1:%d/" % harness.free_port(), timeout=0.3)
        with harness.Workspace() as ws:
            proc = ws.start("sleeper", ["sleep", "30"])
            with self.assertRaises(harness.HarnessError):
                proc.wait(timeout=0.2)
            self.assertTrue(proc.alive())

    def test_failing_test_dumps_logs_and_keeps_going(self):
        marker = "marker-%d" % os.getpid()

        class Inner(harness.HarnessTestCase):
            def test_fails(self):
                proc = self.ws.start("talker", ["sh", "-c", "echo %s; sleep 30" % marker])
                proc.wait_for_log(marker, timeout=10)
                Inner.path = self.ws.path
                Inner.pid = proc.pid
                self.fail("deliberate")

            def test_passes(self):
                self.ws.start("quiet", ["sh", "-c", "echo %s-quiet; sleep 30" % marker])
                Inner.passing_path = self.ws.path

        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            result = unittest.TextTestRunner(stream=io.StringIO(), verbosity=0).run(
                unittest.defaultTestLoader.loadTestsFromTestCase(Inner))
        self.assertEqual(len(result.failures), 1)
        self.assertEqual(result.testsRun, 2)
        text = err.getvalue()
        self.assertIn("talker", text)
        self.assertIn(marker, text)
        self.assertNotIn(marker + "-quiet", text)
        self.assertFalse(_pid_exists(Inner.pid))
        if not os.environ.get("ACME_KEEP_TMP"):
            self.assertFalse(os.path.exists(Inner.path))
            self.assertFalse(os.path.exists(Inner.passing_path))


if __name__ == "__main__":
    unittest.main()
