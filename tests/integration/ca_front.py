"""Test-only "CA front": an HTTPS reverse proxy before pebble that adds ARI and profiles and
injects faults. Python standard library only.

pebble builds every URL it returns (directory, Location, Link, order/authz/finalize URLs) from the
request's Host header, so the front forwards Host unchanged and pebble's answers point at the
front; JWS "url" checks then hold, because the client signs the front's URLs and pebble sees the
same Host. Signed request bodies are forwarded byte for byte (the front only reads them).

Added on top of pebble 2.4 (which has neither):

* ARI (RFC 9773): the directory gets ``"renewalInfo": "<front>/renewal-info/"``;
  ``GET /renewal-info/<certID>`` answers ``{"suggestedWindow": {"start", "end"},
  "explanationURL"?}`` with Retry-After. The window comes from :meth:`CAFront.set_renewal_window`
  (per certID or default); without one, and with ``management_url`` given, the front looks the
  serial up in pebble and answers [1/2, 2/3] of the certificate's lifetime; otherwise a window 30
  to 31 days from now. certIDs asked for are in ``renewal_info_requests``; the "replaces" field of
  each newOrder payload is in ``replaces_seen``.
* Profiles: the directory's meta gets ``"profiles": {...}``; each newOrder's "profile" is recorded
  in ``profiles_seen``; an unknown profile is answered by the front with a 400
  ``urn:ietf:params:acme:error:invalidProfile`` problem (pebble itself ignores the field).

Faults (each fires for the next ``count`` matching requests, then clears itself): ``fail_next``
(503 + problem + optional Retry-After), ``rate_limit_next`` (429 rateLimited + Retry-After),
``close_next`` (connection closed without an answer), ``delay_next`` (sleep, then forward),
``corrupt_next_certificate`` (certificate download altered so it no longer verifies or parses).
``path`` selects requests: a directory resource name ("newOrder", "newAccount", "newNonce",
"revokeCert", "keyChange", "renewalInfo"), a pebble resource kind ("directory", "order", "authz",
"challenge", "finalize", "certificate"), or any substring of the request path. Problem documents
the front makes itself carry a fresh Replay-Nonce from pebble, as a CA's would.

Every request is recorded (``requests``; :meth:`CAFront.count`). Everything is controllable
in-process, or over HTTPS on the front's own listener under ``/__front__/`` (see
``_Handler._control``), which is what a standalone front (``python3 ca_front.py -h``) offers.
"""

import argparse
import base64
import collections
import http.client
import http.server
import json
import signal
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import harness

__all__ = ["CAFront", "Fault", "Record", "DEFAULT_PROFILES", "rfc3339"]

DEFAULT_PROFILES = {
    "classic": "The same profile you are accustomed to",
    "shortlived": "A short-lived certificate profile",
}

# pebble 2.4's resource paths, by kind.
PEBBLE_PATHS = {
    "directory": "/dir",
    "order": "/my-order/",
    "authz": "/authZ/",
    "challenge": "/chalZ/",
    "finalize": "/finalize-order/",
    "certificate": "/certZ/",
    "account": "/my-account/",
}

_HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
               "trailer", "transfer-encoding", "upgrade", "content-length", "date", "server"}

Record = collections.namedtuple("Record", "time method path status action")
Record.__doc__ = """One request the front saw: epoch time, method, path, status answered (0 when
the connection was closed without an answer), action ("forward", "fault:<kind>", "ari",
"invalidProfile", "control", "upstream-error")."""


def rfc3339(t):
    """Epoch seconds (int/float) -> "YYYY-MM-DDTHH:MM:SSZ"; strings pass through."""
    if isinstance(t, str):
        return t
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def _b64url_decode(s):
    if isinstance(s, str):
        s = s.encode()
    return base64.urlsafe_b64decode(s + b"=" * (-len(s) % 4))


class Fault:
    """One injected fault. ``kind``: "status" (answer ``status`` with a problem document),
    "close" (close without answering), "delay" (sleep ``delay`` s then forward), "corrupt"
    (forward, then alter a certificate body; ``mode`` "signature" | "truncate" | "garbage").
    Matches requests whose path contains the resolved ``path`` (None = all) and, if given,
    ``method``; fires ``count`` times."""

    def __init__(self, kind, path=None, method=None, count=1, status=503,
                 problem_type="urn:ietf:params:acme:error:serverInternal",
                 detail="injected fault", retry_after=None, delay=0.0, mode="signature"):
        if kind not in ("status", "close", "delay", "corrupt"):
            raise ValueError("unknown fault kind %r" % kind)
        self.kind, self.path, self.method, self.remaining = kind, path, method, int(count)
        self.status, self.problem_type, self.detail = int(status), problem_type, detail
        self.retry_after, self.delay, self.mode = retry_after, float(delay), mode
        self.fired = 0

    def __repr__(self):
        return "<Fault %s path=%s method=%s remaining=%d fired=%d>" % (
            self.kind, self.path, self.method, self.remaining, self.fired)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, front, address):
        self.front = front
        self.connections = set()
        self.conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address):
        # TLS handshake here, in the connection's own thread (not in the accept loop).
        request.settimeout(30)
        try:
            tls = self.front.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError) as e:
            self.front.log("TLS handshake from %s failed: %s" % (client_address, e))
            return
        with self.conn_lock:
            self.connections.add(tls)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            with self.conn_lock:
                self.connections.discard(tls)
            try:
                tls.close()
            except OSError:
                pass

    def close_connections(self):
        with self.conn_lock:
            conns = list(self.connections)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "acme-test-ca-front"
    timeout = 30

    def log_message(self, fmt, *args):
        self.server.front.log("%s %s" % (self.client_address[0], fmt % args))

    def do_GET(self):  # noqa: N802 - http.server API
        self._handle()

    def do_HEAD(self):  # noqa: N802
        self._handle()

    def do_POST(self):  # noqa: N802
        self._handle()

    def do_PUT(self):  # noqa: N802
        self._handle()

    def do_DELETE(self):  # noqa: N802
        self._handle()

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _send(self, status, body=b"", headers=None, content_type=None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def _problem(self, status, ptype, detail, retry_after=None, nonce=True):
        front = self.server.front
        body = json.dumps({"type": ptype, "detail": detail, "status": status},
                          indent=2).encode()
        headers = [("Link", '<%s>;rel="index"' % front.directory_url)]
        if retry_after is not None:
            headers.append(("Retry-After", str(retry_after)))
        if nonce and self.command == "POST":
            n = front.fresh_nonce()
            if n:
                headers.append(("Replay-Nonce", n))
        self._send(status, body, headers, "application/problem+json")

    def _handle(self):
        front = self.server.front
        path = urllib.parse.urlsplit(self.path).path
        body = self._read_body()
        if path.startswith("/__front__/"):
            front.record(self.command, path, 200, "control")
            return self._control(path, body)
        fault = front.take_fault(self.command, path)
        if fault is not None and fault.kind == "close":
            front.record(self.command, path, 0, "fault:close")
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if fault is not None and fault.kind == "status":
            front.record(self.command, path, fault.status, "fault:status")
            return self._problem(fault.status, fault.problem_type, fault.detail,
                                 fault.retry_after)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.delay)
        if path.startswith("/renewal-info/") and self.command in ("GET", "HEAD") and front.ari:
            return self._renewal_info(path[len("/renewal-info/"):])
        if self.command == "POST" and path == front.new_order_path:
            rejected = self._inspect_new_order(body)
            if rejected:
                return
        self._forward(path, body, fault)

    def _inspect_new_order(self, body):
        front = self.server.front
        try:
            jws = json.loads(body)
            payload = json.loads(_b64url_decode(jws.get("payload", "")) or b"{}")
        except (ValueError, TypeError, AttributeError):
            front.log("newOrder body is not a JWS with a JSON payload; forwarding as is")
            return False
        front.note_new_order(payload)
        profile = payload.get("profile") if isinstance(payload, dict) else None
        if profile is not None and front.profiles is not None and profile not in front.profiles:
            front.record(self.command, self.path, 400, "invalidProfile")
            self._problem(400, "urn:ietf:params:acme:error:invalidProfile",
                          "profile %r is not one of %s" % (profile, sorted(front.profiles)))
            return True
        return False

    def _renewal_info(self, cert_id):
        front = self.server.front
        front.note_renewal_info(cert_id)
        parts = cert_id.split(".")
        try:
            if len(parts) != 2 or not all(parts):
                raise ValueError(cert_id)
            serial = _b64url_decode(parts[1]).hex()
            _b64url_decode(parts[0])
        except ValueError:
            front.record(self.command, self.path, 400, "ari")
            return self._problem(400, "urn:ietf:params:acme:error:malformed",
                                 "malformed certID %r" % cert_id, nonce=False)
        window = front.window_for(cert_id, serial)
        if window is None:
            front.record(self.command, self.path, 404, "ari")
            return self._problem(404, "urn:ietf:params:acme:error:malformed",
                                 "no certificate with serial %s" % serial, nonce=False)
        doc = {"suggestedWindow": {"start": rfc3339(window["start"]),
                                   "end": rfc3339(window["end"])}}
        if window.get("explanation_url"):
            doc["explanationURL"] = window["explanation_url"]
        front.record(self.command, self.path, 200, "ari")
        self._send(200, json.dumps(doc, indent=2).encode(),
                   [("Retry-After", str(window["retry_after"]))], "application/json")

    def _forward(self, path, body, fault):
        front = self.server.front
        headers = [(k, v) for k, v in self.headers.items()
                   if k.lower() not in _HOP_BY_HOP and k.lower() != "x-forwarded-proto"]
        try:
            status, resp_headers, resp_body = front.upstream(self.command, self.path, body,
                                                             headers)
        except (OSError, http.client.HTTPException) as e:
            front.log("upstream %s %s failed: %s" % (self.command, self.path, e))
            front.record(self.command, path, 502, "upstream-error")
            return self._send(502, ("CA front: upstream error: %s\n" % e).encode(),
                              content_type="text/plain")
        ctype = ""
        out_headers = []
        for k, v in resp_headers:
            if k.lower() in _HOP_BY_HOP:
                continue
            if k.lower() == "content-type":
                ctype = v
            out_headers.append((k, v))
        if self.command == "GET" and path == PEBBLE_PATHS["directory"] and status == 200:
            resp_body = front.rewrite_directory(resp_body)
        action = "forward"
        if fault is not None and fault.kind == "corrupt":
            resp_body = front.corrupt(resp_body, fault.mode)
            action = "fault:corrupt"
        elif fault is not None:
            action = "fault:%s" % fault.kind
        front.record(self.command, path, status, action)
        self.send_response(status)
        for k, v in out_headers:
            self.send_header(k, v)
        if self.command == "HEAD":
            self.send_header("Content-Length", str(len(resp_body)))
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(resp_body)))
        self.end_headers()
        self.wfile.write(resp_body)

    def _control(self, path, body):
        """Control API (JSON):
        POST /__front__/fault          {"kind", "path"?, "method"?, "count"?, "status"?,
                                        "problem_type"?, "detail"?, "retry_after"?, "delay"?,
                                        "mode"?}
        POST /__front__/renewal-window {"start", "end", "cert_id"?, "explanation_url"?,
                                        "retry_after"?}  (start/end: epoch or RFC 3339)
        POST /__front__/profiles       {"profiles": {...} | null}
        POST /__front__/reset          clear faults, windows and records
        GET  /__front__/state          records as JSON
        """
        front = self.server.front
        try:
            args = json.loads(body) if body else {}
            if path == "/__front__/fault" and self.command == "POST":
                front.add_fault(Fault(**args))
            elif path == "/__front__/renewal-window" and self.command == "POST":
                front.set_renewal_window(**args)
            elif path == "/__front__/profiles" and self.command == "POST":
                front.profiles = args.get("profiles")
            elif path == "/__front__/reset" and self.command == "POST":
                front.reset()
            elif path == "/__front__/state" and self.command == "GET":
                return self._send(200, json.dumps(front.state(), indent=2).encode(),
                                  content_type="application/json")
            else:
                return self._send(404, b"unknown control path\n", content_type="text/plain")
        except (TypeError, ValueError) as e:
            return self._send(400, ("bad control request: %s\n" % e).encode(),
                              content_type="text/plain")
        self._send(200, b"{}", content_type="application/json")


class CAFront:
    """The front. Construct, :meth:`start`, use ``directory_url`` instead of pebble's, :meth:`stop`.

    ``upstream_base``: pebble's base URL (https://127.0.0.1:<port>); ``upstream_ca``: CA file
    for pebble's HTTPS; ``cert``: (cert_file, key_file) for the front's own listener (from the
    harness CA, so clients trust it with the same ``ca_root``); ``port``: default a free one;
    ``ari``: offer renewalInfo; ``profiles``: dict name -> description, or None for no profiles
    (then "profile" is forwarded without a check); ``ari_retry_after``: default Retry-After of
    renewal-info answers (seconds); ``management_url``: pebble's management interface, used to
    derive a default window from the certificate's lifetime; ``log_path``: log file (else stderr
    is not used and lines are kept only in memory, see ``log_lines``).

    Thread-safe: the test thread may change settings while the server threads answer.
    """

    def __init__(self, upstream_base, upstream_ca, cert, port=None, ari=True,
                 profiles=DEFAULT_PROFILES, ari_retry_after=21600, management_url=None,
                 log_path=None, upstream_timeout=30.0):
        self.upstream_base = upstream_base.rstrip("/")
        self.upstream_ca = upstream_ca
        self.cert_file, self.key_file = cert
        self.port = port or harness.free_port()
        self.ari = ari
        self.profiles = None if profiles is None else dict(profiles)
        self.ari_retry_after = ari_retry_after
        self.management_url = management_url
        self.log_path = log_path
        self.upstream_timeout = upstream_timeout
        self.ssl_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ssl_context.load_cert_chain(self.cert_file, self.key_file)
        self._upstream_ctx = ssl.create_default_context(cafile=upstream_ca)
        self._lock = threading.Lock()
        self._faults = []
        self._windows = {}
        self._default_window = None
        self.requests = []
        self.new_orders = []
        self.renewal_info_requests = []
        self.log_lines = []
        self._dir_paths = {}
        self.new_order_path = None
        self._server = None
        self._thread = None
        self._log_file = open(log_path, "a") if log_path else None

    # -- addresses
    @property
    def base_url(self):
        """https://127.0.0.1:<front port>"""
        return "https://%s:%d" % (harness.LOCALHOST, self.port)

    @property
    def directory_url(self):
        """The directory URL clients use: https://127.0.0.1:<front port>/dir"""
        return self.base_url + PEBBLE_PATHS["directory"]

    @property
    def renewal_info_url(self):
        """The renewalInfo base URL the directory announces (ends with '/')."""
        return self.base_url + "/renewal-info/"

    # -- lifecycle
    def start(self):
        """Learn pebble's paths from its directory, then listen; returns self."""
        status, _, body = self.upstream("GET", PEBBLE_PATHS["directory"], b"", [])
        if status != 200:
            raise harness.HarnessError("CA front: upstream directory answered %d" % status)
        for name, url in json.loads(body).items():
            if isinstance(url, str) and url.startswith("http"):
                self._dir_paths[name] = urllib.parse.urlsplit(url).path
        self._dir_paths["renewalInfo"] = "/renewal-info/"
        self.new_order_path = self._dir_paths.get("newOrder")
        self._server = _Server(self, (harness.LOCALHOST, self.port))
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name="ca-front")
        self._thread.start()
        self.log("listening on %s, upstream %s" % (self.base_url, self.upstream_base))
        return self

    def stop(self):
        """Stop listening and drop open connections (idempotent)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.close_connections()
            self._server.server_close()
            self._thread.join(5)
            self._server = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- upstream
    def upstream(self, method, path, body, headers):
        """Send one request to pebble; returns (status, [(header, value)], body)."""
        u = urllib.parse.urlsplit(self.upstream_base)
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=self._upstream_ctx,
                                           timeout=self.upstream_timeout)
        try:
            conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            names = {k.lower() for k, _ in headers}
            if "host" not in names:
                conn.putheader("Host", u.netloc)
            for k, v in headers:
                conn.putheader(k, v)
            if body or method in ("POST", "PUT"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def fresh_nonce(self):
        """A nonce from pebble (for the front's own problem answers), or None."""
        path = self._dir_paths.get("newNonce")
        if not path:
            return None
        try:
            _, headers, _ = self.upstream("HEAD", path, b"", [])
        except (OSError, http.client.HTTPException):
            return None
        return dict((k.lower(), v) for k, v in headers).get("replay-nonce")

    def rewrite_directory(self, body):
        """Add renewalInfo and meta.profiles to a directory body (bytes)."""
        try:
            d = json.loads(body)
        except ValueError:
            return body
        if self.ari:
            d["renewalInfo"] = self.renewal_info_url
        if self.profiles is not None:
            d.setdefault("meta", {})["profiles"] = dict(self.profiles)
        return json.dumps(d, indent=3).encode()

    # -- faults
    def _resolve(self, path):
        if path is None:
            return None
        return self._dir_paths.get(path) or PEBBLE_PATHS.get(path) or path

    def add_fault(self, fault):
        """Queue a :class:`Fault`; faults are tried in the order added. Returns it."""
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail_next(self, count=1, path=None, status=503, retry_after=None, method=None,
                  problem_type="urn:ietf:params:acme:error:serverInternal",
                  detail="injected fault: service unavailable"):
        """Answer the next ``count`` matching requests with ``status`` and a problem document."""
        return self.add_fault(Fault("status", path, method, count, status, problem_type, detail,
                                    retry_after))

    def rate_limit_next(self, count=1, path=None, retry_after=60, method=None):
        """Answer 429 urn:ietf:params:acme:error:rateLimited with Retry-After."""
        return self.add_fault(Fault("status", path, method, count, 429,
                                    "urn:ietf:params:acme:error:rateLimited",
                                    "injected fault: too many requests", retry_after))

    def close_next(self, count=1, path=None, method=None):
        """Close the connection of the next ``count`` matching requests without answering."""
        return self.add_fault(Fault("close", path, method, count))

    def delay_next(self, seconds, count=1, path=None, method=None):
        """Delay the next ``count`` matching requests by ``seconds``, then forward them."""
        return self.add_fault(Fault("delay", path, method, count, delay=seconds))

    def corrupt_next_certificate(self, count=1, mode="signature"):
        """Alter the next ``count`` certificate downloads: "signature" (leaf signature no longer
        verifies, still parses), "truncate" (cut in the middle), "garbage" (not PEM),
        "leaf-only" (the intermediates left out: a well-formed answer clients cannot verify)."""
        return self.add_fault(Fault("corrupt", "certificate", "POST", count, mode=mode))

    def clear_faults(self):
        """Drop every pending fault."""
        with self._lock:
            self._faults = []

    def pending_faults(self):
        """Faults that have not fired ``count`` times yet."""
        with self._lock:
            return [f for f in self._faults if f.remaining > 0]

    def take_fault(self, method, path):
        """The first pending fault matching the request (and count it), or None."""
        with self._lock:
            for f in self._faults:
                if f.remaining <= 0:
                    continue
                if f.method and f.method.upper() != method.upper():
                    continue
                want = self._resolve(f.path)
                if want is not None and want not in path:
                    continue
                f.remaining -= 1
                f.fired += 1
                return f
        return None

    @staticmethod
    def corrupt(body, mode):
        """Alter a PEM certificate body (bytes) according to ``mode``."""
        text = body.decode(errors="replace")
        if mode == "garbage":
            return b"this is not a certificate\n"
        if mode == "truncate":
            return body[:len(body) // 2]
        if mode == "leaf-only":
            marker = "-----END CERTIFICATE-----"
            return (text[:text.find(marker) + len(marker)] + "\n").encode()
        end = text.find("-----END CERTIFICATE-----")
        if end < 0:
            return body[:len(body) // 2]
        # Change base64 characters a little before the END line: inside the signature.
        i = end - 20
        chars = list(text)
        for j in range(i, i + 8):
            if chars[j] not in "\n=":
                chars[j] = "A" if chars[j] != "A" else "B"
        return "".join(chars).encode()

    # -- ARI
    def set_renewal_window(self, start, end, cert_id=None, explanation_url=None,
                           retry_after=None):
        """Window for ``cert_id`` (None: the default for every certID without its own).
        ``start``/``end``: epoch seconds or RFC 3339 strings."""
        w = {"start": start, "end": end, "explanation_url": explanation_url,
             "retry_after": self.ari_retry_after if retry_after is None else retry_after}
        with self._lock:
            if cert_id is None:
                self._default_window = w
            else:
                self._windows[cert_id] = w

    def window_for(self, cert_id, serial_hex):
        """The window to answer for ``cert_id`` (dict) or None for an unknown certificate."""
        with self._lock:
            w = self._windows.get(cert_id) or self._default_window
        if w is not None:
            return w
        if self.management_url:
            return self._window_from_pebble(serial_hex)
        now = time.time()
        return {"start": now + 30 * 86400, "end": now + 31 * 86400,
                "retry_after": self.ari_retry_after}

    def _window_from_pebble(self, serial_hex):
        serial = serial_hex.lstrip("0") or "0"
        try:
            r = harness.http_get("%s/cert-status-by-serial/%s" % (self.management_url, serial),
                                 ca=self.upstream_ca)
        except (OSError, http.client.HTTPException) as e:
            self.log("cannot ask pebble about serial %s: %s" % (serial, e))
            return None
        if r.status != 200:
            return None
        info = harness.cert_info(json.loads(r.body)["Certificate"])
        life = info["not_after"] - info["not_before"]
        return {"start": info["not_before"] + life // 2,
                "end": info["not_before"] + life * 2 // 3,
                "retry_after": self.ari_retry_after}

    # -- records
    def log(self, line):
        """Append a line to the front's log."""
        line = "%s ca-front: %s" % (time.strftime("%H:%M:%S"), line)
        with self._lock:
            self.log_lines.append(line)
            if self._log_file is not None:
                self._log_file.write(line + "\n")
                self._log_file.flush()

    def record(self, method, path, status, action):
        with self._lock:
            self.requests.append(Record(time.time(), method, path, status, action))

    def note_new_order(self, payload):
        with self._lock:
            self.new_orders.append(payload)

    def note_renewal_info(self, cert_id):
        with self._lock:
            self.renewal_info_requests.append(cert_id)

    @property
    def replaces_seen(self):
        """The "replaces" field of every newOrder payload, in order (None when absent)."""
        with self._lock:
            return [o.get("replaces") if isinstance(o, dict) else None for o in self.new_orders]

    @property
    def profiles_seen(self):
        """The "profile" field of every newOrder payload, in order (None when absent)."""
        with self._lock:
            return [o.get("profile") if isinstance(o, dict) else None for o in self.new_orders]

    def count(self, path=None, method=None, status=None):
        """How many requests matched (``path`` as for faults; control requests excluded)."""
        want = self._resolve(path)
        with self._lock:
            return sum(1 for r in self.requests if r.action != "control"
                       and (want is None or want in r.path)
                       and (method is None or r.method == method.upper())
                       and (status is None or r.status == status))

    def wait_for_count(self, n, path=None, method=None, status=None, timeout=30.0):
        """Wait until :meth:`count` reaches ``n``; returns the count."""
        harness.wait_until(lambda: self.count(path, method, status) >= n, timeout,
                           what="%d requests to %s at the CA front" % (n, path))
        return self.count(path, method, status)

    def reset(self):
        """Forget faults, windows and records (settings such as profiles stay)."""
        with self._lock:
            self._faults = []
            self._windows = {}
            self._default_window = None
            self.requests = []
            self.new_orders = []
            self.renewal_info_requests = []

    def state(self):
        """Records as a JSON-able dict."""
        with self._lock:
            return {"requests": [r._asdict() for r in self.requests],
                    "new_orders": list(self.new_orders),
                    "renewal_info_requests": list(self.renewal_info_requests),
                    "pending_faults": [vars(f) for f in self._faults if f.remaining > 0]}


def main(argv=None):
    """Standalone front: python3 ca_front.py --upstream URL --upstream-ca FILE --cert C --key K"""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True, help="pebble base URL, https://127.0.0.1:N")
    ap.add_argument("--upstream-ca", required=True, help="CA file for pebble's HTTPS")
    ap.add_argument("--cert", required=True, help="front's certificate (PEM)")
    ap.add_argument("--key", required=True, help="front's private key (PEM)")
    ap.add_argument("--port", type=int, default=0, help="listen port on 127.0.0.1 (0 = free)")
    ap.add_argument("--management-url", help="pebble management URL (default ARI windows)")
    ap.add_argument("--no-ari", action="store_true")
    ap.add_argument("--no-profiles", action="store_true")
    args = ap.parse_args(argv)
    front = CAFront(args.upstream, args.upstream_ca, (args.cert, args.key),
                    port=args.port or None, ari=not args.no_ari,
                    profiles=None if args.no_profiles else DEFAULT_PROFILES,
                    management_url=args.management_url)
    front.start()
    print(front.directory_url, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1):
            pass
    except KeyboardInterrupt:
        pass
    front.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
