"""nginx: what the ACME driver logs (on a thread of its own) is written to the error log by the
worker's event loop, never by the driver's thread: nginx's log writers (files reopened on USR1,
syslog, memory buffers) are not thread-safe, and a line written into a reopened descriptor by
another thread could end up in a client connection. nginx names the writing thread in every line
("PID#TID"): each acme line of a worker must have TID == PID. The core's levels map onto nginx's
(error, warn, notice, info), and lines come out promptly, in order, across log reopens."""

import re

import harness
import nginx_harness

NAME = "log.example.org"
LINE = re.compile(r"^\S+ \S+ \[(\w+)\] (\d+)#(\d+): (?:\*\d+ )?(acme: .*)$", re.M)


@nginx_harness.require_module
class TestDriverLog(nginx_harness.NginxTestCase):

    def test_driver_lines_written_by_event_loop(self):
        # A CA that does not answer: the driver logs at once (notice: it drives; error: the
        # order failed) and then backs off.
        dead = harness.free_port()
        ngx = self.nginx(ca_url="https://127.0.0.1:%d/directory" % dead, workers=2)
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name log.example.org;
                acme on;
            }
        """ % self.ports())
        ngx.start(wait_ports=[self.https_port])
        ngx.wait_for_log(r"\[notice\] \d+#\d+: acme: process \d+ now manages the "
                         r"certificates", timeout=20)
        ngx.wait_for_log(r"\[error\] \d+#\d+: acme: log\.example\.org: .*next attempt",
                         timeout=30)
        # Reopening the logs (USR1) while the driver runs does not lose or misplace lines.
        for _ in range(3):
            harness.run(ngx.argv("-s", "reopen"), timeout=30)
        size = ngx.log_size()
        # A handshake makes the event loop log from the certificate callback's path too.
        self.assertTrue(harness.presented_chain("127.0.0.1", self.https_port,
                                                server_name=NAME).ok)

        workers = set(ngx.worker_pids())
        lines = LINE.findall(ngx.error_log_text())
        self.assertTrue(lines)
        by_worker = [l for l in lines if int(l[1]) in workers]
        self.assertTrue(by_worker, ngx.error_log_text()[-3000:])
        for level, pid, tid, text in by_worker:
            self.assertEqual(pid, tid, "%s written by thread %s of worker %s" % (
                text, tid, pid))

        def levels_of(fragment):
            return {level for level, _, _, text in by_worker if fragment in text}
        self.assertEqual(levels_of("now manages the certificates"), {"notice"})
        self.assertEqual(levels_of("ordering a certificate"), {"notice"})
        self.assertEqual(levels_of("next attempt"), {"error"})
        # In order: the driver announces itself, orders, fails.
        texts = [text for _, _, _, text in by_worker]

        def first(fragment):
            return next(i for i, t in enumerate(texts) if fragment in t)
        self.assertLess(first("now manages"), first("ordering a certificate"))
        self.assertLess(first("ordering a certificate"), first("next attempt"))
        self.assertGreaterEqual(ngx.log_size(), size)
