#!/usr/bin/python3
"""N sequential ACME orders from one process (Debian python3-acme), for scripts/bench-serve.sh.

Each order is what one `lego run` with a fresh --path does, minus lego's process start-up and its
fixed 1/18 s sleep before fetching authorizations: directory, new P-256 account key + newAccount,
newOrder (+ authz), http-01 answered by this process on 127.0.0.1:80, finalize, download. Polls
(only when the server answers `pending`/`processing`) every 20 ms. Prints one line per order:
wall microseconds.

    acme-orders.py DIRECTORY_URL CA_FILE N
"""
import http.server
import sys
import threading
import time

import josepy as jose
import OpenSSL
from acme import challenges, client, crypto_util, messages
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

url, cafile, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tokens = {}


class Http01(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        prefix = "/.well-known/acme-challenge/"
        body = tokens.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer.allow_reuse_address = True
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 80), Http01)
threading.Thread(target=srv.serve_forever, daemon=True).start()


def p256():
    return ec.generate_private_key(ec.SECP256R1())


def order():
    key = jose.JWKEC(key=p256())
    net = client.ClientNetwork(key, alg=jose.ES256, verify_ssl=cafile, user_agent="bench-serve")
    acme = client.ClientV2(client.ClientV2.get_directory(url, net), net)
    acme.new_account(messages.NewRegistration.from_data(
        email="a@example.test", terms_of_service_agreed=True))
    pem = p256().private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())
    csr_pem = crypto_util.make_csr(pem, ["localhost"])
    orderr = acme.new_order(csr_pem)
    for authzr in orderr.authorizations:
        challb = next(c for c in authzr.body.challenges if isinstance(c.chall, challenges.HTTP01))
        response, validation = challb.response_and_validation(key)
        tokens[challb.chall.encode("token")] = validation
        done = acme.answer_challenge(challb, response)
        status = done.body.status
        while status in (messages.STATUS_PENDING, messages.STATUS_PROCESSING):
            time.sleep(0.02)
            status = acme.poll(authzr)[0].body.status
        if status != messages.STATUS_VALID:
            raise SystemExit(f"authorization ended {status}")
    csr = jose.ComparableX509(OpenSSL.crypto.load_certificate_request(
        OpenSSL.crypto.FILETYPE_PEM, csr_pem))
    body = messages.Order.from_json(
        acme._post(orderr.body.finalize, messages.CertificateRequest(csr=csr)).json())
    while body.status != messages.STATUS_VALID or body.certificate is None:
        if body.status == messages.STATUS_INVALID:
            raise SystemExit(f"order invalid: {body.error}")
        time.sleep(0.02)
        body = messages.Order.from_json(acme._post_as_get(orderr.uri).json())
    chain = acme._post_as_get(body.certificate).text
    if "BEGIN CERTIFICATE" not in chain:
        raise SystemExit("no certificate")
    net.session.close()


for i in range(n):
    t0 = time.monotonic_ns()
    order()
    print((time.monotonic_ns() - t0) // 1000, flush=True)
srv.shutdown()
