"""313: the startup certificates mod_ssl loads (as root, in the parent) are not paths into the
store, which the children's User owns (a child could swap a file there for a symlink to a
root-only file or a FIFO): mod_acme writes the bundle from the core's cache into a root-owned
0600 file in httpd's runtime directory, mod_acme-<hash>-<keytype>.pem, new for each configuration
generation and removed with it. A store below a directory that is not root's is reported."""

import os
import re
import stat

import harness
from test_399_httpd_fixture import HttpdTestCase

NAME = "files.example.org"
FILE = re.compile(r"ACME01032: .*: starting with (?:the self-signed fallback, )?(\S+) "
                  r"\((ecdsa-p256|rsa-2048)\)")


class TestStartupFiles(HttpdTestCase):

    def startup_files(self, httpd, start=0):
        return dict((kt, path) for path, kt in FILE.findall(httpd.error_log_text()[start:]))

    def check_file(self, httpd, path, key_type):
        self.assertEqual(os.path.dirname(path), os.path.join(httpd.dir, "run"))
        self.assertRegex(os.path.basename(path), r"^mod_acme-[0-9a-f]{16}-%s\.pem$" % key_type)
        self.assertFalse(path.startswith(httpd.store_dir))
        st = os.lstat(path)
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual((st.st_uid, stat.S_IMODE(st.st_mode)), (0, 0o600))
        with open(path) as f:
            text = f.read()
        self.assertIn("PRIVATE KEY-----", text)
        return harness.split_pem(text)

    def test_startup_bundles_are_root_owned_copies_in_the_runtime_directory(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble) +
                           httpd.managed_vhost(NAME, extra="    ACMEKeyType ecdsa-p256 "
                                                           "rsa-2048\n"))
        # No CA to order from: what is served stays what mod_ssl loaded at startup.
        pebble.stop()
        httpd.start()
        files = self.startup_files(httpd)
        self.assertEqual(sorted(files), ["ecdsa-p256", "rsa-2048"], httpd.error_log_text())
        for kt, path in files.items():
            certs = self.check_file(httpd, path, kt)
            # What mod_ssl serves is what the file holds (the fallback, before any order).
            served = httpd.chain(NAME, sigalgs="ECDSA+SHA256" if kt.startswith("ecdsa")
                                 else "RSA-PSS+SHA256:RSA+SHA256")
            self.assertEqual(harness.cert_info(served.leaf)["fingerprint_sha256"],
                             harness.cert_info(certs[0])["fingerprint_sha256"])
        self.assertNotIn(httpd.store_dir + "/", "".join(m.group(0) for m in
                                                         FILE.finditer(httpd.error_log_text())))

        # A graceful restart writes new files and removes the old ones.
        size = len(httpd.error_log_text())
        httpd.graceful()
        again = self.startup_files(httpd, size)
        self.assertEqual(sorted(again), ["ecdsa-p256", "rsa-2048"])
        for kt, path in again.items():
            self.check_file(httpd, path, kt)
            self.assertNotEqual(path, files[kt])
            self.assertFalse(os.path.exists(files[kt]), files[kt])
        self.assertEqual(httpd.stop(), 0)
        left = [n for n in os.listdir(os.path.join(httpd.dir, "run")) if n.startswith("mod_acme")]
        self.assertEqual(left, [])

    def test_a_missing_runtime_directory_is_created(self):
        # "apache2 -f" without apache2ctl and without DefaultRuntimeDir: httpd's compiled-in
        # runtime directory, which apache2ctl (or systemd) would have made, is missing.
        runtime = harness.run(["sh", "-c", "strings /usr/sbin/apache2 | grep -x "
                               "/var/run/apache2 || true"]).stdout.decode().strip()
        if runtime != "/var/run/apache2":
            self.skipTest("this apache2 has another compiled-in runtime directory")
        try:
            os.rmdir(runtime)  # only when empty: no other httpd uses it
        except OSError:
            pass
        made_here = not os.path.exists(runtime)
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        config = httpd.base_config() + httpd.acme_globals(pebble) + httpd.managed_vhost(NAME)
        config = config.replace('DefaultRuntimeDir "%s/run"\n' % httpd.dir, "")
        self.assertNotIn("DefaultRuntimeDir", config)
        httpd.write_config(config)
        pebble.stop()
        httpd.start()
        self.assertTrue(os.path.isdir(runtime))
        if made_here:
            self.assertIn("created the runtime directory %s (DefaultRuntimeDir)" % runtime,
                          httpd.error_log_text())
        files = self.startup_files(httpd)
        self.assertEqual(list(files), ["ecdsa-p256"], httpd.error_log_text())
        self.assertEqual(os.path.dirname(files["ecdsa-p256"]), runtime)
        self.assertEqual(httpd.stop(), 0)

    def test_store_below_a_directory_of_the_children_user_is_reported(self):
        httpd = self.httpd()
        pebble = self.start_pebble(httpd)
        parent = os.path.join(httpd.dir, "children")
        os.makedirs(parent)
        os.chown(parent, 65534, -1)
        store = os.path.join(parent, "store")
        httpd.write_config(httpd.base_config() + httpd.acme_globals(pebble, store=False) +
                           "ACMEStoreDir %s\n" % store + httpd.managed_vhost(NAME))
        httpd.start()
        self.assertRegex(httpd.error_log_text(),
                         r"ACME01028: ACME store %s: the directory %s above it is owned by uid "
                         r"65534, not root" % (re.escape(store), re.escape(parent)))
        self.assertTrue(httpd.chain(NAME).ok)
