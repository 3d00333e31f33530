"""nginx dns-01: the driving worker is killed (SIGKILL) while its DNS hook hangs. The hook dies
with it (nothing of the worker outlives it), the store's driver lock is free, and the worker the
master starts instead drives and gets the certificate through the hook."""

import os

import harness
import nginx_harness


def running(pid):
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@nginx_harness.require_module
class TestDns01WorkerKilled(nginx_harness.NginxTestCase):

    def test_hanging_hook_dies_with_the_worker(self):
        pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
        hook_dir = self.ws.mkdir("hook")
        os.chmod(hook_dir, 0o777)
        hook_log = self.ws.write("hook/hook.log", "", mode=0o666)
        # The first setup hangs (its pid in hung.pid); every other call is the real hook.
        wrapper = self.ws.write("hook/wrapper.sh", """#!/bin/sh
if [ "$1" = setup ] && mkdir %(dir)s/hung 2>/dev/null; then
    echo $$ > %(dir)s/hung.tmp && mv %(dir)s/hung.tmp %(dir)s/hung.pid
    exec sleep 300
fi
exec %(hook)s "$@"
""" % {"dir": hook_dir, "hook": harness.dns_hook_path()}, mode=0o755)
        ngx = self.nginx(pebble, env_vars=["ACME_TEST_CHALLTESTSRV", "ACME_TEST_HOOK_LOG"])
        ngx.write_config("""
            server {
                listen 127.0.0.1:%(https)d ssl;
                server_name example.org *.example.org;
                acme_challenge dns-01;
                acme_dns_hook %(hook)s;
                acme on;
                location / { return 200 "$host\\n"; }
            }
        """ % self.ports(hook=wrapper))
        ngx.start(wait_ports=[self.https_port],
                  env={"ACME_TEST_CHALLTESTSRV": pebble.challtestsrv_url,
                       "ACME_TEST_HOOK_LOG": hook_log})

        pid_file = os.path.join(hook_dir, "hung.pid")
        harness.wait_until(lambda: os.path.exists(pid_file), 60, what="the hook to hang")
        with open(pid_file) as f:
            hook_pid = int(f.read())
        self.assertTrue(running(hook_pid))
        [worker] = ngx.worker_pids()
        os.kill(worker, 9)

        # The hook (and the helper process between it and the worker) go at once, not after
        # the hook's timeout or its sleep.
        harness.wait_until(lambda: not running(hook_pid), 20,
                           what="the hung hook to die with its worker")
        # A new worker takes the driver lock and completes the order through the hook.
        root = pebble.issued_root_file()
        tls = nginx_harness.wait_for_issuer(self.https_port, "www.example.org", root, timeout=90)
        self.assertEqual(sorted(harness.cert_info(tls.leaf)["dns_names"]),
                         ["*.example.org", "example.org"])
        self.assertNotIn(worker, ngx.worker_pids())


if __name__ == "__main__":
    import unittest
    unittest.main()
