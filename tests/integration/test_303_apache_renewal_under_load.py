"""303: renewals swap in under continuous handshakes with zero failures: a forced renewal by
`acmectl renew --force` on the server's store, and the module's own renewal of a short-lived
certificate. Every handshake (TLS 1.2 and 1.3, two client threads) verifies against pebble's
root; each client sees the old certificate, then the new one.

The core's per-process cache never blocks a handshake on a reload: while one thread of a child
re-reads the store after the generation moved, a concurrent handshake in that child is served
the certificate it had (still valid). So a client may meet the old certificate once more just
after the switch, and a warm-up phase lets every child load the first certificate before the
counting starts."""

import hashlib
import os
import socket
import ssl
import sys
import threading
import time
import unittest

import harness
from test_399_httpd_fixture import HttpdTestCase


class HandshakeLoad:
    """Client threads doing full TLS handshakes in a loop; records what each one saw."""

    def __init__(self, port, server_name, root_file, versions=("1.2", "1.3")):
        self.port = port
        self.server_name = server_name
        self.root_file = root_file
        self.versions = versions
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.seen = {v: [] for v in versions}   # per thread: fingerprints in order
        self.failures = []
        self.count = 0
        self.threads = []

    def _context(self, version):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.root_file)
        ctx.check_hostname = True
        v = ssl.TLSVersion.TLSv1_2 if version == "1.2" else ssl.TLSVersion.TLSv1_3
        ctx.minimum_version = ctx.maximum_version = v
        return ctx

    def _run(self, version):
        ctx = self._context(version)
        while not self.stop_flag.is_set():
            try:
                with socket.create_connection((harness.LOCALHOST, self.port), timeout=10) as s:
                    with ctx.wrap_socket(s, server_hostname=self.server_name) as tls:
                        der = tls.getpeercert(binary_form=True)
                fp = hashlib.sha256(der).hexdigest()
                with self.lock:
                    self.count += 1
                    seq = self.seen[version]
                    if not seq or seq[-1] != fp:
                        seq.append(fp)
            except (OSError, ssl.SSLError) as e:
                with self.lock:
                    self.failures.append("%s: %r" % (version, e))

    def start(self):
        for v in self.versions:
            t = threading.Thread(target=self._run, args=(v,), daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)

    def reset(self):
        with self.lock:
            self.seen = {v: [] for v in self.versions}
            self.failures = []
            self.count = 0

    def counts_per_thread_at_least(self, n):
        with self.lock:
            return self.count >= n * len(self.versions) and all(self.seen.values())

    def latest(self):
        with self.lock:
            return {v: (s[-1] if s else None) for v, s in self.seen.items()}


def fingerprint(pem):
    return harness.cert_info(pem)["fingerprint_sha256"]


class TestRenewalUnderLoad(HttpdTestCase):

    def run_with_load(self, httpd, pebble, renew, timeout=60):
        """Issue, start the load, call renew(), wait until every client sees a new certificate,
        keep going a little, stop; returns (old fingerprint, new fingerprint, load)."""
        tls = self.wait_for_pebble_cert(httpd, pebble, "example.org")
        old = fingerprint(tls.leaf)
        load = HandshakeLoad(httpd.https_port, "example.org", pebble.issued_root_file()).start()
        self.addCleanup(load.stop)
        # Warm-up: every child serves the first certificate (see the module docstring).
        harness.wait_until(lambda: load.counts_per_thread_at_least(100), 60, what="warm-up")
        load.reset()
        harness.wait_until(lambda: all(load.latest().values()), 30, what="handshakes")
        self.assertEqual(set(load.latest().values()), {old})
        renew()
        harness.wait_until(lambda: all(fp not in (None, old) for fp in load.latest().values()),
                           timeout, interval=0.1, what="every client to see the new certificate")
        n = load.count
        harness.wait_until(lambda: load.count >= n + 50, 30, what="more handshakes")
        load.stop()
        new = load.latest()[load.versions[0]]
        self.assertEqual(load.failures, [], "%d failed handshakes of %d" % (
            len(load.failures), load.count))
        for version, seq in load.seen.items():
            self.assertEqual((seq[0], seq[-1], set(seq)), (old, new, {old, new}),
                             "client %s saw %s" % (version, seq))
            if len(seq) > 2:
                sys.stderr.write("\n303: client %s met the old certificate again just after "
                                 "the switch (%d changes)\n" % (version, len(seq) - 1))
        # The server was never restarted.
        self.assertEqual(httpd.error_log_text().count("resuming normal operations"), 1)
        sys.stderr.write("\n303: %d handshakes, no failure\n" % load.count)
        return old, new, load

    def test_forced_renewal_by_acmectl(self):
        if not os.path.exists(harness.acmectl_path()):
            self.skipTest("acmectl is not built")
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() + httpd.managed_vhost("example.org"))
        httpd.start()
        result = {}

        def renew():
            # Same store, CA and account options as the module; httpd answers http-01.
            cp = harness.run([harness.acmectl_path(), "renew", "--force", "-v",
                              "--store", httpd.store_dir, "--ca", pebble.directory_url,
                              "--ca-root", pebble.ca_root,
                              "--chain-roots", pebble.chain_roots, "--email", "admin@example.org",
                              "--agree-tos", "-d", "example.org"], timeout=120, check=False)
            result["cp"] = cp
            self.assertEqual(cp.returncode, 0, cp.stderr.decode(errors="replace"))
        old, new, _ = self.run_with_load(httpd, pebble, renew)
        self.assertNotEqual(old, new)
        served = httpd.chain("example.org")
        self.assertEqual(fingerprint(served.leaf), new)
        self.assert_verifies(served, pebble, "example.org")
        # The bundle acmectl reports is the one served.
        path = result["cp"].stdout.decode().strip().splitlines()[-1]
        with open(path) as f:
            self.assertEqual(fingerprint(f.read()), new)

    def test_module_renews_short_lived_certificate(self):
        # 30 s certificates: the module's driver renews at about half the lifetime.
        httpd = self.httpd()
        pebble = self.start_pebble(httpd, config={"certificateValidityPeriod": 30})
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.http_vhost() + httpd.managed_vhost("example.org"))
        httpd.start()
        old, new, _ = self.run_with_load(httpd, pebble, renew=lambda: None, timeout=60)
        self.assertNotEqual(old, new)
        log = httpd.error_log_text()
        self.assertGreaterEqual(log.count("certificate installed"), 2)


if __name__ == "__main__":
    unittest.main()
