"""nginx side of the integration tests (test_2NN_*.py): the packaged /usr/sbin/nginx with the
module from the build tree, in a workspace of :mod:`harness`.

Typical use::

    class TestX(nginx_harness.NginxTestCase):
        def test_x(self):
            pebble = self.ws.start_pebble(http_port=self.http_port)
            ngx = self.nginx(pebble)
            ngx.write_config('''
                server {
                    listen 127.0.0.1:%(http)d;
                    listen 127.0.0.1:%(https)d ssl;
                    server_name a.example.org;
                    acme on;
                }''')
            ngx.start()

What it takes care of: the workspace is made traversable for the unprivileged worker user
(``nobody``/``nogroup``: the tests run as root, and ACME never does), every path nginx writes
(pid, error log, temp directories, the ACME store) is inside the nginx directory of the workspace,
the master runs in the foreground (``daemon off``) as a managed :class:`harness.Proc`, and its
error log is shown when a test fails.
"""

import os
import pwd
import re
import socket
import ssl
import textwrap
import unittest

import harness

NGINX = "/usr/sbin/nginx"
WORKER_USER = "nobody"
WORKER_GROUP = "nogroup"


def pwd_uid(user):
    """The uid of ``user``."""
    return pwd.getpwnam(user).pw_uid


def module_path():
    """The module built by the top-level CMake: <build>/modules/ngx_http_acme_module.so."""
    return os.path.join(harness.build_dir(), "modules", "ngx_http_acme_module.so")


def require_module(test):
    """Skip ``test`` (a TestCase class) when the module or nginx is missing (a build with
    -DACME_BUILD_NGINX=OFF)."""
    reason = None
    if not os.path.exists(NGINX):
        reason = "%s not installed" % NGINX
    elif not os.path.exists(module_path()):
        reason = "nginx module not built (%s)" % module_path()
    return unittest.skipIf(reason is not None, reason or "")(test)


def _make_traversable(path):
    """chmod o+x every directory from ``path`` up to the first one that already allows it."""
    path = os.path.abspath(path)
    while path not in ("/", ""):
        mode = os.stat(path).st_mode & 0o7777
        if mode & 0o001:
            break
        os.chmod(path, mode | 0o711)
        path = os.path.dirname(path)


class Nginx:
    """One nginx instance: its directory, config, master process.

    ``pebble`` (optional) gives the http-level defaults ``acme_ca`` / ``acme_ca_root`` /
    ``acme_chain_roots`` / ``acme_agree_tos`` (``ca_url`` overrides the directory URL, e.g. for a CA front).
    """

    def __init__(self, ws, name="nginx", pebble=None, ca_url=None, workers=1, store=None,
                 error_level="info", env_vars=(), single_process=False):
        self.ws = ws
        self.name = name
        self.pebble = pebble
        self.ca_url = ca_url or (pebble.directory_url if pebble else None)
        self.workers = workers
        self.dir = ws.mkdir(name)
        _make_traversable(self.dir)
        os.chmod(self.dir, 0o755)
        os.makedirs(os.path.join(self.dir, "tmp"), exist_ok=True)
        self.conf_path = os.path.join(self.dir, "nginx.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.pid_file = os.path.join(self.dir, "nginx.pid")
        self.store = store or os.path.join(self.dir, "store")
        self.error_level = error_level
        self.env_vars = list(env_vars)
        self.single_process = single_process
        self.proc = None
        ws.watch_log(self.error_log, "%s error.log" % name)

    # -- configuration
    def config_text(self, http_body, main_extra="", acme_defaults=True):
        """The whole nginx.conf around ``http_body`` (the servers)."""
        lines = [
            "load_module %s;" % module_path(),
            "user %s %s;" % (WORKER_USER, WORKER_GROUP),
            "worker_processes %d;" % self.workers,
            "pid %s;" % self.pid_file,
            "error_log %s %s;" % (self.error_log, self.error_level),
            "worker_shutdown_timeout 10s;",
        ]
        lines += ["env %s;" % v for v in self.env_vars]
        if self.single_process:
            lines.append("master_process off;")
        lines.append(textwrap.dedent(main_extra))
        lines.append("events { worker_connections 512; }")
        lines.append("http {")
        lines.append("    access_log off;")
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            lines.append("    %s_temp_path %s;" % (kind, os.path.join(self.dir, "tmp", kind)))
        if acme_defaults:
            lines.append("    acme_store %s;" % self.store)
            if self.ca_url:
                lines.append("    acme_ca %s;" % self.ca_url)
            if self.pebble:
                lines.append("    acme_ca_root %s;" % self.pebble.ca_root)
                lines.append("    acme_chain_roots %s;" % self.pebble.chain_roots)
            lines.append("    acme_agree_tos on;")
        lines.append(textwrap.indent(textwrap.dedent(http_body).strip("\n"), "    "))
        lines.append("}")
        return "\n".join(lines) + "\n"

    def write_config(self, http_body, main_extra="", acme_defaults=True):
        """Write nginx.conf; returns its path."""
        text = self.config_text(http_body, main_extra, acme_defaults)
        with open(self.conf_path, "w") as f:
            f.write(text)
        os.chmod(self.conf_path, 0o644)
        return self.conf_path

    def write_raw_config(self, text):
        """Write ``text`` as nginx.conf unchanged; returns its path."""
        with open(self.conf_path, "w") as f:
            f.write(text)
        return self.conf_path

    def argv(self, *extra):
        return [NGINX, "-p", self.dir + "/", "-c", self.conf_path, "-e", self.error_log] + \
            list(extra)

    # -- running
    def test_config(self):
        """``nginx -t``: returns (exit status, output text)."""
        cp = harness.run(self.argv("-t"), check=False, timeout=60)
        return cp.returncode, (cp.stdout + cp.stderr).decode(errors="replace")

    def start(self, wait_ports=(), env=None, user=None):
        """Start the master in the foreground; wait until ``wait_ports`` accept connections and
        every worker runs (``single_process``: the one process). ``user`` (e.g. WORKER_USER):
        run nginx itself as that user and group (``setpriv``); its directory becomes theirs."""
        argv = self.argv("-g", "daemon off;")
        if user is not None:
            uid = pwd_uid(user)
            gid = pwd.getpwnam(user).pw_gid
            for root, dirs, files in os.walk(self.dir):
                for name in dirs + files:
                    os.lchown(os.path.join(root, name), uid, gid)
            os.chown(self.dir, uid, gid)
            argv = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % gid, "--clear-groups",
                    "--"] + argv
        self.proc = self.ws.start(self.name, argv, env=env)
        for port in wait_ports:
            harness.wait_for_port(port, proc=self.proc, timeout=20)
        if not self.single_process:
            harness.wait_until(lambda: self._check_alive() and
                               len(self.worker_pids()) >= self.workers,
                               timeout=20, what="%s workers" % self.name)
        return self

    def _check_alive(self):
        if self.proc is not None and not self.proc.alive():
            raise harness.HarnessError("%s exited (status %s):\n%s\n%s" % (
                self.name, self.proc.returncode, self.proc.log_tail(), self.error_log_text()))
        return True

    def stop(self):
        if self.proc is not None:
            self.proc.stop(timeout=15)

    def signal_reload(self):
        """``nginx -s reload`` (a separate process that reads the pid file)."""
        cp = harness.run(self.argv("-s", "reload"), check=False, timeout=60)
        if cp.returncode != 0:
            raise harness.HarnessError("nginx -s reload failed: %s" % (
                (cp.stdout + cp.stderr).decode(errors="replace")))

    def worker_pids(self):
        """PIDs of the master's children that are worker processes."""
        if self.proc is None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
                with open("/proc/%s/cmdline" % entry, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.proc.pid and b"worker process" in cmdline and \
                    b"shutting down" not in cmdline:
                pids.append(int(entry))
        return sorted(pids)

    def error_log_text(self):
        try:
            with open(self.error_log, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def wait_for_log(self, pattern, timeout=20, start=0):
        """Wait until the error log (from byte ``start``) matches ``pattern``; returns the match."""
        rx = re.compile(pattern)

        def check():
            self._check_alive()
            return rx.search(self.error_log_text()[start:])
        return harness.wait_until(check, timeout, interval=0.05,
                                  what="%s error.log to match %r" % (self.name, pattern))

    def log_size(self):
        try:
            return os.path.getsize(self.error_log)
        except OSError:
            return 0


def tls_leaf(port, server_name, alpn=None, timeout=10):
    """One full TLS handshake with Python's ssl (no verification); returns the leaf certificate
    as DER and the negotiated ALPN protocol."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if alpn:
        ctx.set_alpn_protocols(alpn)
    with socket.create_connection((harness.LOCALHOST, port), timeout=timeout) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_name) as tls:
            return tls.getpeercert(binary_form=True), tls.selected_alpn_protocol()


def der_to_pem(der):
    return ssl.DER_cert_to_PEM_cert(der)


def wait_for_issuer(port, server_name, root_file, timeout=30, **kwargs):
    """Wait until the certificate presented for ``server_name`` verifies against ``root_file``
    (e.g. pebble's root); returns the :class:`harness.TlsResult`."""
    last = [None]

    def check():
        tls = harness.presented_chain(harness.LOCALHOST, port, server_name=server_name,
                                      check=False, **kwargs)
        last[0] = tls
        if tls.ok and harness.verify_chain(tls.certs, root_file, hostname=server_name
                                           if not server_name.startswith("*") else None):
            return tls
        return None
    try:
        return harness.wait_until(check, timeout, interval=0.1,
                                  what="a certificate for %s verifying against %s" % (
                                      server_name, root_file))
    except harness.HarnessError as e:
        leaf = last[0].leaf if last[0] and last[0].leaf else None
        raise harness.HarnessError("%s; last presented: %s" % (
            e, harness.cert_info(leaf)["issuer"] if leaf else "nothing"))


class NginxTestCase(harness.HarnessTestCase):
    """HarnessTestCase with free ports for nginx (``self.http_port``, ``self.https_port``) and
    :meth:`nginx` to make an :class:`Nginx` in the workspace."""

    def setUp(self):
        super().setUp()
        _make_traversable(self.ws.path)
        self.http_port = harness.free_port()
        self.https_port = harness.free_port()

    def nginx(self, pebble=None, **kwargs):
        ngx = Nginx(self.ws, pebble=pebble, **kwargs)
        self.addCleanup(ngx.stop)
        return ngx

    def ports(self, **extra):
        """Format dict for configs: http, https, plus ``extra``."""
        d = {"http": self.http_port, "https": self.https_port}
        d.update(extra)
        return d
