"""Integration-test harness: real pebble, real servers, real TLS clients, on 127.0.0.1 only.

Python 3 standard library only. Every test file is a ``unittest`` module run by ctest from
tests/integration as ``python3 -m unittest -v test_NNN_name`` with ``ACME_BUILD_DIR`` and
``ACME_SOURCE_DIR`` set (see tests/CMakeLists.txt). Tests run in parallel (``ctest -j``): every
server binds 127.0.0.1 on a port from :func:`free_port`, every test has its own temp dir.

Typical test::

    import harness

    class TestIssue(harness.HarnessTestCase):
        def test_dns01(self):
            pebble = self.ws.start_pebble(env={"PEBBLE_WFE_NONCEREJECT": "0"})
            proc = self.ws.start("acmectl", [harness.acmectl_path(), "--ca-root",
                                  pebble.ca_root, ...])
            self.assertEqual(proc.wait(60), 0)
            chain = harness.presented_chain("127.0.0.1", port, server_name="example.org")
            harness.verify_chain(chain.certs, pebble.issued_root_file(), "example.org").check()

What the harness gives (everything raises :class:`HarnessError` with a message that says what
failed and where to look, and every wait is bounded):

* :class:`HarnessTestCase` -- a ``unittest.TestCase`` whose ``self.ws`` is a fresh
  :class:`Workspace` per test; on failure the tail of every managed process's log (and of every
  file registered with :meth:`Workspace.watch_log`) goes to stderr; the temp dir is removed unless
  ``ACME_KEEP_TMP=1``.
* :class:`Workspace` -- temp dir, managed processes (:meth:`Workspace.start`), the harness TLS CA
  (:attr:`Workspace.ca`, a :class:`TestCA`), :meth:`Workspace.start_pebble`,
  :meth:`Workspace.start_ca_front` (the test-only CA front of ``ca_front.py``).
* :class:`Proc` -- one managed process: log file, ``wait``, ``stop`` (SIGTERM to its process
  group, SIGKILL after a timeout). Also killed at interpreter exit (atexit) and, through
  ``setpriv --pdeathsig``, when the test process dies.
* :class:`Pebble` -- pebble + pebble-challtestsrv with a generated config.
* Waits: :func:`wait_for_port`, :func:`wait_for_http`, :func:`wait_until`.
* Clients: :func:`http_get` / :func:`http_request` (status, headers, body; SNI and Host header can
  be set separately from the address), :func:`presented_chain` (``openssl s_client``),
  :func:`verify_chain` (``openssl verify``), :func:`cert_info` (``openssl x509``),
  :func:`dns_query` (a hand-built UDP DNS query).
* :func:`ari_cert_id` (RFC 9773 certID of a certificate), :func:`challenge_txt_name`,
  :func:`run` (a short command, output captured).
* Paths: :func:`build_dir`, :func:`source_dir`, :func:`acmectl_path`, :func:`dns_hook_path`
  (dns_hook.sh; give it ``ACME_TEST_CHALLTESTSRV=pebble.challtestsrv_url``),
  :func:`integration_dir`.

Beside this module: ``ca_front.py`` (ARI, profiles and fault injection in front of pebble; start
it with :meth:`Workspace.start_ca_front`) and ``acmetest/tinyacme.py`` (a minimal ACME client to
drive pebble or the front directly).

Rules for test authors: start processes in the foreground (``nginx -g 'daemon off;'``,
``apache2 -DFOREGROUND``) so that stopping the process group stops everything; start them from the
test's main thread (the parent-death signal is tied to the thread that forks); a process's working
directory is the workspace, so pass absolute paths; bind 127.0.0.1 only; use ports from
:func:`free_port`. pebble keeps its own randomness unless told otherwise: 5% of good nonces are
rejected (badNonce) and valid authorizations are reused 50% of the time; pass
``env={"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"}`` to :meth:`Workspace.start_pebble`
when a test counts requests.
"""

import atexit
import base64
import calendar
import collections
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

__all__ = [
    "HarnessError", "HarnessTestCase", "Workspace", "Proc", "TestCA", "Pebble", "free_port",
    "wait_for_port", "wait_for_http", "wait_until", "http_get", "http_request", "HttpResponse",
    "presented_chain", "TlsResult", "verify_chain", "VerifyResult", "cert_info", "split_pem",
    "dns_query", "build_dir", "source_dir", "integration_dir", "acmectl_path", "run",
    "challenge_txt_name", "ari_cert_id", "dns_hook_path", "LOCALHOST",
]

LOCALHOST = "127.0.0.1"
_KEEP_TMP = os.environ.get("ACME_KEEP_TMP", "") not in ("", "0")
_LOG_TAIL_LINES = int(os.environ.get("ACME_LOG_TAIL", "60"))


class HarnessError(Exception):
    """Something the harness was asked to do failed (process died, wait timed out, openssl
    failed...)."""


# --------------------------------------------------------------------------------------------
# Paths


def integration_dir():
    """Absolute path of tests/integration (where this file lives)."""
    return os.path.dirname(os.path.abspath(__file__))


def source_dir():
    """The source tree: $ACME_SOURCE_DIR, else two levels above this file."""
    return os.environ.get("ACME_SOURCE_DIR") or os.path.dirname(os.path.dirname(integration_dir()))


def build_dir():
    """The build tree: $ACME_BUILD_DIR, else <source>/build."""
    return os.environ.get("ACME_BUILD_DIR") or os.path.join(source_dir(), "build")


def acmectl_path():
    """Path of the acmectl binary ($ACME_BUILD_DIR/bin/acmectl); it may not exist yet."""
    return os.path.join(build_dir(), "bin", "acmectl")


def dns_hook_path():
    """Path of tests/integration/dns_hook.sh (needs env ACME_TEST_CHALLTESTSRV, see the script)."""
    return os.path.join(integration_dir(), "dns_hook.sh")


# --------------------------------------------------------------------------------------------
# Small utilities


# Ports. Parallel tests never share a port: ctest gives each integration test a block of its own
# (ACME_TEST_PORT_BASE, ACME_TEST_PORT_COUNT; see tests/CMakeLists.txt), below the kernel's
# ephemeral range (32768-60999 on Debian), where no outgoing connection takes a port either.
# Within a test, free_port() hands out the block's ports in turn, skipping any that cannot be
# bound at that moment. A test run by hand (no ctest) gets a block picked from its process id.

_PORT_BLOCK = 250
_port_lock = threading.Lock()
_port_next = None


def _port_block():
    base = os.environ.get("ACME_TEST_PORT_BASE")
    if base:
        return int(base), int(os.environ.get("ACME_TEST_PORT_COUNT", _PORT_BLOCK))
    return 33000 - _PORT_BLOCK * (1 + os.getpid() % 80), _PORT_BLOCK


def free_port():
    """A TCP port on 127.0.0.1 that no other test uses and that was free a moment ago.

    Ports come from this test's own block (see above), one after the other, so another test
    running in parallel cannot take it between this call and the server's bind.
    """
    global _port_next
    base, count = _port_block()
    with _port_lock:
        if _port_next is None:
            _port_next = 0
        for _ in range(count):
            port = base + _port_next
            _port_next = (_port_next + 1) % count
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind((LOCALHOST, port))
                except OSError:
                    continue
            return port
    raise HarnessError("no free port left in %d-%d" % (base, base + count - 1))


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Call ``predicate()`` until it returns a truthy value, which is returned.

    Raises HarnessError naming ``what`` after ``timeout`` seconds. Exceptions from the predicate
    propagate.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def run(argv, input=None, timeout=60, check=True, env=None, cwd=None):
    """Run a short command, capture output; returns ``subprocess.CompletedProcess`` (bytes).

    With ``check`` a non-zero exit raises HarnessError with the command and its stderr.
    """
    try:
        cp = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=timeout, env=env, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise HarnessError("command timed out after %ss: %s" % (timeout, " ".join(argv)))
    except OSError as e:
        raise HarnessError("cannot run %s: %s" % (argv[0], e))
    if check and cp.returncode != 0:
        raise HarnessError("command failed (exit %d): %s\n%s" % (
            cp.returncode, " ".join(argv), cp.stderr.decode(errors="replace").strip()))
    return cp


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def challenge_txt_name(domain):
    """"_acme-challenge.<domain>." for a domain; "*.example.org" gives the base domain's name."""
    if domain.startswith("*."):
        domain = domain[2:]
    return "_acme-challenge.%s." % domain.rstrip(".")


# --------------------------------------------------------------------------------------------
# Processes

_live_procs = set()
_live_lock = threading.Lock()
_SETPRIV = shutil.which("setpriv")


class Proc:
    """One managed process, started by :meth:`Workspace.start` (do not construct directly).

    stdout and stderr go to ``log_path``. The process leads its own process group, so
    :meth:`stop` reaches its children too (nginx workers, httpd children).
    """

    def __init__(self, name, argv, log_path, env=None, cwd=None):
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        cmd = self.argv
        if _SETPRIV:
            # The child gets SIGTERM if the test process dies (e.g. killed by a ctest timeout).
            cmd = [_SETPRIV, "--pdeathsig", "TERM", "--"] + cmd
        self._log = open(log_path, "ab")
        self._log.write(("# %s: %s\n" % (name, " ".join(self.argv))).encode())
        self._log.flush()
        try:
            self.popen = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                          stderr=subprocess.STDOUT, env=full_env, cwd=cwd,
                                          start_new_session=True)
        except OSError as e:
            self._log.close()
            raise HarnessError("cannot start %s (%s): %s" % (name, self.argv[0], e))
        self.pid = self.popen.pid
        with _live_lock:
            _live_procs.add(self)

    def __repr__(self):
        return "<Proc %s pid=%d %s>" % (self.name, self.pid,
                                         "running" if self.alive() else "exit=%s" % self.returncode)

    @property
    def returncode(self):
        """Exit status (negative: killed by that signal), or None while running."""
        return self.popen.poll()

    def alive(self):
        """True while the process has not exited."""
        return self.popen.poll() is None

    def wait(self, timeout=30):
        """Wait for the process to exit by itself; returns its exit status.

        Raises HarnessError (the process keeps running) if it has not exited after ``timeout``.
        """
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HarnessError("%s (pid %d) still running after %ss; log %s" % (
                self.name, self.pid, timeout, self.log_path))

    def signal(self, sig):
        """Send ``sig`` to the process only (e.g. SIGHUP for an nginx reload)."""
        if self.alive():
            os.kill(self.pid, sig)

    def stop(self, timeout=5.0):
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds; returns exit status.

        Idempotent. Also reaps stray members of the group left after the leader exited.
        """
        try:
            if self.alive():
                self._killpg(signal.SIGTERM)
                try:
                    self.popen.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self._killpg(signal.SIGKILL)
                    self.popen.wait(timeout=timeout)
            # Children that outlived the leader (same process group) go too; wait (bounded)
            # until the group is empty so that a test can assert nothing is left.
            deadline = time.monotonic() + timeout
            while self._killpg(0) and time.monotonic() < deadline:
                self._killpg(signal.SIGKILL)
                time.sleep(0.02)
        finally:
            with _live_lock:
                _live_procs.discard(self)
            if not self._log.closed:
                self._log.close()
        return self.popen.returncode

    def _killpg(self, sig):
        """Signal the process group; False if the group no longer exists."""
        try:
            os.killpg(self.pid, sig)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def log_text(self):
        """The whole log file as text."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=_LOG_TAIL_LINES):
        """The last ``lines`` lines of the log file."""
        return _tail(self.log_path, lines)

    def wait_for_log(self, pattern, timeout=10.0):
        """Wait until the log matches the regex ``pattern``; returns the match.

        Raises HarnessError early if the process exits without the log matching.
        """
        rx = re.compile(pattern)

        def check():
            m = rx.search(self.log_text())
            if not m and not self.alive():
                m = rx.search(self.log_text())
                if not m:
                    raise HarnessError("%s exited (status %s) before its log matched %r:\n%s" % (
                        self.name, self.returncode, pattern, self.log_tail()))
            return m
        return wait_until(check, timeout, what="%s log to match %r" % (self.name, pattern))


def _tail(path, lines):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 256 * 1024))
            data = f.read().decode(errors="replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)
    return "\n".join(data.splitlines()[-lines:])


@atexit.register
def _kill_leftovers():
    with _live_lock:
        procs = list(_live_procs)
    for p in procs:
        try:
            p.stop(timeout=2)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


def wait_for_port(port, host=LOCALHOST, timeout=10.0, proc=None):
    """Wait until a TCP connect to host:port succeeds.

    If ``proc`` (a :class:`Proc`) exits meanwhile, fail at once with its log tail.
    """
    def check():
        if proc is not None and not proc.alive():
            raise HarnessError("%s exited (status %s) before listening on %s:%d:\n%s" % (
                proc.name, proc.returncode, host, port, proc.log_tail()))
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            return False
    wait_until(check, timeout, what="%s:%d to accept connections" % (host, port))


def wait_for_http(url, ca=None, timeout=10.0, proc=None, status=None, **kwargs):
    """Wait until GET ``url`` answers (with ``status`` if given, else any status < 500).

    Returns the :class:`HttpResponse`. ``kwargs`` go to :func:`http_request`. Fails early if
    ``proc`` exits.
    """
    last = ["no answer"]

    def check():
        if proc is not None and not proc.alive():
            raise HarnessError("%s exited (status %s) while waiting for %s:\n%s" % (
                proc.name, proc.returncode, url, proc.log_tail()))
        try:
            r = http_request("GET", url, ca=ca, timeout=2, **kwargs)
        except (OSError, http.client.HTTPException) as e:
            last[0] = repr(e)
            return None
        last[0] = "status %d" % r.status
        if (status is None and r.status < 500) or r.status == status:
            return r
        return None
    try:
        return wait_until(check, timeout, interval=0.1, what=url)
    except HarnessError as e:
        raise HarnessError("%s (last: %s)" % (e, last[0]))


# --------------------------------------------------------------------------------------------
# Workspace


class Workspace:
    """A temp directory plus everything a test started; :meth:`close` undoes it all.

    Usable as a context manager. :class:`HarnessTestCase` gives each test one as ``self.ws``;
    for a class-wide one, create it in ``setUpClass`` and ``cls.addClassCleanup(ws.close)``.
    """

    def __init__(self, prefix="acmetest-"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        # Servers' workers and acmectl run as unprivileged users (nobody, www-data) when the
        # tests run as root: they must be able to reach files inside the workspace.
        os.chmod(self.path, 0o755)
        self.log_dir = os.path.join(self.path, "logs")
        os.makedirs(self.log_dir)
        self.procs = []
        self._watched = []
        self._closers = []
        self._ca = None
        self._names = collections.Counter()
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(failed=exc_type is not None)

    def file(self, *parts):
        """Path inside the workspace (parent directories are created)."""
        p = os.path.join(self.path, *parts)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def write(self, relpath, content, mode=0o644):
        """Write ``content`` (str or bytes) to a workspace file; returns its path."""
        p = self.file(relpath)
        with open(p, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
        os.chmod(p, mode)
        return p

    def mkdir(self, relpath):
        """Create a directory inside the workspace; returns its path."""
        p = os.path.join(self.path, relpath)
        os.makedirs(p, exist_ok=True)
        return p

    def start(self, name, argv, env=None, cwd=None):
        """Start a managed process; returns a :class:`Proc`.

        Its log is ``logs/<name>.log`` (a suffix is added when a name repeats). ``env`` entries are
        added to the current environment.
        """
        if self.closed:
            raise HarnessError("workspace already closed")
        self._names[name] += 1
        fname = name if self._names[name] == 1 else "%s.%d" % (name, self._names[name])
        proc = Proc(name, argv, os.path.join(self.log_dir, fname + ".log"), env=env,
                    cwd=cwd or self.path)
        self.procs.append(proc)
        return proc

    def watch_log(self, path, name=None):
        """Show the tail of ``path`` (e.g. an nginx error.log) on failure, like process logs."""
        self._watched.append((name or os.path.basename(path), path))

    def on_close(self, fn):
        """Call ``fn()`` in :meth:`close`, before processes are stopped (last registered first)."""
        self._closers.append(fn)

    @property
    def ca(self):
        """The harness :class:`TestCA` of this workspace (generated on first use)."""
        if self._ca is None:
            self._ca = TestCA(self.mkdir("harness-ca"))
        return self._ca

    def start_pebble(self, **kwargs):
        """Start and return a :class:`Pebble` (see its constructor for the options)."""
        pebble = Pebble(self, **kwargs)
        pebble.start()
        return pebble

    def start_ca_front(self, pebble, **kwargs):
        """Start and return a ``ca_front.CAFront`` in front of ``pebble`` (see ca_front.py).

        Its certificate comes from the harness CA, so ``pebble.ca_root`` trusts it too; its
        default ARI windows come from pebble's management interface. ``kwargs`` go to CAFront.
        """
        import ca_front  # local import: ca_front imports this module
        self._names["ca-front"] += 1
        name = "ca-front-%d" % self._names["ca-front"]
        kwargs.setdefault("management_url", pebble.management_url)
        front = ca_front.CAFront(pebble.base_url, upstream_ca=pebble.ca_root,
                                 cert=self.ca.issue(name),
                                 log_path=os.path.join(self.log_dir, name + ".log"), **kwargs)
        front.chain_roots = pebble.chain_roots  # the front serves pebble's chains
        front.start()
        self.on_close(front.stop)
        self.watch_log(front.log_path, name)
        return front

    def dump_logs(self, stream=None, lines=_LOG_TAIL_LINES):
        """Write the tail of every process log and watched log to ``stream`` (stderr)."""
        stream = stream or sys.stderr
        entries = [(p.name + " (pid %d, %s)" % (p.pid, "running" if p.alive() else
                                                  "exit %s" % p.returncode), p.log_path)
                   for p in self.procs] + list(self._watched)
        for title, path in entries:
            stream.write("\n----- %s: last %d lines of %s -----\n%s\n" % (
                title, lines, path, _tail(path, lines)))
        stream.flush()

    def close(self, failed=False):
        """Stop everything (reverse order), dump logs if ``failed``, remove the temp dir.

        The temp dir is kept if ACME_KEEP_TMP=1 (its path is printed). Idempotent.
        """
        if self.closed:
            return
        self.closed = True
        errors = []
        for fn in reversed(self._closers):
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - keep cleaning up
                errors.append(e)
        for p in reversed(self.procs):
            try:
                p.stop()
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        if failed:
            self.dump_logs()
        if _KEEP_TMP:
            sys.stderr.write("ACME_KEEP_TMP: kept %s\n" % self.path)
        else:
            shutil.rmtree(self.path, ignore_errors=True)
        if errors:
            raise HarnessError("errors while closing workspace: %r" % errors)


class HarnessTestCase(unittest.TestCase):
    """TestCase with a fresh :class:`Workspace` as ``self.ws`` for every test method.

    Subclasses overriding ``setUp`` must call ``super().setUp()`` first. The workspace is closed
    after all other cleanups (so processes registered by the test are stopped first); on failure
    the logs are dumped to stderr.
    """

    def setUp(self):
        super().setUp()
        self.ws = Workspace(prefix="acmetest-%s-" % self._testMethodName)
        self.addCleanup(self._close_workspace)

    def _close_workspace(self):
        failed = not self._harness_passed()
        if failed:
            sys.stderr.write("\n===== %s failed; logs of its workspace %s =====\n" % (
                self.id(), self.ws.path))
        self.ws.close(failed=failed)

    def _harness_passed(self):
        # outcome.success is reset for each cleanup, so look at the recorded errors instead:
        # Python < 3.11 keeps them on the outcome until the end of run(), 3.11+ adds them to
        # the result at once (subtests appear as _SubTest objects with .test_case).
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return True
        for _test, exc in getattr(outcome, "errors", None) or []:
            if exc is not None:
                return False
        result = getattr(outcome, "result", None)
        for entries in (getattr(result, "failures", None), getattr(result, "errors", None)):
            for test, _ in entries or []:
                if getattr(test, "test_case", test) is self:
                    return False
        return True


# --------------------------------------------------------------------------------------------
# TLS material


class TestCA:
    """A throw-away CA made with the openssl CLI: ``ca_file`` (PEM), ``key_file``.

    :meth:`issue` makes leaf certificates (P-256, serverAuth) signed by it. This is the trust
    anchor for pebble's HTTPS listener and the CA front, i.e. what ``acme_ca_root`` /
    ``acmectl --ca-root`` gets.
    """

    def __init__(self, directory, name="ACME test harness CA"):
        self.dir = directory
        self.ca_file = os.path.join(directory, "ca.pem")
        self.key_file = os.path.join(directory, "ca.key")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key_file, "-out", self.ca_file,
             "-days", "30", "-subj", "/CN=%s" % name,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

    def issue(self, name, dns=("localhost",), ips=(LOCALHOST,), days=30):
        """Issue a leaf for ``dns`` names and ``ips``; returns ``(cert_file, key_file)``.

        Files are ``<name>.pem`` / ``<name>.key`` in the CA directory.
        """
        cert = os.path.join(self.dir, name + ".pem")
        key = os.path.join(self.dir, name + ".key")
        csr = os.path.join(self.dir, name + ".csr")
        ext = os.path.join(self.dir, name + ".ext")
        sans = ["DNS:%s" % d for d in dns] + ["IP:%s" % i for i in ips]
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                    % ",".join(sans))
        cn = (list(dns) + list(ips))[0]
        run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=%s" % cn])
        run(["openssl", "x509", "-req", "-in", csr, "-CA", self.ca_file, "-CAkey",
             self.key_file, "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
             "-out", cert, "-days", str(days), "-extfile", ext])
        return cert, key


# --------------------------------------------------------------------------------------------
# HTTP client


HttpResponse = collections.namedtuple("HttpResponse", "status headers body")
HttpResponse.__doc__ = """(status, headers, body): int, http.client.HTTPMessage (case-insensitive
``get``), bytes. Unpacks as a tuple. ``json()`` parses the body."""
HttpResponse.json = lambda self: json.loads(self.body.decode())


class _HTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address with a separately chosen SNI / verification name."""

    def __init__(self, host, port, server_name, **kwargs):
        super().__init__(host, port, **kwargs)
        self._server_name = server_name

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)


def http_request(method, url, body=None, headers=None, ca=None, host_header=None,
                 server_name=None, insecure=False, timeout=10.0):
    """One HTTP(S) request, no redirects followed; returns :class:`HttpResponse`.

    ``ca``: CA file to verify the server with (default: the system store, so the harness CA is NOT
    trusted unless given). ``server_name``: SNI and the name the certificate is checked against
    (default: the URL's host). ``host_header``: the Host header (default from the URL).
    ``insecure``: no verification. ``body`` may be bytes, str or a dict (sent as JSON). HTTP error
    statuses are returned, not raised; connection and TLS errors raise (OSError / ssl.SSLError).
    """
    u = urllib.parse.urlsplit(url)
    hdrs = dict(headers or {})
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    path = u.path or "/"
    if u.query:
        path += "?" + u.query
    if u.scheme == "https":
        if insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            ctx = ssl.create_default_context(cafile=ca)
        conn = _HTTPSConnection(u.hostname, u.port or 443, server_name or u.hostname,
                                context=ctx, timeout=timeout)
    elif u.scheme == "http":
        conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    else:
        raise HarnessError("unsupported URL scheme: %s" % url)
    try:
        skip_host = host_header is not None
        conn.putrequest(method, path, skip_host=skip_host, skip_accept_encoding=True)
        if skip_host:
            conn.putheader("Host", host_header)
        if body is not None and "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(len(body))
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        return HttpResponse(resp.status, resp.headers, data)
    finally:
        conn.close()


def http_get(url, ca=None, host_header=None, **kwargs):
    """GET ``url``; returns :class:`HttpResponse` ``(status, headers, body)``.

    Same options as :func:`http_request`.
    """
    return http_request("GET", url, ca=ca, host_header=host_header, **kwargs)


# --------------------------------------------------------------------------------------------
# TLS clients (what a user sees)

_PEM_RE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+?-----END CERTIFICATE-----")


def split_pem(text):
    """The PEM certificate blocks of ``text`` (str or bytes) as a list of str (with newline)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return [m.group(0) + "\n" for m in _PEM_RE.finditer(text)]


class TlsResult:
    """What ``openssl s_client`` saw.

    Attributes: ``ok`` (handshake completed), ``certs`` (PEM list, leaf first), ``protocol``
    ("TLSv1.3"), ``cipher``, ``alpn`` (negotiated protocol or None), ``peer_sig_type``
    (e.g. "ECDSA", "RSA-PSS"), ``output`` (full text), ``returncode``.
    """

    def __init__(self, returncode, output):
        self.returncode = returncode
        self.output = output
        self.certs = split_pem(output)
        m = re.search(r"^New, (\S+), Cipher is (\S+)", output, re.M)
        self.protocol = m.group(1) if m else None
        self.cipher = m.group(2) if m else None
        if m and self.protocol == "(NONE),":
            self.protocol = self.cipher = None
        m = re.search(r"^ALPN protocol: (\S+)", output, re.M)
        self.alpn = m.group(1) if m else None
        m = re.search(r"^Peer signature type: (\S+)", output, re.M)
        self.peer_sig_type = m.group(1) if m else None
        self.ok = returncode == 0 and bool(self.certs) and self.protocol is not None

    @property
    def leaf(self):
        """PEM of the leaf certificate, or None."""
        return self.certs[0] if self.certs else None

    def __repr__(self):
        return "<TlsResult ok=%s protocol=%s alpn=%s certs=%d>" % (
            self.ok, self.protocol, self.alpn, len(self.certs))


def presented_chain(host, port, server_name=None, alpn=None, sigalgs=None, ciphers=None,
                    ciphersuites=None, groups=None, tls_version=None, timeout=15, check=True):
    """Connect with ``openssl s_client -showcerts`` and return a :class:`TlsResult`.

    ``server_name``: the SNI to send (None: no SNI at all, ``-noservername``).
    ``alpn``: a protocol or a list ("acme-tls/1"). ``sigalgs``: e.g. "ECDSA+SHA256" or
    "RSA-PSS+SHA256:RSA+SHA256" (picks which certificate a dual-key server presents).
    ``ciphers`` (TLS 1.2 list), ``ciphersuites`` (TLS 1.3), ``groups``, ``tls_version``
    ("1.2"/"1.3"). With ``check`` a failed handshake raises HarnessError; otherwise inspect
    ``result.ok``.
    """
    argv = ["openssl", "s_client", "-connect", "%s:%d" % (host, port), "-showcerts"]
    argv += ["-servername", server_name] if server_name else ["-noservername"]
    if alpn:
        argv += ["-alpn", alpn if isinstance(alpn, str) else ",".join(alpn)]
    if sigalgs:
        argv += ["-sigalgs", sigalgs]
    if ciphers:
        argv += ["-cipher", ciphers]
    if ciphersuites:
        argv += ["-ciphersuites", ciphersuites]
    if groups:
        argv += ["-groups", groups]
    if tls_version:
        argv += ["-tls" + tls_version.replace(".", "_")]
    cp = run(argv, input=b"", timeout=timeout, check=False)
    result = TlsResult(cp.returncode, cp.stdout.decode(errors="replace") + "\n" +
                       cp.stderr.decode(errors="replace"))
    if check and not result.ok:
        raise HarnessError("TLS handshake with %s:%d (SNI %s) failed (exit %d):\n%s" % (
            host, port, server_name, cp.returncode, result.output[-3000:]))
    return result


class VerifyResult:
    """Result of :func:`verify_chain`: ``ok`` (bool), ``output``; :meth:`check` raises if not ok."""

    def __init__(self, ok, output):
        self.ok = ok
        self.output = output

    def __bool__(self):
        return self.ok

    def check(self):
        """Raise HarnessError with openssl's output unless the chain verified."""
        if not self.ok:
            raise HarnessError("chain does not verify: %s" % self.output)
        return self


def verify_chain(chain_pems, root_file, hostname=None, ip=None, purpose="sslserver",
                 attime=None):
    """``openssl verify`` of ``chain_pems[0]`` with the rest as untrusted intermediates.

    ``root_file``: the trusted root(s) (e.g. :meth:`Pebble.issued_root_file`). ``hostname`` /
    ``ip``: also check the leaf's names (``-verify_hostname`` / ``-verify_ip``). ``attime``:
    verify as of that epoch second. Returns :class:`VerifyResult` (falsy when it fails).
    """
    if isinstance(chain_pems, (str, bytes)):
        chain_pems = split_pem(chain_pems)
    if not chain_pems:
        return VerifyResult(False, "empty chain")
    with tempfile.TemporaryDirectory(prefix="acmetest-verify-") as d:
        leaf = os.path.join(d, "leaf.pem")
        with open(leaf, "w") as f:
            f.write(chain_pems[0])
        argv = ["openssl", "verify", "-CAfile", root_file, "-purpose", purpose]
        if len(chain_pems) > 1:
            inter = os.path.join(d, "inter.pem")
            with open(inter, "w") as f:
                f.write("".join(chain_pems[1:]))
            argv += ["-untrusted", inter]
        if hostname:
            argv += ["-verify_hostname", hostname]
        if ip:
            argv += ["-verify_ip", ip]
        if attime is not None:
            argv += ["-attime", str(int(attime))]
        cp = run(argv + [leaf], check=False)
    out = (cp.stdout + cp.stderr).decode(errors="replace").strip()
    return VerifyResult(cp.returncode == 0 and out.endswith(": OK"), out)


def _openssl_time(s):
    return calendar.timegm(time.strptime(" ".join(s.split()), "%b %d %H:%M:%S %Y GMT"))


def cert_info(pem):
    """Parse one certificate (PEM str/bytes) with ``openssl x509``; returns a dict.

    Keys: subject, issuer (RFC 2253 strings), serial (lowercase hex as openssl prints it),
    not_before, not_after (epoch seconds), not_before_text, not_after_text, dns_names,
    ip_addresses (lists from subjectAltName), aki (authority key id, hex, or None), key_type
    ("ec"/"rsa"/...), key_bits, curve ("prime256v1"... or None), fingerprint_sha256 (hex, no
    colons), pem.
    """
    if isinstance(pem, bytes):
        pem = pem.decode()
    blocks = split_pem(pem)
    if not blocks:
        raise HarnessError("cert_info: no PEM certificate in input")
    pem = blocks[0]
    out = run(["openssl", "x509", "-noout", "-nameopt", "RFC2253", "-subject", "-issuer",
               "-startdate", "-enddate", "-serial", "-fingerprint", "-sha256",
               "-ext", "subjectAltName,authorityKeyIdentifier"],
              input=pem.encode()).stdout.decode()
    info = {"pem": pem, "dns_names": [], "ip_addresses": [], "aki": None}
    san_next = aki_next = False
    for line in out.splitlines():
        if aki_next:
            info["aki"] = line.strip().replace("keyid:", "").replace(":", "").lower()
            aki_next = False
            continue
        if san_next:
            for item in line.split(","):
                item = item.strip()
                if item.startswith("DNS:"):
                    info["dns_names"].append(item[4:])
                elif item.startswith("IP Address:"):
                    info["ip_addresses"].append(item[11:])
            san_next = False
            continue
        if line.startswith("subject="):
            info["subject"] = line[8:].strip()
        elif line.startswith("issuer="):
            info["issuer"] = line[7:].strip()
        elif line.startswith("notBefore="):
            info["not_before_text"] = line[10:]
            info["not_before"] = _openssl_time(line[10:])
        elif line.startswith("notAfter="):
            info["not_after_text"] = line[9:]
            info["not_after"] = _openssl_time(line[9:])
        elif line.startswith("serial="):
            info["serial"] = line[7:].strip().lower()
        elif "Fingerprint=" in line:
            info["fingerprint_sha256"] = line.split("=", 1)[1].replace(":", "").lower()
        elif "Subject Alternative Name" in line:
            san_next = True
        elif "Authority Key Identifier" in line:
            aki_next = True
    text = run(["openssl", "x509", "-noout", "-text"], input=pem.encode()).stdout.decode()
    m = re.search(r"Public Key Algorithm: (\S+)", text)
    alg = m.group(1) if m else ""
    info["key_type"] = {"id-ecPublicKey": "ec", "rsaEncryption": "rsa"}.get(alg, alg)
    m = re.search(r"Public-Key: \((\d+) bit\)", text)
    info["key_bits"] = int(m.group(1)) if m else None
    m = re.search(r"ASN1 OID: (\S+)", text)
    info["curve"] = m.group(1) if m else None
    return info


def ari_cert_id(pem):
    """The RFC 9773 certID of a certificate: base64url(AKI keyIdentifier) "." base64url(serial).

    The serial is its DER INTEGER content (a leading zero byte when the high bit is set).
    """
    info = cert_info(pem)
    if not info["aki"]:
        raise HarnessError("certificate has no authority key identifier: %s" % info["subject"])
    serial = info["serial"]
    serial = bytes.fromhex(serial if len(serial) % 2 == 0 else "0" + serial)
    if serial[0] & 0x80:
        serial = b"\x00" + serial
    return "%s.%s" % (_b64url(bytes.fromhex(info["aki"])), _b64url(serial))


# --------------------------------------------------------------------------------------------
# DNS

_QTYPES = {"A": 1, "NS": 2, "CNAME": 5, "TXT": 16, "AAAA": 28, "CAA": 257}


def _skip_name(data, off):
    while True:
        n = data[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def dns_query(port, name, qtype="TXT", host=LOCALHOST, timeout=3.0):
    """Ask the DNS server at host:port (UDP) for ``name``; returns the answers of type ``qtype``.

    TXT answers are str (the record's strings joined), A/AAAA are address strings, others bytes.
    Raises HarnessError on timeout or a non-zero RCODE other than NXDOMAIN (which gives []).
    """
    qt = _QTYPES[qtype]
    qid = int.from_bytes(os.urandom(2), "big")
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        packet += bytes([len(label)]) + label.encode()
    packet += b"\x00" + struct.pack(">HH", qt, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (host, port))
        deadline = time.monotonic() + timeout
        while True:
            try:
                data, _ = s.recvfrom(65535)
            except socket.timeout:
                raise HarnessError("no DNS answer from %s:%d for %s %s" % (host, port, qtype, name))
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                break
            if time.monotonic() > deadline:
                raise HarnessError("no matching DNS answer from %s:%d" % (host, port))
    _, flags, qdcount, ancount, _, _ = struct.unpack(">HHHHHH", data[:12])
    rcode = flags & 0xF
    if rcode == 3:
        return []
    if rcode != 0:
        raise HarnessError("DNS query %s %s: rcode %d" % (qtype, name, rcode))
    off = 12
    for _ in range(qdcount):
        off = _skip_name(data, off) + 4
    answers = []
    for _ in range(ancount):
        off = _skip_name(data, off)
        rtype, _rclass, _ttl, rdlen = struct.unpack(">HHIH", data[off:off + 10])
        off += 10
        rdata = data[off:off + rdlen]
        off += rdlen
        if rtype != qt:
            continue
        if rtype == 16:
            parts, i = [], 0
            while i < len(rdata):
                n = rdata[i]
                parts.append(rdata[i + 1:i + 1 + n].decode(errors="replace"))
                i += 1 + n
            answers.append("".join(parts))
        elif rtype == 1:
            answers.append(socket.inet_ntop(socket.AF_INET, rdata))
        elif rtype == 28:
            answers.append(socket.inet_ntop(socket.AF_INET6, rdata))
        else:
            answers.append(rdata)
    return answers


# --------------------------------------------------------------------------------------------
# Pebble


class Pebble:
    """pebble (ACME test CA) + pebble-challtestsrv (its DNS), on 127.0.0.1, free ports.

    Facts about pebble 2.4.0 (Debian) that tests rely on:

    * Directory: ``<base>/dir``; pebble builds every URL from the request's Host header (and
      X-Forwarded-Proto), so a proxy that forwards Host is transparent.
    * Management API (HTTPS, harness CA): ``/roots/<i>``, ``/root-keys/<i>``,
      ``/intermediates/<i>``, ``/intermediate-keys/<i>``, ``/cert-status-by-serial/<hex>``.
      Roots and keys are regenerated at every start.
    * Default certificate validity is 5 years (157766400 s); config key
      ``certificateValidityPeriod`` (seconds) changes it.
    * No ARI (renewalInfo) and no profiles: use ca_front.py.

    All names resolve (through challtestsrv) to 127.0.0.1, and AAAA to nothing, so pebble's
    validation connects to 127.0.0.1:``http_port`` (http-01) / ``tls_port`` (tls-alpn-01).
    """

    def __init__(self, ws, http_port=None, tls_port=None, eab_keys=None, eab_required=None,
                 env=None, config=None, nosleep=True, strict=False, default_ipv4=LOCALHOST):
        """Configure (nothing starts before :meth:`start`).

        ``http_port`` / ``tls_port``: where pebble's VA connects for http-01 / tls-alpn-01 (choose
        them where your server listens; default: a free port nobody listens on).
        ``eab_keys``: {kid: base64url HMAC key} -> externalAccountMACKeys; ``eab_required``
        defaults to True when keys are given. ``env``: extra environment, e.g.
        {"PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0", "PEBBLE_VA_SLEEPTIME": "3",
        "PEBBLE_ALTERNATE_ROOTS": "1", "PEBBLE_CHAIN_LENGTH": "2"}. ``nosleep``: sets
        PEBBLE_VA_NOSLEEP=1. Pebble's own defaults otherwise apply: 5% of good nonces are
        rejected (badNonce) and valid authorizations are reused 50% of the time. ``config``: any
        other key of pebble's JSON config section (e.g. {"certificateValidityPeriod": 3600}).
        ``strict``: pebble -strict.
        """
        self.ws = ws
        self.http_port = http_port or free_port()
        self.tls_port = tls_port or free_port()
        self.eab_keys = dict(eab_keys or {})
        self.eab_required = bool(self.eab_keys) if eab_required is None else eab_required
        self.env = {"PEBBLE_VA_NOSLEEP": "1"} if nosleep else {}
        self.env.update({k: str(v) for k, v in (env or {}).items()})
        self.extra_config = dict(config or {})
        self.strict = strict
        self.default_ipv4 = default_ipv4
        self.listen_port = self.management_port = None
        self.dns_port = self.challtestsrv_port = None
        self.pebble_proc = self.challtestsrv_proc = None
        self._started_once = False
        self._root_files = {}
        self._chain_roots = []
        self._chain_roots_file = None

    # -- addresses
    @property
    def base_url(self):
        """https://127.0.0.1:<port> (no trailing slash)."""
        return "https://%s:%d" % (LOCALHOST, self.listen_port)

    @property
    def directory_url(self):
        """The ACME directory URL, https://127.0.0.1:<port>/dir."""
        return self.base_url + "/dir"

    @property
    def management_url(self):
        """pebble's management interface, https://127.0.0.1:<port>."""
        return "https://%s:%d" % (LOCALHOST, self.management_port)

    @property
    def challtestsrv_url(self):
        """challtestsrv's management API, http://127.0.0.1:<port> (ACME_TEST_CHALLTESTSRV)."""
        return "http://%s:%d" % (LOCALHOST, self.challtestsrv_port)

    @property
    def dns_server(self):
        """"127.0.0.1:<port>" of challtestsrv's DNS server."""
        return "%s:%d" % (LOCALHOST, self.dns_port)

    @property
    def ca_root(self):
        """CA file that verifies pebble's HTTPS (the harness CA): acme_ca_root / --ca-root."""
        return self.ws.ca.ca_file

    @property
    def chain_roots(self):
        """File of every root pebble issued under, alternates and earlier starts included (pebble
        makes new roots at each start; the file keeps the old ones): the trust anchors of
        acme_chain_roots / ACMEChainRoots / --chain-roots. Valid once pebble was started."""
        if self._chain_roots_file is None:
            raise HarnessError("pebble.chain_roots: pebble was never started")
        return self._chain_roots_file

    def _record_chain_roots(self):
        i = 0
        while True:
            r = http_get(self.management_url + "/roots/%d" % i, ca=self.ca_root)
            if r.status != 200:
                break
            pem = r.body.decode()
            if pem not in self._chain_roots:
                self._chain_roots.append(pem)
            i += 1
        if self._chain_roots_file is None:
            self._chain_roots_file = self.ws.write("pebble-chain-roots-%d.pem" % self.listen_port,
                                                   "")
        with open(self._chain_roots_file + ".tmp", "w") as f:
            f.write("".join(self._chain_roots))
        os.chmod(self._chain_roots_file + ".tmp", 0o644)
        os.replace(self._chain_roots_file + ".tmp", self._chain_roots_file)

    # -- lifecycle
    def start(self, timeout=20.0):
        """Start challtestsrv and pebble and wait until the directory answers.

        The first start picks free ports (retrying on a port race); a later start (after
        :meth:`stop`) reuses them so URLs stay the same. Roots change at every start.
        """
        attempts = 1 if self._started_once else 3
        for attempt in range(attempts):
            if not self._started_once:
                self.listen_port, self.management_port = free_port(), free_port()
                self.dns_port, self.challtestsrv_port = free_port(), free_port()
            try:
                self._start_once(timeout)
                self._started_once = True
                return self
            except HarnessError as e:
                self.stop()
                in_use = "address already in use" in str(e)
                if not in_use or attempt == attempts - 1:
                    raise
        return self

    def _start_once(self, timeout):
        self._root_files = {}
        self.challtestsrv_proc = self.ws.start("challtestsrv", [
            "pebble-challtestsrv", "-dns01", self.dns_server,
            "-management", "%s:%d" % (LOCALHOST, self.challtestsrv_port),
            "-http01", "", "-https01", "", "-tlsalpn01", "",
            "-defaultIPv4", self.default_ipv4, "-defaultIPv6", ""])
        wait_for_port(self.challtestsrv_port, timeout=timeout, proc=self.challtestsrv_proc)
        wait_for_port(self.dns_port, timeout=timeout, proc=self.challtestsrv_proc)
        cert, key = self.ws.ca.issue("pebble")
        cfg = {
            "listenAddress": "%s:%d" % (LOCALHOST, self.listen_port),
            "managementListenAddress": "%s:%d" % (LOCALHOST, self.management_port),
            "certificate": cert,
            "privateKey": key,
            "httpPort": self.http_port,
            "tlsPort": self.tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": self.eab_required,
        }
        if self.eab_keys:
            cfg["externalAccountMACKeys"] = self.eab_keys
        cfg.update(self.extra_config)
        config_file = self.ws.write("pebble-config.json", json.dumps({"pebble": cfg}, indent=2))
        argv = ["pebble", "-config", config_file, "-dnsserver", self.dns_server]
        if self.strict:
            argv.append("-strict")
        self.pebble_proc = self.ws.start("pebble", argv, env=self.env)
        wait_for_port(self.listen_port, timeout=timeout, proc=self.pebble_proc)
        wait_for_port(self.management_port, timeout=timeout, proc=self.pebble_proc)
        wait_for_http(self.directory_url, ca=self.ca_root, status=200, timeout=timeout,
                      proc=self.pebble_proc)
        self._record_chain_roots()

    def stop(self):
        """Stop pebble and challtestsrv (idempotent)."""
        for p in (self.pebble_proc, self.challtestsrv_proc):
            if p is not None:
                p.stop()

    def alive(self):
        """True while both processes run."""
        return all(p is not None and p.alive() for p in (self.pebble_proc,
                                                         self.challtestsrv_proc))

    # -- pebble management interface
    def _mgmt_get(self, path):
        r = http_get(self.management_url + path, ca=self.ca_root)
        if r.status != 200:
            raise HarnessError("pebble management GET %s: status %d: %s" % (
                path, r.status, r.body[:300]))
        return r

    def roots_pem(self, i=0):
        """PEM of root ``i`` (0 = default chain; 1.. with PEBBLE_ALTERNATE_ROOTS)."""
        return self._mgmt_get("/roots/%d" % i).body.decode()

    def intermediates_pem(self, i=0):
        """PEM of the intermediate under root ``i``."""
        return self._mgmt_get("/intermediates/%d" % i).body.decode()

    def root_key_pem(self, i=0):
        """PEM private key of root ``i`` (test CA: pebble publishes it)."""
        return self._mgmt_get("/root-keys/%d" % i).body.decode()

    def intermediate_key_pem(self, i=0):
        """PEM private key of intermediate ``i``."""
        return self._mgmt_get("/intermediate-keys/%d" % i).body.decode()

    def issued_root_file(self, i=0):
        """A file holding root ``i``: the trust anchor to verify chains pebble issued."""
        if i not in self._root_files:
            self._root_files[i] = self.ws.write("pebble-root-%d-%d.pem" % (
                self.pebble_proc.pid, i), self.roots_pem(i))
        return self._root_files[i]

    def cert_status(self, serial):
        """pebble's view of a certificate by serial (hex): dict with Status ("Valid"/"Revoked"),
        Serial, Certificate, and for revoked ones Reason and RevokedAt."""
        serial = serial.lower().lstrip("0") or "0"
        return json.loads(self._mgmt_get("/cert-status-by-serial/%s" % serial).body)

    # -- challtestsrv (DNS) management API
    def _cts(self, path, payload):
        r = http_request("POST", self.challtestsrv_url + path, body=payload)
        if r.status != 200:
            raise HarnessError("challtestsrv %s %r: status %d: %s" % (path, payload, r.status,
                                                                       r.body[:300]))
        return r

    @staticmethod
    def _fqdn(host):
        return host if host.endswith(".") else host + "."

    def set_txt(self, host, value):
        """Set the TXT record of ``host`` (e.g. "_acme-challenge.example.org") to ``value``."""
        self._cts("/set-txt", {"host": self._fqdn(host), "value": value})

    def clear_txt(self, host):
        """Remove the TXT records of ``host``."""
        self._cts("/clear-txt", {"host": self._fqdn(host)})

    def txt(self, host):
        """The TXT values of ``host`` as challtestsrv answers them over DNS."""
        return dns_query(self.dns_port, self._fqdn(host), "TXT")

    def add_a(self, host, addresses):
        """Answer A queries for ``host`` with ``addresses`` (list) instead of the default."""
        self._cts("/add-a", {"host": self._fqdn(host), "addresses": list(addresses)})

    def clear_a(self, host):
        """Back to the default A answer for ``host``."""
        self._cts("/clear-a", {"host": self._fqdn(host)})

    def add_caa(self, host, policies):
        """CAA records for ``host``: list of {"tag": "issue", "value": "..."}."""
        self._cts("/add-caa", {"host": self._fqdn(host), "policies": list(policies)})

    def set_servfail(self, host):
        """Answer SERVFAIL for every query of ``host``."""
        self._cts("/set-servfail", {"host": self._fqdn(host)})

    def dns_history(self, host):
        """DNS queries challtestsrv received for ``host`` (list of dicts)."""
        # History is keyed by the name without the trailing dot.
        r = self._cts("/dns-request-history", {"host": host.rstrip(".")})
        return json.loads(r.body or b"[]")
