"""Helpers for the acmectl scenarios (test_1NN_*.py): run $ACME_BUILD_DIR/bin/acmectl against a
harness pebble (or the CA front), read what it stored.

acmectl, run as root, drops to the store's owner or ``nobody``; :class:`AcmectlTestCase` makes
the workspace world-readable (0755) so that ``nobody`` can read the CA root and reach the store.
"""

import glob
import json
import os
import subprocess
import time

import harness


class AcmectlResult:
    """Exit code, stdout, stderr (text) and the wall time of one acmectl run."""

    def __init__(self, argv, returncode, stdout, stderr, elapsed):
        self.argv, self.returncode, self.stdout, self.stderr = argv, returncode, stdout, stderr
        self.elapsed = elapsed

    @property
    def paths(self):
        """The bundle paths acmectl issue/renew printed (one per key type)."""
        return [line for line in self.stdout.splitlines() if line.startswith("/")]

    def __repr__(self):
        return "<acmectl exit %d in %.2fs\nargv: %s\nstdout:\n%s\nstderr:\n%s>" % (
            self.returncode, self.elapsed, " ".join(self.argv), self.stdout, self.stderr)


class AcmectlTestCase(harness.HarnessTestCase):
    """A HarnessTestCase with an acmectl runner and a store in the workspace."""

    def setUp(self):
        super().setUp()
        if not os.access(harness.acmectl_path(), os.X_OK):
            self.fail("acmectl not built: %s" % harness.acmectl_path())
        os.chmod(self.ws.path, 0o755)
        self.store = os.path.join(self.ws.path, "store")

    def open_ca_dir(self):
        """Make the harness CA directory readable by the unprivileged acmectl (call after the CA
        exists, i.e. after starting pebble)."""
        os.chmod(self.ws.ca.dir, 0o755)
        os.chmod(self.ws.ca.ca_file, 0o644)

    def acmectl(self, *args, timeout=120, env=None, check=None):
        """Run acmectl with ``args``; returns :class:`AcmectlResult`. ``check``: expected exit
        code (asserted, with the output in the failure message)."""
        argv = [harness.acmectl_path()] + [str(a) for a in args]
        full_env = dict(os.environ)
        full_env.update(env or {})
        start = time.monotonic()
        try:
            cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=timeout, env=full_env, cwd=self.ws.path)
        except subprocess.TimeoutExpired as e:
            self.fail("acmectl timed out after %ss: %s\n%s" % (
                timeout, " ".join(argv), (e.stderr or b"").decode(errors="replace")))
        r = AcmectlResult(argv, cp.returncode, cp.stdout.decode(errors="replace"),
                          cp.stderr.decode(errors="replace"), time.monotonic() - start)
        with open(os.path.join(self.ws.log_dir, "acmectl.log"), "a") as f:
            f.write("%r\n" % r)
        if check is not None:
            self.assertEqual(r.returncode, check, r)
        return r

    def ca_args(self, ca, store=None):
        """--store/--ca/--ca-root/--chain-roots for a Pebble or a CAFront (``ca_root`` from the
        harness CA, ``chain_roots`` pebble's roots)."""
        self.open_ca_dir()
        return ["--store", store or self.store, "--ca", ca.directory_url,
                "--ca-root", self.ws.ca.ca_file, "--chain-roots", ca.chain_roots,
                "--agree-tos", "--email", "ops@example.org"]

    def issue(self, ca, pebble, domains, *extra, command="issue", store=None, check=0,
              http01=True):
        """acmectl issue (or renew) with http-01 on pebble's http_port unless http01=False."""
        args = [command] + self.ca_args(ca, store)
        for d in domains:
            args += ["-d", d]
        if http01:
            args += ["--http01-listen", "%s:%d" % (harness.LOCALHOST, pebble.http_port)]
        return self.acmectl(*(args + list(extra)), check=check)

    # -- the store
    def store_path(self, *parts, store=None):
        return os.path.join(store or self.store, *parts)

    def read(self, *parts, store=None):
        with open(self.store_path(*parts, store=store)) as f:
            return f.read()

    def bundle(self, name, key_type="ecdsa-p256", store=None):
        """The stored bundle (key + leaf + chain) of ``name``."""
        return self.read("certs", name, key_type + ".pem", store=store)

    def meta(self, name, store=None):
        return json.loads(self.read("certs", name, "meta.json", store=store))

    def account_dirs(self, store=None):
        return sorted(glob.glob(self.store_path("accounts", "*", store=store)))

    def temp_files(self, store=None):
        """Every leftover temporary file in the store."""
        out = []
        for root, _dirs, files in os.walk(store or self.store):
            out += [os.path.join(root, f) for f in files if ".tmp-" in f]
        return out

    def status(self, store=None):
        r = self.acmectl("status", "--store", store or self.store, check=0)
        return json.loads(r.stdout)

    def assert_bundle_consistent(self, path):
        """The bundle's private key matches its leaf certificate (checked with openssl)."""
        with open(path) as f:
            text = f.read()
        self.assertIn("PRIVATE KEY", text, path)
        leaf = harness.split_pem(text)
        self.assertTrue(leaf, "no certificate in %s" % path)
        key_pub = harness.run(["openssl", "pkey", "-pubout"], input=text.encode()).stdout
        cert_pub = harness.run(["openssl", "x509", "-noout", "-pubkey"],
                               input=leaf[0].encode()).stdout
        self.assertEqual(key_pub, cert_pub, "key and certificate of %s do not match" % path)
        return leaf
