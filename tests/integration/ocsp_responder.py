"""Test-only OCSP responder (RFC 6960) for pebble's certificates. Python standard library plus the
openssl command line tool.

pebble 2.4 puts a responder URL into the certificates it issues (``ocspResponderURL``) but runs
no responder. This one answers ``POST /`` with a DER OCSPRequest: it reads the serial from the
request (``openssl ocsp -req_text``), asks pebble's management interface whether that serial is
valid or revoked, writes a one-line index in the format of ``openssl ca``, and lets ``openssl
ocsp`` sign the answer with pebble's intermediate key (published by pebble's management
interface), so the response is signed by the certificate's issuer, as a CA's own responder signs
it. Unknown serials are answered "unknown" by openssl.

Usage::

    port = harness.free_port()
    pebble = ws.start_pebble(config={"ocspResponderURL": "http://127.0.0.1:%d/" % port})
    responder = OcspResponder(ws, pebble, port).start()
    ...
    responder.requests  # serials asked for, in order
"""

import http.server
import os
import re
import subprocess
import threading

import harness

__all__ = ["OcspResponder", "stapled_status", "wait_for_staple"]


class OcspResponder:
    """One responder on 127.0.0.1:``port`` for ``pebble``'s intermediate 0."""

    def __init__(self, ws, pebble, port, validity_days=1):
        self.ws = ws
        self.pebble = pebble
        self.port = port
        self.validity_days = validity_days
        self.dir = ws.mkdir("ocsp-%d" % port)
        self.requests = []
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def url(self):
        return "http://%s:%d/" % (harness.LOCALHOST, self.port)

    def start(self):
        with open(os.path.join(self.dir, "issuer.pem"), "w") as f:
            f.write(self.pebble.intermediates_pem(0))
        key = os.path.join(self.dir, "issuer.key")
        with open(key, "w") as f:
            f.write(self.pebble.intermediate_key_pem(0))
        os.chmod(key, 0o600)
        responder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    der = responder.answer(body)
                    self.send_response(200)
                    self.send_header("Content-Type", "application/ocsp-response")
                    self.send_header("Content-Length", str(len(der)))
                    self.end_headers()
                    self.wfile.write(der)
                except Exception as e:  # a test responder: say what went wrong
                    msg = str(e).encode()
                    self.send_response(500)
                    self.send_header("Content-Length", str(len(msg)))
                    self.end_headers()
                    self.wfile.write(msg)

            def log_message(self, fmt, *args):
                with open(os.path.join(responder.dir, "access.log"), "a") as f:
                    f.write(fmt % args + "\n")

        self._server = http.server.ThreadingHTTPServer((harness.LOCALHOST, self.port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.ws.on_close(self.stop)
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def answer(self, request_der):
        with self._lock:
            n = len(self.requests)
            req = os.path.join(self.dir, "req-%d.der" % n)
            resp = os.path.join(self.dir, "resp-%d.der" % n)
            index = os.path.join(self.dir, "index-%d.txt" % n)
            with open(req, "wb") as f:
                f.write(request_der)
            text = harness.run(["openssl", "ocsp", "-reqin", req, "-req_text"]).stdout.decode()
            m = re.search(r"Serial Number:\s*([0-9A-Fa-f]+)", text)
            if not m:
                raise harness.HarnessError("no serial in the OCSP request:\n" + text)
            serial = m.group(1).upper()
            serial = serial if len(serial) % 2 == 0 else "0" + serial
            self.requests.append(serial)
            try:
                status = self.pebble.cert_status(serial)
            except harness.HarnessError:
                status = None
            with open(index, "w") as f:
                if status is not None:
                    flag = "R" if status.get("Status") == "Revoked" else "V"
                    revoked = "200101000000Z" if flag == "R" else ""
                    f.write("%s\t491231235959Z\t%s\t%s\tunknown\t/CN=pebble\n" % (
                        flag, revoked, serial))
            harness.run(["openssl", "ocsp", "-index", index, "-rsigner",
                         os.path.join(self.dir, "issuer.pem"), "-rkey",
                         os.path.join(self.dir, "issuer.key"), "-CA",
                         os.path.join(self.dir, "issuer.pem"), "-reqin", req, "-respout", resp,
                         "-ndays", str(self.validity_days)])
            with open(resp, "rb") as f:
                return f.read()


def stapled_status(port, server_name, timeout=10):
    """What a client asking for OCSP stapling (``openssl s_client -status``) receives: a dict
    with ``leaf_serial`` (uppercase hex) and, when a response was stapled, ``status`` ("good",
    "revoked", "unknown") and ``serial`` (the serial the response is about); ``status`` is None
    when nothing was stapled."""
    cp = subprocess.run(
        ["openssl", "s_client", "-connect", "%s:%d" % (harness.LOCALHOST, port),
         "-servername", server_name, "-status", "-showcerts"],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        timeout=timeout)
    out = cp.stdout.decode(errors="replace")
    result = {"status": None, "serial": None, "leaf_serial": None, "text": out}
    # The stapled response is printed first, with the responder's certificate: the served chain
    # comes after "Certificate chain".
    chain = out[out.find("Certificate chain"):] if "Certificate chain" in out else ""
    pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", chain, re.S)
    if pems:
        result["leaf_serial"] = harness.cert_info(pems[0])["serial"].upper().lstrip("0")
    if "OCSP Response Status: successful" in out:
        m = re.search(r"Cert Status: (\w+)", out)
        result["status"] = m.group(1) if m else None
        m = re.search(r"Serial Number: ([0-9A-Fa-f]+)", out)
        result["serial"] = m.group(1).upper().lstrip("0") if m else None
    return result


def wait_for_staple(port, server_name, serial, timeout=30):
    """Wait until a client asking for stapling gets a "good" response about ``serial`` (uppercase
    hex, no leading zeros) with a leaf of that serial; returns :func:`stapled_status`'s dict."""
    def stapled():
        st = stapled_status(port, server_name)
        return st if st["status"] == "good" and st["serial"] == serial and \
            st["leaf_serial"] == serial else None
    return harness.wait_until(stapled, timeout=timeout, interval=0.2,
                              what="a stapled OCSP response for %s" % serial)
