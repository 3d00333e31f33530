"""nginx with "master_process off" (a debugging mode; nginx runs as an unprivileged user, as ACME
never runs as root): nginx does not run init_process again after a reload, so the module itself
stops the old configuration's driver and starts the new one's. After a reload that adds a name,
the certificate is ordered for the new names, by a new driver, while the old driver has stopped
(the process has no more threads than before the reload).

(nginx 1.22 itself does not serve new connections properly after a reload in this mode, so the
order cannot complete its http-01 validation here; what is checked is the driver.)"""

import os
import re
import signal

import harness
import nginx_harness

CONFIG = """
    server {
        listen 127.0.0.1:%(http)d;
        listen 127.0.0.1:%(https)d ssl;
        server_name %(names)s;
        acme on;
    }
"""


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


@nginx_harness.require_module
class TestSingleProcessReload(nginx_harness.NginxTestCase):

    def test_reload_moves_the_driver_to_the_new_configuration(self):
        pebble = self.ws.start_pebble(http_port=self.http_port,
                                      env={"PEBBLE_WFE_NONCEREJECT": "0"})
        ngx = self.nginx(pebble, single_process=True)
        ngx.write_config(CONFIG % self.ports(names="a.example.org"))
        ngx.start(wait_ports=[self.http_port, self.https_port],
                  user=nginx_harness.WORKER_USER)
        nginx_harness.wait_for_issuer(self.https_port, "a.example.org",
                                      pebble.issued_root_file())
        ngx.wait_for_log(r"acme: a\.example\.org: done in")
        before = threads(ngx.proc.pid)
        log = ngx.error_log_text()
        self.assertEqual(len(re.findall(r"now manages the certificates", log)), 1, log)

        ngx.write_config(CONFIG % self.ports(names="a.example.org b.example.org"))
        size = ngx.log_size()
        ngx.proc.signal(signal.SIGHUP)
        ngx.wait_for_log(r"reconfiguring", start=size)
        # The new configuration's driver takes over and orders the new names.
        ngx.wait_for_log(r"acme: process %d now manages the certificates" % ngx.proc.pid,
                         start=size, timeout=30)
        ngx.wait_for_log(r"acme: a\.example\.org: ordering a certificate for a\.example\.org, "
                         r"b\.example\.org", start=size, timeout=30)
        self.assertNotIn("[alert]", ngx.error_log_text())
        # One driver, not two: the old configuration's was stopped.
        harness.wait_until(lambda: threads(ngx.proc.pid) <= before, 10,
                           what="the thread count of before the reload (%d)" % before)
        self.assertTrue(ngx.proc.alive())
