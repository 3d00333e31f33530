"""nginx hot swap: a renewal replaces the certificate under continuous full handshakes with
zero failures, and every one of 4 workers presents the new certificate, with no reload; once
forced by the operators' tool (acmectl renew --force on the same store, its http-01 challenge
answered by the running nginx), once scheduled by the module's own driver (acme_renew_window)."""

import hashlib
import os
import socket
import ssl
import threading

import harness
import nginx_harness

NAME = "swap.example.org"
WORKERS = 4


class Prober:
    """Threads making new TLS connections (full handshakes, no session reuse) and asking which
    worker answered; records (leaf sha256, worker pid) or the error of each attempt."""

    def __init__(self, port, threads=4):
        self.port = port
        self.results = []
        self.errors = []
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(30)

    def one(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
            with ctx.wrap_socket(sock, server_hostname=NAME) as tls:
                der = tls.getpeercert(binary_form=True)
                tls.sendall(b"GET /pid HTTP/1.0\r\nHost: " + NAME.encode() + b"\r\n\r\n")
                data = b""
                while True:
                    chunk = tls.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("unexpected answer: %r" % data[:200])
        return hashlib.sha256(der).hexdigest(), int(body.strip())

    def run(self):
        while not self.stop_flag.is_set():
            try:
                r = self.one()
                with self.lock:
                    self.results.append(r)
            except Exception as e:  # noqa: BLE001 - every failure counts
                with self.lock:
                    self.errors.append(repr(e))

    def snapshot(self):
        with self.lock:
            return list(self.results), list(self.errors)


def fingerprint(pem):
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


@nginx_harness.require_module
class TestHotSwap(nginx_harness.NginxTestCase):

    def start(self, renew_window=None, validity=None):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"},
                                      config={"certificateValidityPeriod": validity}
                                      if validity else None)
        ngx = self.nginx(pebble, workers=WORKERS)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d reuseport;
                listen 127.0.0.1:%(https)d ssl reuseport;
                server_name swap.example.org;
                %(window)s
                acme on;
                keepalive_timeout 0;
                location = /pid { return 200 "$pid\\n"; }
            }
        """ % self.ports(window="acme_renew_window %s;" % renew_window if renew_window
                         else ""))
        ngx.start(wait_ports=[self.https_port])
        workers = ngx.worker_pids()
        self.assertEqual(len(workers), WORKERS)
        tls = nginx_harness.wait_for_issuer(self.https_port, NAME, pebble.issued_root_file())
        ngx.wait_for_log(r"acme: %s: done in" % NAME)
        return pebble, ngx, workers, tls

    def swap_under_load(self, pebble, ngx, workers, tls, renew):
        """Continuous handshakes while ``renew()`` happens; checks what the clients saw."""
        old = fingerprint(tls.leaf)
        old_serial = harness.cert_info(tls.leaf)["serial"]
        prober = Prober(self.https_port).start()
        self.addCleanup(prober.stop)
        # Every worker serves the current certificate before the swap.
        harness.wait_until(lambda: {pid for fp, pid in prober.snapshot()[0] if fp == old}
                           >= set(workers), timeout=30, what="every worker serving the "
                           "first certificate")
        before = len(prober.snapshot()[0])
        renew()
        during = len(prober.snapshot()[0]) - before

        def new_everywhere():
            results, _ = prober.snapshot()
            new = {fp for fp, _ in results} - {old}
            if not new:
                return None
            self.assertEqual(len(new), 1, "one new certificate")
            fp = new.pop()
            if {pid for f, pid in results if f == fp} >= set(workers):
                return fp
            return None
        new_fp = harness.wait_until(new_everywhere, timeout=60,
                                    what="every worker presenting the renewed certificate")
        # From now on only the new certificate is presented.
        mark = len(prober.snapshot()[0])
        harness.wait_until(lambda: len(prober.snapshot()[0]) >= mark + 200, timeout=60,
                           what="200 more handshakes")
        prober.stop()
        results, errors = prober.snapshot()

        self.assertEqual(errors, [], "no failed handshake or request")
        self.assertGreaterEqual(len(results), mark + 200)
        self.assertEqual({fp for fp, _ in results}, {old, new_fp})
        self.assertEqual({fp for fp, _ in results[mark + 50:]}, {new_fp})
        self.assertEqual({pid for _, pid in results}, set(workers))
        # No reload: the same workers all along.
        self.assertEqual(ngx.worker_pids(), workers)
        tls = harness.presented_chain("127.0.0.1", self.https_port, server_name=NAME)
        self.assertEqual(fingerprint(tls.leaf), new_fp)
        self.assertNotEqual(harness.cert_info(tls.leaf)["serial"], old_serial)
        harness.verify_chain(tls.certs, pebble.issued_root_file(), hostname=NAME).check()
        print("\n%d handshakes, %d failures; %d while renewing, %d after the swap" % (
            len(results), len(errors), during, len(results) - mark))
        return during

    def test_forced_renewal_under_load(self):
        """acmectl renew --force on the same store; nginx answers its http-01 challenge."""
        if not os.path.exists(harness.acmectl_path()):
            self.skipTest("acmectl not built")
        pebble, ngx, workers, tls = self.start()

        def renew():
            cp = harness.run([harness.acmectl_path(), "renew", "--force", "--store", ngx.store,
                              "--ca", pebble.directory_url, "--ca-root", pebble.ca_root,
                              "--chain-roots", pebble.chain_roots,
                              "--agree-tos", "-d", NAME], timeout=120)
            self.assertIn(b"ecdsa-p256.pem", cp.stdout)
        during = self.swap_under_load(pebble, ngx, workers, tls, renew)
        self.assertGreater(during, 0, "handshakes while acmectl renewed")

    def test_scheduled_renewal_by_the_driver(self):
        """The module's own driver renews when acme_renew_window says so (1-hour certificates,
        renewed 3590 s before expiry, i.e. about 10 s after issuance)."""
        pebble, ngx, workers, tls = self.start(renew_window="3590s", validity=3600)
        log_start = ngx.log_size()

        def renew():
            ngx.wait_for_log(r"acme: %s: ecdsa-p256 certificate installed" % NAME,
                             start=log_start, timeout=60)
        self.swap_under_load(pebble, ngx, workers, tls, renew)
        self.assertIn("ordering a certificate", ngx.error_log_text()[log_start:])
