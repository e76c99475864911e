#!/usr/bin/env python3
"""Regenerates the seed corpora under fuzz/corpus/ from keys, JWSes, CSRs and certificates made
by other tools: Python's `cryptography` (JWK and JWS signing) and the `openssl` command line
(CSRs and certificates, PEM and DER). Run from anywhere: python3 fuzz/seeds/make_seeds.py.
Keys are fresh on every run, so the files change; the committed ones are one run's output.

Not made here: fuzz/corpus/certificate/uca-*, certificates uca itself made (`uca init --key
ec-p384`, `uca issue --key ed25519 --san ip:192.0.2.7 web.example.org`, `uca issue --key rsa-2048
--profile client client.example.org`, its fullchain.pem; the .der by `openssl x509 -outform DER`)."""

import base64, hashlib, hmac, json, os, subprocess, tempfile
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def uint(n: int, size: int | None = None) -> bytes:
    size = size or max(1, (n.bit_length() + 7) // 8)
    return n.to_bytes(size, "big")


def write(target: str, name: str, data: bytes | str) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 4096, (target, name, len(data))
    (d / name).write_bytes(data)


# (name, private key, JWK, alg, sign(msg) -> signature)
def ec_key(curve, crv, alg, h, size):
    k = ec.generate_private_key(curve)
    n = k.public_key().public_numbers()
    jwk = {"kty": "EC", "crv": crv, "x": b64(uint(n.x, size)), "y": b64(uint(n.y, size))}

    def sign(msg):
        r, s = decode_dss_signature(k.sign(msg, ec.ECDSA(h)))
        return uint(r, size) + uint(s, size)

    return k, jwk, alg, sign


def rsa_key(bits, alg, h):
    k = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    n = k.public_key().public_numbers()
    jwk = {"kty": "RSA", "n": b64(uint(n.n)), "e": b64(uint(n.e))}
    return k, jwk, alg, lambda msg: k.sign(msg, padding.PKCS1v15(), h)


def ed_key():
    k = ed25519.Ed25519PrivateKey.generate()
    raw = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return k, {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}, "EdDSA", k.sign


KEYS = {
    "p256": ec_key(ec.SECP256R1(), "P-256", "ES256", hashes.SHA256(), 32),
    "p384": ec_key(ec.SECP384R1(), "P-384", "ES384", hashes.SHA384(), 48),
    "p521": ec_key(ec.SECP521R1(), "P-521", "ES512", hashes.SHA512(), 66),
    "rsa2048": rsa_key(2048, "RS256", hashes.SHA256()),
    "ed25519": ed_key(),
}

URL = "https://ca.example:8443/acme/new-account"


def jws(key, header_extra, payload: bytes | None) -> bytes:
    _, jwk, alg, sign = KEYS[key]
    header = {"alg": alg, "nonce": "x2Ud1dY0cCV5R3nW2Mbbxg", "url": URL}
    header.update(header_extra if header_extra is not None else {"jwk": jwk})
    p = b64(json.dumps(header, separators=(",", ":")).encode())
    pl = "" if payload is None else b64(payload)
    sig = sign(f"{p}.{pl}".encode())
    return json.dumps({"protected": p, "payload": pl, "signature": b64(sig)}).encode()


def main():
    new_account = json.dumps({"termsOfServiceAgreed": True, "contact": ["mailto:a@example.org"]}).encode()
    order = json.dumps({"identifiers": [{"type": "dns", "value": "www.example.org"}]}).encode()
    kid = {"kid": "https://ca.example:8443/acme/acct/7"}
    # jws: every key type signing a newAccount, a kid order, a POST-as-GET, and a bad signature.
    for name in KEYS:
        write("jws", f"new-account-{name}.json", jws(name, None, new_account))
    write("jws", "order-kid-p256.json", jws("p256", kid, order))
    write("jws", "post-as-get-kid-ed25519.json", jws("ed25519", kid, None))
    write("jws", "post-as-get-jwk-p384.json", jws("p384", None, None))
    bad = json.loads(jws("p256", None, new_account))
    bad["signature"] = b64(b"\0" * 64)
    write("jws", "bad-signature-p256.json", json.dumps(bad))
    write("jws", "compact.txt", b"eyJhbGciOiJFUzI1NiJ9.e30.AAAA")
    # jwk: the public JWKs, plus a private member and a wrong curve.
    for name, (_, j, _, _) in KEYS.items():
        write("jwk", f"{name}.json", json.dumps(j))
    write("jwk", "p256-with-d.json", json.dumps(dict(KEYS["p256"][1], d=b64(b"\1" * 32))))
    write("jwk", "x25519.json", json.dumps({"kty": "OKP", "crv": "X25519", "x": b64(b"\9" * 32)}))
    write("jwk", "oct.json", json.dumps({"kty": "oct", "k": b64(b"secret")}))
    # eab: RFC 8555 §7.3.4 bindings of each key under each MAC algorithm.
    mac_key = b"uca fuzz mac key"
    for (name, mac_alg, h) in [("p256", "HS256", hashlib.sha256), ("rsa2048", "HS384", hashlib.sha384),
                               ("ed25519", "HS512", hashlib.sha512), ("p384", "HS256", hashlib.sha256)]:
        prot = b64(json.dumps({"alg": mac_alg, "kid": "kid-1", "url": URL}).encode())
        pl = b64(json.dumps(KEYS[name][1]).encode())
        mac = hmac.new(mac_key, f"{prot}.{pl}".encode(), h).digest()
        write("eab", f"{name}-{mac_alg}.json", json.dumps({"protected": prot, "payload": pl, "signature": b64(mac)}))
    prot = b64(json.dumps({"alg": "HS256", "kid": "kid-1", "url": URL, "nonce": "n"}).encode())
    write("eab", "with-nonce.json", json.dumps({"protected": prot, "payload": b64(json.dumps(KEYS["p256"][1]).encode()), "signature": "AAAA"}))
    # identifier
    for i, (t, v) in enumerate([("dns", "www.example.org"), ("dns", "*.example.org"), ("dns", "xn--bcher-kva.example"),
                                ("ip", "192.0.2.1"), ("ip", "2001:db8::1"), ("dns", "localhost"), ("dns", "EXAMPLE.org."),
                                ("ip", "::ffff:192.0.2.1"), ("email", "a@example.org")]):
        write("identifier", f"{i:02}-{t}.json", json.dumps({"type": t, "value": v}))
    # csr and certificate, by openssl
    with tempfile.TemporaryDirectory() as tmp:
        def ossl(*args):
            subprocess.run(["openssl", *args], check=True, cwd=tmp, capture_output=True)

        def read(name):
            return Path(tmp, name).read_bytes()

        specs = [("ec-p256", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                 ("ec-p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"]),
                 ("rsa2048", ["-newkey", "rsa:2048"]),
                 ("ed25519", ["-newkey", "ed25519"])]
        for name, newkey in specs:
            subj = ["-subj", f"/CN={name}.example.org/O=uca fuzz"]
            san = ["-addext", "subjectAltName=DNS:www.example.org,DNS:*.example.org,IP:192.0.2.1,email:a@example.org"]
            ossl("req", "-new", *newkey, "-nodes", "-keyout", f"{name}.key", *subj, *san, "-out", f"{name}.csr")
            ossl("req", "-in", f"{name}.csr", "-outform", "DER", "-out", f"{name}.csr.der")
            write("csr", f"{name}.pem", read(f"{name}.csr"))
            write("csr", f"{name}.der", read(f"{name}.csr.der"))
            ossl("req", "-x509", "-key", f"{name}.key", *subj, *san, "-addext", "basicConstraints=critical,CA:TRUE",
                 "-days", "30", "-out", f"{name}.crt")
            ossl("x509", "-in", f"{name}.crt", "-outform", "DER", "-out", f"{name}.crt.der")
            write("certificate", f"openssl-{name}.pem", read(f"{name}.crt"))
            write("certificate", f"openssl-{name}.der", read(f"{name}.crt.der"))
        ossl("req", "-new", "-key", "ec-p256.key", "-subj", "/CN=ca-true", "-addext", "basicConstraints=CA:TRUE", "-out", "ca.csr")
        write("csr", "asks-for-ca.pem", read("ca.csr").replace(b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"))
        # a leaf signed by the ec-p256 root, and a two-certificate chain in one PEM file
        ossl("req", "-new", "-key", "rsa2048.key", "-subj", "/CN=leaf.example.org", "-out", "leaf.csr")
        Path(tmp, "ext").write_text("subjectAltName=DNS:leaf.example.org\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
        ossl("x509", "-req", "-in", "leaf.csr", "-CA", "ec-p256.crt", "-CAkey", "ec-p256.key", "-days", "7",
             "-extfile", "ext", "-set_serial", "0x0123456789abcdef", "-out", "leaf.crt")
        write("certificate", "openssl-leaf-by-ec.pem", read("leaf.crt"))
        write("certificate", "openssl-chain.pem", read("leaf.crt") + read("ec-p256.crt"))
    write("csr", "empty.txt", b"\n")
    write("certificate", "garbage.pem", b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")


if __name__ == "__main__":
    main()
