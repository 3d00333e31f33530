"""A minimal RFC 8555 client for tests: ES256 account key, JWS signed with the openssl CLI.

Not the product: it exists so that tests can talk to pebble or the CA front directly (check the
harness, record what the front sees, issue a certificate the product then has to deal with).

    acme = TinyAcme(pebble.directory_url, pebble.ca_root, ws.mkdir("tiny"))
    acme.new_account(contact=["mailto:a@example.org"])
    result = acme.issue(["example.org"], challenge="dns-01", pebble=pebble)
    result.chain_pem, result.key_file, result.order_url

Every network wait is bounded; errors raise :class:`AcmeError` with the problem document.
badNonce answers are retried (pebble rejects 5% of good nonces by default).
"""

import base64
import hashlib
import hmac
import http.server
import ipaddress
import json
import os
import threading
import time

import harness

__all__ = ["TinyAcme", "AcmeError", "AcmeResponse", "Http01Server", "IssueResult"]


class AcmeError(Exception):
    """An ACME request failed; ``response`` is the :class:`AcmeResponse` (may be None)."""

    def __init__(self, message, response=None):
        super().__init__(message)
        self.response = response

    @property
    def problem_type(self):
        """The problem document's "type", or None."""
        try:
            return self.response.json().get("type")
        except Exception:  # noqa: BLE001
            return None


class AcmeResponse:
    """status (int), headers (case-insensitive ``get``), body (bytes); ``json()``; ``location``."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        """The body parsed as JSON."""
        return json.loads(self.body.decode())

    @property
    def location(self):
        """The Location header, or None."""
        return self.headers.get("Location")

    def __repr__(self):
        return "<AcmeResponse %d %s>" % (self.status, self.body[:200])


class IssueResult:
    """Result of :meth:`TinyAcme.issue`: chain_pem (leaf first), key_file, order_url, order."""

    def __init__(self, chain_pem, key_file, order_url, order, alternates):
        self.chain_pem = chain_pem
        self.key_file = key_file
        self.order_url = order_url
        self.order = order
        self.alternates = alternates


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _identifier(name):
    if isinstance(name, dict):
        return name
    try:
        ipaddress.ip_address(name)
        return {"type": "ip", "value": name}
    except ValueError:
        return {"type": "dns", "value": name}


def _der_ecdsa_to_raw(der, size=32):
    # SEQUENCE { INTEGER r, INTEGER s }, short-form lengths for P-256.
    if der[0] != 0x30:
        raise harness.HarnessError("unexpected ECDSA signature encoding")
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        if der[i] != 0x02:
            raise harness.HarnessError("unexpected ECDSA signature encoding")
        n = der[i + 1]
        v = der[i + 2:i + 2 + n]
        i += 2 + n
        out += v.lstrip(b"\x00").rjust(size, b"\x00")
    return out


class Http01Server:
    """Answers http-01 requests on 127.0.0.1:``port`` from a dict token -> key authorization.

    Context manager; also records every path requested in ``requests``.
    """

    def __init__(self, port):
        self.port = port
        self.tokens = {}
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server API
                outer.requests.append(self.path)
                prefix = "/.well-known/acme-challenge/"
                token = self.path[len(prefix):] if self.path.startswith(prefix) else None
                body = outer.tokens.get(token)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((harness.LOCALHOST, port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        """Stop serving (idempotent)."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class TinyAcme:
    """Minimal ACME client. ``work_dir`` holds its account key and certificate keys."""

    def __init__(self, directory_url, ca_file, work_dir, timeout=10.0):
        self.directory_url = directory_url
        self.ca_file = ca_file
        self.work_dir = work_dir
        self.timeout = timeout
        os.makedirs(work_dir, exist_ok=True)
        self.key_file = os.path.join(work_dir, "account.key")
        if not os.path.exists(self.key_file):
            harness.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-out", self.key_file])
        spki = harness.run(["openssl", "pkey", "-in", self.key_file, "-pubout", "-outform",
                            "DER"]).stdout
        point = spki[-64:]
        self.jwk = {"crv": "P-256", "kty": "EC", "x": _b64(point[:32]), "y": _b64(point[32:])}
        self.thumbprint = _b64(hashlib.sha256(json.dumps(
            self.jwk, sort_keys=True, separators=(",", ":")).encode()).digest())
        self.kid = None
        self._nonce = None
        self._directory = None
        self.requests = []

    # -- plumbing
    def _http(self, method, url, body=None, headers=None):
        r = harness.http_request(method, url, body=body, headers=headers, ca=self.ca_file,
                                 timeout=self.timeout)
        nonce = r.headers.get("Replay-Nonce")
        if nonce:
            self._nonce = nonce
        self.requests.append((method, url, r.status))
        return AcmeResponse(r.status, r.headers, r.body)

    @property
    def directory(self):
        """The directory object (fetched once)."""
        if self._directory is None:
            r = self._http("GET", self.directory_url)
            if r.status != 200:
                raise AcmeError("GET directory %s: %d" % (self.directory_url, r.status), r)
            self._directory = r.json()
        return self._directory

    def _new_nonce(self):
        r = self._http("HEAD", self.directory["newNonce"])
        if not r.headers.get("Replay-Nonce"):
            raise AcmeError("newNonce gave no Replay-Nonce (status %d)" % r.status, r)
        return self._nonce

    def sign(self, data):
        """ES256 signature (raw r||s) of ``data`` with the account key."""
        der = harness.run(["openssl", "dgst", "-sha256", "-sign", self.key_file],
                          input=data).stdout
        return _der_ecdsa_to_raw(der)

    def jws(self, url, payload, use_jwk=False, nonce=None, extra_protected=None):
        """A flattened JWS (dict) for ``url``; ``payload`` None means POST-as-GET ("")."""
        protected = {"alg": "ES256", "nonce": nonce or self._nonce or self._new_nonce(),
                     "url": url}
        if use_jwk or self.kid is None:
            protected["jwk"] = self.jwk
        else:
            protected["kid"] = self.kid
        protected.update(extra_protected or {})
        self._nonce = None
        p64 = _b64(json.dumps(protected).encode())
        body64 = "" if payload is None else _b64(json.dumps(payload).encode())
        sig = self.sign(("%s.%s" % (p64, body64)).encode())
        return {"protected": p64, "payload": body64, "signature": _b64(sig)}

    def post(self, url, payload, use_jwk=False, check=True, retries=5):
        """POST a JWS to ``url`` (payload None = POST-as-GET); retries badNonce.

        With ``check``, a status >= 400 raises :class:`AcmeError`.
        """
        for _ in range(retries):
            body = json.dumps(self.jws(url, payload, use_jwk=use_jwk)).encode()
            r = self._http("POST", url, body=body,
                           headers={"Content-Type": "application/jose+json"})
            if r.status == 400 and b"badNonce" in r.body:
                continue
            break
        if check and r.status >= 400:
            raise AcmeError("POST %s: status %d: %s" % (url, r.status, r.body[:500].decode(
                errors="replace")), r)
        return r

    # -- ACME operations
    def new_account(self, contact=None, eab=None, only_return_existing=False, check=True):
        """newAccount; ``eab`` = (kid, base64url HMAC key, alg="HS256"). Sets ``self.kid``."""
        url = self.directory["newAccount"]
        payload = {"termsOfServiceAgreed": True}
        if contact:
            payload["contact"] = list(contact)
        if only_return_existing:
            payload["onlyReturnExisting"] = True
        if eab:
            kid, key = eab[0], eab[1]
            alg = eab[2] if len(eab) > 2 else "HS256"
            digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                      "HS512": hashlib.sha512}[alg]
            p64 = _b64(json.dumps({"alg": alg, "kid": kid, "url": url}).encode())
            body64 = _b64(json.dumps(self.jwk).encode())
            raw_key = base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))
            sig = hmac.new(raw_key, ("%s.%s" % (p64, body64)).encode(), digest).digest()
            payload["externalAccountBinding"] = {"protected": p64, "payload": body64,
                                                 "signature": _b64(sig)}
        r = self.post(url, payload, use_jwk=True, check=check)
        if r.status < 400:
            self.kid = r.location
        return r

    def new_order(self, identifiers, profile=None, replaces=None, extra=None, check=True):
        """newOrder for ``identifiers`` (names/IPs or identifier dicts); optional ``profile``,
        ``replaces`` (ARI certID) and any ``extra`` payload fields."""
        payload = {"identifiers": [_identifier(i) for i in identifiers]}
        if profile is not None:
            payload["profile"] = profile
        if replaces is not None:
            payload["replaces"] = replaces
        payload.update(extra or {})
        return self.post(self.directory["newOrder"], payload, check=check)

    def get(self, url):
        """POST-as-GET ``url``; returns the parsed JSON."""
        return self.post(url, None).json()

    def key_authorization(self, token):
        """token.thumbprint"""
        return "%s.%s" % (token, self.thumbprint)

    def dns01_value(self, token):
        """The TXT value for a dns-01 challenge with ``token``."""
        return _b64(hashlib.sha256(self.key_authorization(token).encode()).digest())

    def poll(self, url, done=("valid", "invalid"), timeout=30.0):
        """POST-as-GET ``url`` until its status is in ``done``; returns the object."""
        obj = {}

        def check():
            obj.update(self.get(url))
            return obj.get("status") in done
        harness.wait_until(check, timeout, interval=0.2, what="%s to reach %s" % (url, done))
        return obj

    def issue(self, names, challenge="dns-01", pebble=None, http_server=None, profile=None,
              replaces=None, key_type="ec", timeout=60.0):
        """Order, authorize, finalize and download a certificate for ``names``.

        dns-01 sets TXT records through ``pebble`` (a harness.Pebble). http-01 serves through
        ``http_server`` (an :class:`Http01Server` on pebble's http_port). ``key_type``: "ec"
        (P-256) or "rsa" (2048). Returns :class:`IssueResult`.
        """
        r = self.new_order(names, profile=profile, replaces=replaces)
        order_url, order = r.location, r.json()
        for authz_url in order["authorizations"]:
            authz = self.get(authz_url)
            if authz["status"] == "valid":
                continue
            chall = next((c for c in authz["challenges"] if c["type"] == challenge), None)
            if chall is None:
                raise AcmeError("no %s challenge in %s: %s" % (challenge, authz_url, authz))
            ident = authz["identifier"]["value"]
            if challenge == "dns-01":
                pebble.set_txt(harness.challenge_txt_name(ident),
                               self.dns01_value(chall["token"]))
            elif challenge == "http-01":
                http_server.tokens[chall["token"]] = self.key_authorization(chall["token"])
            else:
                raise AcmeError("TinyAcme does not solve %s" % challenge)
            self.post(chall["url"], {})
            authz = self.poll(authz_url, timeout=timeout)
            if challenge == "dns-01":
                pebble.clear_txt(harness.challenge_txt_name(ident))
            if authz["status"] != "valid":
                raise AcmeError("authorization %s for %s is %s: %s" % (
                    authz_url, ident, authz["status"], json.dumps(authz)))
        order = self.poll(order_url, done=("ready", "invalid", "valid"), timeout=timeout)
        if order["status"] == "invalid":
            raise AcmeError("order %s invalid: %s" % (order_url, order))
        key_file = os.path.join(self.work_dir, "cert-%d.key" % int(time.time() * 1000))
        csr = self.make_csr(names, key_file, key_type)
        self.post(order["finalize"], {"csr": _b64(csr)})
        order = self.poll(order_url, timeout=timeout)
        if order["status"] != "valid":
            raise AcmeError("order %s not valid after finalize: %s" % (order_url, order))
        r = self.post(order["certificate"], None)
        alternates = [link.split(";")[0].strip("<> ")
                      for link in r.headers.get_all("Link") or [] if 'rel="alternate"' in link]
        return IssueResult(r.body.decode(), key_file, order_url, order, alternates)

    def make_csr(self, names, key_file, key_type="ec"):
        """DER CSR for ``names`` with a new key written to ``key_file``."""
        sans = ",".join(("IP:%s" if _identifier(n)["type"] == "ip" else "DNS:%s") % n
                        for n in names)
        newkey = (["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if key_type == "ec"
                  else ["-newkey", "rsa:2048"])
        return harness.run(["openssl", "req", "-new"] + newkey + [
            "-nodes", "-keyout", key_file, "-subj", "/CN=%s" % names[0], "-addext",
            "subjectAltName=%s" % sans, "-outform", "DER"]).stdout

    def revoke(self, cert_pem, reason=None, check=True):
        """revokeCert for the leaf of ``cert_pem`` (signed with the account key)."""
        der = harness.run(["openssl", "x509", "-outform", "DER"],
                          input=harness.split_pem(cert_pem)[0].encode()).stdout
        payload = {"certificate": _b64(der)}
        if reason is not None:
            payload["reason"] = reason
        return self.post(self.directory["revokeCert"], payload, check=check)
