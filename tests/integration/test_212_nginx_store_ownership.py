"""nginx: the master (root) and the store the worker user owns.

* The startup certificates reach nginx's SSL setup as text from the core's cache ("data:"), not
  as paths into the store: a worker could swap a file there for a symlink to a root-only file or
  a FIFO between the core's check and OpenSSL's open. Seen from outside (strace): nothing but
  the core opens a file of the store (the core opens everything O_CLOEXEC; OpenSSL's
  BIO_new_file, which nginx uses for certificate paths, does not), and where nginx shows a certificate's name (OCSP
  stapling warnings, load errors) it shows "data:acme certificate NAME (KEY TYPE)": neither a
  path nor PEM text (which for the key would be the key itself).
* A store whose parent directory is not root's is reported at startup.
* When the store cannot be handed to the worker user (here: a file in it that cannot be chowned),
  `nginx -t` and a reload fail, naming the store and the user; the running workers stay.
"""

import os
import re
import shutil
import subprocess
import unittest

import harness
import nginx_harness

NAME = "own.example.org"

SERVER = """
    server {
        listen 127.0.0.1:%(https)d ssl;
        server_name own.example.org;
        acme_key_type ecdsa-p256 rsa-2048;
        ssl_stapling on;
        acme on;
    }
"""


@nginx_harness.require_module
class TestStoreOwnership(nginx_harness.NginxTestCase):

    def test_startup_certificates_are_not_read_from_store_paths(self):
        dead = harness.free_port()
        ngx = self.nginx(ca_url="https://127.0.0.1:%d/directory" % dead)
        ngx.write_config(SERVER % self.ports())
        # nginx -t twice: neither writes the store; both hand nginx data: certificates.
        for _ in range(2):
            rc, out = ngx.test_config()
            self.assertEqual(rc, 0, out)
        names = re.findall(r'"ssl_stapling" ignored, .*certificate "([^"\n]*)"', out)
        self.assertEqual(sorted(names), ["data:acme certificate own.example.org (ecdsa-p256)",
                                         "data:acme certificate own.example.org (rsa-2048)"],
                         out)
        self.assertNotIn(ngx.store, out)
        self.assertNotIn("BEGIN", out)

        if shutil.which("strace") is None:
            self.skipTest("strace is not installed")
        trace = self.ws.file("nginx-t.strace")
        cp = subprocess.run(["strace", "-f", "-qq", "-e", "trace=open,openat", "-o", trace] +
                            ngx.argv("-t"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout.decode(errors="replace"))
        with open(trace) as f:
            opens = f.read().splitlines()
        self.assertTrue([line for line in opens if '"%s"' % ngx.conf_path in line],
                        "no open() of nginx.conf traced")
        by_nginx = [line for line in opens if ngx.store + "/" in line and
                    "O_CLOEXEC" not in line and "= -1 ENOENT" not in line]
        self.assertEqual(by_nginx, [], "files of the store opened by nginx/OpenSSL")

    def test_store_below_a_directory_of_the_worker_user_is_reported(self):
        ngx = self.nginx(ca_url="https://127.0.0.1:%d/directory" % harness.free_port(),
                         store=os.path.join(self.ws.mkdir("nginx/workers"), "store"))
        parent = os.path.dirname(ngx.store)
        os.chown(parent, nginx_harness.pwd_uid("nobody"), -1)
        ngx.write_config(SERVER % self.ports())
        ngx.start(wait_ports=[self.https_port])
        ngx.wait_for_log(r'\[warn\] .*acme: the directory "%s" above the store "%s" is owned '
                         r'by uid %d, not root' % (re.escape(parent), re.escape(ngx.store),
                                                   nginx_harness.pwd_uid("nobody")))
        self.assertTrue(harness.presented_chain("127.0.0.1", self.https_port,
                                                server_name=NAME).ok)

    def test_store_that_cannot_be_handed_over_fails_test_and_reload(self):
        if shutil.which("chattr") is None:
            self.skipTest("chattr is not installed")
        ngx = self.nginx(ca_url="https://127.0.0.1:%d/directory" % harness.free_port(),
                         workers=2)
        ngx.write_config(SERVER % self.ports())
        ngx.start(wait_ports=[self.https_port])
        workers = ngx.worker_pids()

        # An immutable file in the store: root cannot chown it to the worker user.
        stuck = os.path.join(ngx.store, "stuck")
        with open(stuck, "w") as f:
            f.write("x")
        if subprocess.run(["chattr", "+i", stuck]).returncode != 0:
            self.skipTest("the file system of %s has no immutable flag" % stuck)
        self.addCleanup(subprocess.run, ["chattr", "-i", stuck])

        line = ngx.config_text(SERVER % self.ports()).splitlines().index(
            "    acme_store %s;" % ngx.store) + 1
        want = (r'acme: handing the store "%s" to user "nobody" \(uid %d\): .*%s.* in %s:%d' % (
            re.escape(ngx.store), nginx_harness.pwd_uid("nobody"), re.escape(stuck),
            re.escape(ngx.conf_path), line))
        rc, out = ngx.test_config()
        self.assertNotEqual(rc, 0, out)
        self.assertRegex(out, want)

        size = ngx.log_size()
        ngx.signal_reload()
        ngx.wait_for_log(want, start=size)
        # The reload failed: the same workers go on serving.
        self.assertEqual(ngx.worker_pids(), workers)
        self.assertTrue(harness.presented_chain("127.0.0.1", self.https_port,
                                                server_name=NAME).ok)
        self.assertNotIn("start worker process", ngx.error_log_text()[size:])


if __name__ == "__main__":
    unittest.main()
