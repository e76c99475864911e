#!/usr/bin/env python3
"""A misbehaving test server for `uca health` tests (tests/health.rs).

Modes (--mode):
  http     (default) a threaded HTTP server, TLS with --cert/--key (client certificates
           required and verified against --ca when given). Every path except /control answers
           200 "ok\\n", or 500 "failing\\n" with probability `fail`; every answer is delayed by
           `delay_ms`.
  hang     accepts, reads, never answers (until the client gives up).
  garbage  answers "SSH-2.0-OpenSSH_9.2\\r\\n" and closes.

Control while it runs (not delayed, never failing, not counted):
  GET /control?fail=0.3&delay_ms=200&ramp=0.01&even=1
    fail      failure share, 0..1 (setting it restarts any ramp from this value)
    ramp      failure share added per second from now on, capped at 1 (0 stops the ramp and
              keeps the share reached so far)
    delay_ms  delay of every answer
    even      1: failures spread evenly (error diffusion: exactly `fail` of the answers fail,
              never more consecutive failures than needed); 0: independent coin flips
  Every /control answer is the current state as JSON (also counts of requests and failures).

With --port 0 the kernel picks the port. Once listening it prints one line on stdout:
  READY port=PORT
and nothing else. Logging is off.
"""

import argparse
import json
import random
import socket
import socketserver
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class State:
    def __init__(self, fail, delay_ms, ramp, even):
        self.lock = threading.Lock()
        self.base = fail
        self.ramp = ramp
        self.ramp_start = time.monotonic()
        self.delay_ms = delay_ms
        self.even = even
        self.acc = 0.0
        self.requests = 0
        self.failures = 0

    def share(self, now=None):
        """The failure share now (caller holds the lock)."""
        now = time.monotonic() if now is None else now
        s = self.base
        if self.ramp > 0:
            s += self.ramp * (now - self.ramp_start)
        return max(0.0, min(1.0, s))

    def decide(self):
        """(fail?, delay seconds) for one request."""
        with self.lock:
            f = self.share()
            if self.even:
                self.acc += f
                fail = self.acc >= 1.0 - 1e-9
                if fail:
                    self.acc -= 1.0
            else:
                fail = random.random() < f
            self.requests += 1
            if fail:
                self.failures += 1
            return fail, self.delay_ms / 1000.0

    def control(self, query):
        q = {k: v[-1] for k, v in parse_qs(query).items()}
        with self.lock:
            now = time.monotonic()
            if "fail" in q:
                self.base = max(0.0, min(1.0, float(q["fail"])))
                self.ramp_start = now
                self.acc = 0.0
            if "ramp" in q:
                # Continue from the share reached so far (or from a fail= given with it).
                self.base = self.share(now) if "fail" not in q else self.base
                self.ramp = max(0.0, float(q["ramp"]))
                self.ramp_start = now
            if "delay_ms" in q:
                self.delay_ms = max(0.0, float(q["delay_ms"]))
            if "even" in q:
                self.even = q["even"] not in ("0", "false", "")
            return {
                "fail": self.share(now),
                "base": self.base,
                "ramp": self.ramp,
                "delay_ms": self.delay_ms,
                "even": self.even,
                "requests": self.requests,
                "failures": self.failures,
            }


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "flaky/1"

        def log_message(self, *args):  # quiet
            pass

        def answer(self, code, body, ctype="text/plain"):
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
            self.close_connection = True

        def handle_any(self):
            url = urlsplit(self.path)
            if url.path == "/control":
                try:
                    st = state.control(url.query)
                except ValueError as e:
                    self.answer(400, f"bad control value: {e}\n")
                    return
                self.answer(200, json.dumps(st) + "\n", "application/json")
                return
            fail, delay = state.decide()
            if delay > 0:
                time.sleep(delay)
            if fail:
                self.answer(500, "failing\n")
            else:
                self.answer(200, "ok\n")

        do_GET = handle_any
        do_HEAD = handle_any
        do_POST = handle_any
        do_OPTIONS = handle_any

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, handler, tls):
        self.tls = tls
        super().__init__(addr, handler)

    def finish_request(self, request, client_address):
        # The TLS handshake runs in the request's own thread, so a slow or silent client never
        # blocks accept().
        if self.tls is not None:
            request.settimeout(10)
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request, client_address):  # quiet
        pass


class Hang(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.settimeout(1.0)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if not self.request.recv(4096):
                    return
            except socket.timeout:
                continue
            except OSError:
                return


class Garbage(socketserver.BaseRequestHandler):
    def handle(self):
        try:
            self.request.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
            self.request.shutdown(socket.SHUT_WR)
            self.request.settimeout(1.0)
            self.request.recv(4096)
        except OSError:
            pass


class Raw(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):  # quiet
        pass


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--mode", choices=["http", "hang", "garbage"], default="http")
    p.add_argument("--cert", help="server certificate chain (PEM): serve TLS")
    p.add_argument("--key", help="the certificate's key (PEM)")
    p.add_argument("--ca", help="require client certificates from this CA (PEM)")
    p.add_argument("--fail", type=float, default=0.0)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--ramp", type=float, default=0.0)
    p.add_argument("--even", action="store_true", help="spread failures evenly")
    a = p.parse_args()

    if a.mode == "http":
        tls = None
        if a.cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(a.cert, a.key)
            if a.ca:
                tls.load_verify_locations(a.ca)
                tls.verify_mode = ssl.CERT_REQUIRED
        state = State(a.fail, a.delay_ms, a.ramp, a.even)
        srv = Server((a.bind, a.port), make_handler(state), tls)
    else:
        srv = Raw((a.bind, a.port), Hang if a.mode == "hang" else Garbage)
    print(f"READY port={srv.server_address[1]}", flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
