"""nginx process model: `nginx -s reload` while an order is in flight (held at the CA front)
still ends with the certificate served, the driver role moving to a worker of the new
configuration; the role also moves on when the driving worker is killed; and two nginx instances
on one store never order one certificate twice (orders counted at the CA front)."""

import json
import os
import signal
import time
import unittest

import harness
import nginx_harness


def ordered_names(front):
    """The identifiers of every newOrder the front saw, as sorted tuples."""
    out = []
    for payload in front.new_orders:
        out.append(tuple(sorted(i["value"] for i in payload.get("identifiers", []))))
    return out


@nginx_harness.require_module
class TestReloadAndSharedStore(nginx_harness.NginxTestCase):

    def test_reload_during_order(self):
        name = "reload.example.org"
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble)
        # The order is held in flight: finalize answers after 4 seconds.
        front.delay_next(4, path="finalize")
        ngx = self.nginx(pebble, ca_url=front.directory_url, workers=2)
        body = """
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name reload.example.org;
                acme on;
                location = /acme-status { acme_status; }
                location / { return 200 "%(tag)s\\n"; }
            }
        """
        ngx.write_config(body % self.ports(tag="one"))
        ngx.start(wait_ports=[self.https_port])
        old_workers = ngx.worker_pids()
        harness.wait_until(lambda: not front.pending_faults(), timeout=30,
                           what="the order to reach finalize")
        driver = int(ngx.wait_for_log(r"acme: process (\d+) now manages").group(1))
        self.assertIn(driver, old_workers)

        # Reload with a changed (but equivalent for ACME) configuration.
        log_start = ngx.log_size()
        ngx.write_config(body % self.ports(tag="two"))
        ngx.signal_reload()
        harness.wait_until(lambda: harness.http_get(
            "http://127.0.0.1:%d/" % self.http_port).body == b"two\n", timeout=20,
            what="the new configuration to answer")
        new_workers = harness.wait_until(
            lambda: (lambda pids: pids if len(pids) == 2 and not set(pids) & set(old_workers)
                     else None)(ngx.worker_pids()),
            timeout=20, what="two workers of the new configuration")

        # The certificate is served in the end, by the new workers, without another reload.
        tls = nginx_harness.wait_for_issuer(self.https_port, name, pebble.issued_root_file(),
                                            timeout=60)
        harness.verify_chain(tls.certs, pebble.issued_root_file(), hostname=name).check()
        serial = harness.cert_info(tls.leaf)["serial"]
        m = ngx.wait_for_log(r"acme: process (\d+) now manages", start=log_start, timeout=30)
        self.assertIn(int(m.group(1)), new_workers)
        # The old driver has gone (it stopped when its worker started shutting down).
        harness.wait_until(lambda: not harness.run(["kill", "-0", str(driver)],
                                                   check=False).returncode == 0,
                           timeout=30, what="the old driver's worker to exit")
        status = json.loads(harness.http_get(
            "http://127.0.0.1:%d/acme-status" % self.http_port).body)
        [cert] = status["certificates"]
        self.assertEqual(cert["key_types"]["ecdsa-p256"]["serial"], serial)
        self.assertEqual(cert["state"], "valid")
        # One certificate was installed; the interrupted order was resumed or replaced, never
        # run twice at once.
        orders = ordered_names(front)
        self.assertIn(len(orders), (1, 2), orders)
        self.assertEqual(set(orders), {(name,)})
        self.assertEqual(ngx.error_log_text().count("%s: ecdsa-p256 certificate installed"
                                                    % name), 1)
        print("\nnewOrder requests: %d" % len(orders))

    def test_driver_moves_on_when_its_worker_dies(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name crash.example.org;
                acme on;
                location = /acme-status { acme_status; }
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.https_port])
        nginx_harness.wait_for_issuer(self.https_port, "crash.example.org",
                                      pebble.issued_root_file())
        driver = int(ngx.wait_for_log(r"acme: process (\d+) now manages").group(1))
        log_start = ngx.log_size()
        os.kill(driver, signal.SIGKILL)
        # Another worker (the survivor, or the one the master starts instead) takes the lock.
        m = ngx.wait_for_log(r"acme: process (\d+) now manages", start=log_start, timeout=30)
        self.assertNotEqual(int(m.group(1)), driver)
        self.assertIn(int(m.group(1)), ngx.worker_pids())
        tls = harness.presented_chain("127.0.0.1", self.https_port,
                                      server_name="crash.example.org")
        harness.verify_chain(tls.certs, pebble.issued_root_file(),
                             hostname="crash.example.org").check()

    def test_two_instances_one_store(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        front = self.ws.start_ca_front(pebble)
        store = self.ws.mkdir("shared-store")
        a = self.nginx(pebble, name="nginx-a", ca_url=front.directory_url, workers=2,
                       store=store)
        b = self.nginx(pebble, name="nginx-b", ca_url=front.directory_url, workers=2,
                       store=store)
        https_b, http_b = harness.free_port(), harness.free_port()
        # A: one certificate. B: the same one (same configuration) and one more, so the two
        # instances drive different configurations and compete per certificate.
        a.write_config("""
            server {
                listen 127.0.0.1:%(http)d;
                listen 127.0.0.1:%(https)d ssl;
                server_name shared.example.org;
                acme on;
            }
        """ % self.ports())
        b.write_config("""
            server {
                listen 127.0.0.1:%(http_b)d;
                listen 127.0.0.1:%(https_b)d ssl;
                server_name shared.example.org;
                acme on;
            }
            server {
                listen 127.0.0.1:%(https_b)d ssl;
                server_name only-b.example.org;
                acme on;
            }
        """ % self.ports(http_b=http_b, https_b=https_b))
        a.start(wait_ports=[self.https_port])
        b.start(wait_ports=[https_b])
        root = pebble.issued_root_file()
        tls_a = nginx_harness.wait_for_issuer(self.https_port, "shared.example.org", root)
        tls_b = nginx_harness.wait_for_issuer(https_b, "shared.example.org", root)
        nginx_harness.wait_for_issuer(https_b, "only-b.example.org", root)
        # Both serve the one certificate.
        self.assertEqual(harness.cert_info(tls_a.leaf)["serial"],
                         harness.cert_info(tls_b.leaf)["serial"])
        time.sleep(3)  # give a second order, if any, time to show up
        orders = ordered_names(front)
        self.assertEqual(sorted(orders), [("only-b.example.org",), ("shared.example.org",)],
                         orders)
        installed = (a.error_log_text() + b.error_log_text()).count(
            "shared.example.org: ecdsa-p256 certificate installed")
        self.assertEqual(installed, 1)
        self.__class__.decisions_while_busy = (a.error_log_text() + b.error_log_text()).count(
            "shared.example.org: no ecdsa-p256 certificate stored")
        print("\nshared.example.org was found due %d times while one instance ordered it" %
              self.decisions_while_busy)

    def test_waiting_for_another_process_does_not_spin(self):
        # When another process holds a certificate's lock, the driver waits the lock retry
        # interval before looking again, instead of relaunching the order over and over.
        self.test_two_instances_one_store()
        self.assertLess(self.decisions_while_busy, 20)
