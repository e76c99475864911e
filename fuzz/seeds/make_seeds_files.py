#!/usr/bin/env python3
"""Regenerates the seed corpora of the file, custody, TOML, ACME-service, validation and
structure-aware fuzz targets, and the fixtures their harnesses judge against
(fuzz/harness/fixtures/). make_seeds.py does the first six targets (jws, jwk, eab, identifier,
csr, certificate).

Made from real files: a CA made by uca itself (`uca init --no-passphrase`, `uca issue`,
`uca revoke`, `uca crl`, `uca artifact manifest`, `uca artifact attest`), OpenSSL (`req`, `ca
-gencrl`, `crl`, `pkcs8`, `cms -sign`, `x509`), GNU `sha256sum`, Python's `cryptography`
(encrypted PKCS#8, Ed25519 and HMAC for the ACME payloads), and the JSON payloads certbot and
lego send.

    python3 fuzz/seeds/make_seeds_files.py [--uca PATH]

The uca binary: --uca, else $UCA_BIN, else target/debug/uca under $CARGO_TARGET_DIR or the
workspace (build it first with `cargo build -p uca`). Keys and certificates are fresh on every
run, so the files change; the committed ones are one run's output. The fixtures and the seeds
must come from the same run (the CRL and CMS seeds are signed by the fixture CA), so the script
rewrites both together; the ACME keys are fixed seeds shared with fuzz/harness/acme_service.rs.
"""

import argparse, base64, hashlib, hmac, json, os, shutil, struct, subprocess, sys, tempfile, time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

FUZZ = Path(__file__).resolve().parent.parent
CORPUS = FUZZ / "corpus"
FIXTURES = FUZZ / "harness" / "fixtures"
ROOT = FUZZ.parent

# Shared with fuzz/harness/pki.rs, serve.rs and acme_service.rs.
PASSPHRASE = b"uca fuzz passphrase"
KEY_AUTHORIZATION = "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
BASE = "https://ca.fuzz.example:8443"
ACCOUNT_SEED, NEW_KEY_SEED, STRANGER_SEED = bytes([0x11]) * 32, bytes([0x22]) * 32, bytes([0x33]) * 32
EAB_KID = "fuzz-eab"
EAB_KEY = b"uca fuzz external account MAC key, thirty-two bytes or more"
READY = ["fuzz.example.org", "www.fuzz.example.org", "192.0.2.1"]


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def write(target: str, name: str, data) -> None:
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    assert len(data) < 8192, (target, name, len(data))
    (d / name).write_bytes(data)


def fresh(target: str) -> None:
    shutil.rmtree(CORPUS / target, ignore_errors=True)


class Run:
    def __init__(self, tmp: Path, uca: str):
        self.tmp, self.uca_bin = tmp, uca

    def sh(self, *args, cwd=None, input=None, check=True):
        r = subprocess.run([str(a) for a in args], cwd=cwd or self.tmp, input=input,
                           capture_output=True, check=False)
        if check and r.returncode != 0:
            sys.exit(f"{' '.join(map(str, args))}: {r.stderr.decode()}")
        return r.stdout

    def ossl(self, *args, **kw):
        return self.sh("openssl", *args, **kw)

    def uca(self, *args, **kw):
        return self.sh(self.uca_bin, "--dir", self.tmp / "pki", *args, **kw)

    def read(self, name) -> bytes:
        return (self.tmp / name).read_bytes()

    def der(self, pem_name: str, kind: str = "x509") -> bytes:
        return self.ossl(kind, "-in", pem_name, "-outform", "DER")


def issued(r: Run, name: str) -> Path:
    found = [p.parent for p in (r.tmp / "pki").rglob("cert.pem") if p.parent.name == name]
    assert found, name
    return found[0]


def ca(r: Run):
    """The fixture CA, a code-signing signer, a revoked leaf, uca's CRLs."""
    r.uca("init", "--no-passphrase", "--name", "uca fuzz CA", "--subject", "O=uca fuzz")
    r.uca("issue", "--profile", "code-signing", "ci-build")
    r.uca("issue", "web.fuzz.example.org")
    r.uca("issue", "--key", "ed25519", "--san", "ip:192.0.2.7", "gone.fuzz.example.org")
    r.uca("crl", "--out", r.tmp / "empty.crl.pem")
    r.uca("revoke", "gone.fuzz.example.org", "--reason", "keyCompromise")
    r.uca("crl", "--out", r.tmp / "crl.pem")
    r.uca("crl", "--der", "--out", r.tmp / "crl.der")
    FIXTURES.mkdir(parents=True, exist_ok=True)
    shutil.copy(r.tmp / "pki" / "ca.crt", FIXTURES / "ca.crt")
    shutil.copy(r.tmp / "crl.pem", FIXTURES / "crl.pem")


def crl(r: Run):
    fresh("crl")
    write("crl", "uca-empty.pem", r.read("empty.crl.pem"))
    write("crl", "uca-revoked.pem", r.read("crl.pem"))
    write("crl", "uca-revoked.der", r.read("crl.der"))
    # openssl ca -gencrl with the same CA key: one entry with a reason, one with an invalidity date
    pki = r.tmp / "pki"
    db = r.tmp / "ossl-ca"
    db.mkdir()
    (db / "index.txt").write_text("")
    (db / "crlnumber").write_text("1000\n")
    (db / "ca.cnf").write_text(f"""[ca]
default_ca = fuzz
[fuzz]
database = {db}/index.txt
crlnumber = {db}/crlnumber
certificate = {pki}/ca.crt
private_key = {pki}/private/ca.key
default_md = sha256
default_crl_days = 30
crl_extensions = crl_ext
[crl_ext]
authorityKeyIdentifier = keyid:always
""")
    web = issued(r, "web.fuzz.example.org") / "cert.pem"
    r.ossl("ca", "-config", db / "ca.cnf", "-revoke", web, "-crl_reason", "superseded")
    r.ossl("ca", "-config", db / "ca.cnf", "-gencrl", "-out", "ossl.crl.pem")
    write("crl", "openssl-superseded.pem", r.read("ossl.crl.pem"))
    write("crl", "openssl-superseded.der", r.der("ossl.crl.pem", "crl"))
    # not by this CA: a CRL signed by a throwaway key
    r.ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
           "-keyout", "other.key", "-subj", "/CN=other", "-days", "3", "-out", "other.crt")
    (db / "other.cnf").write_text((db / "ca.cnf").read_text()
                                  .replace(f"{pki}/ca.crt", str(r.tmp / "other.crt"))
                                  .replace(f"{pki}/private/ca.key", str(r.tmp / "other.key")))
    r.ossl("ca", "-config", db / "other.cnf", "-gencrl", "-out", "other.crl.pem")
    write("crl", "other-issuer.pem", r.read("other.crl.pem"))
    write("crl", "truncated.der", r.read("crl.der")[:60])


def pkcs8(r: Run):
    fresh("pkcs8")
    write("pkcs8", "uca-ca-key.pem", (r.tmp / "pki" / "private" / "ca.key").read_bytes())
    write("pkcs8", "uca-ed25519-key.pem", (issued(r, "gone.fuzz.example.org") / "key.pem").read_bytes())
    for name, args in [("ec-p256", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                       ("ec-p384", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"]),
                       ("ed25519", ["-algorithm", "ED25519"]),
                       ("rsa2048", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])]:
        r.ossl("genpkey", *args, "-out", f"{name}.key")
        write("pkcs8", f"openssl-{name}.pem", r.read(f"{name}.key"))
    write("pkcs8", "openssl-ec-p256.der", r.ossl("pkcs8", "-topk8", "-nocrypt", "-in", "ec-p256.key", "-outform", "DER"))
    pw = "pass:" + PASSPHRASE.decode()
    write("pkcs8", "openssl-ec-p256-pbkdf2.pem",
          r.ossl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "ec-p256.key", "-passout", pw))
    write("pkcs8", "openssl-ed25519-scrypt.pem",
          r.ossl("pkcs8", "-topk8", "-scrypt", "-in", "ed25519.key", "-passout", pw))
    write("pkcs8", "openssl-ec-p384-pbkdf2.der",
          r.ossl("pkcs8", "-topk8", "-v2", "aes-128-cbc", "-in", "ec-p384.key", "-passout", pw, "-outform", "DER"))
    k = serialization.load_pem_private_key(r.read("ec-p256.key"), None)
    write("pkcs8", "cryptography-ec-p256-encrypted.pem", k.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE)))
    # what uca refuses: a traditional EC key, a legacy-encrypted one, the wrong passphrase
    write("pkcs8", "traditional-ec.pem", r.ossl("ec", "-in", "ec-p256.key"))
    write("pkcs8", "legacy-encrypted.pem", r.ossl("ec", "-in", "ec-p256.key", "-aes256", "-passout", pw))
    write("pkcs8", "wrong-passphrase.pem",
          r.ossl("pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in", "ec-p256.key", "-passout", "pass:other"))


def pem(r: Run):
    fresh("pem")
    cert = r.read("pki/ca.crt").decode()
    body = "".join(cert.strip().splitlines()[1:-1])
    write("pem", "uca-ca.pem", cert)
    write("pem", "crlf.pem", cert.replace("\n", "\r\n"))
    write("pem", "one-line-body.pem", f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
    write("pem", "wrapped-76.pem", "-----BEGIN CERTIFICATE-----\n"
          + "\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + "\n-----END CERTIFICATE-----\n")
    write("pem", "openssl-text-before.pem", r.ossl("x509", "-in", "pki/ca.crt", "-text"))
    write("pem", "chain-and-crl.pem", (issued(r, "web.fuzz.example.org") / "fullchain.pem").read_text()
          + r.read("crl.pem").decode())
    write("pem", "indented-body.pem", "-----BEGIN CERTIFICATE-----\n"
          + "\n".join("  " + body[i:i + 64] for i in range(0, len(body), 64)) + "\n-----END CERTIFICATE-----\n")
    write("pem", "proc-type.pem", r.ossl("ec", "-in", "ec-p256.key", "-aes256", "-passout", "pass:x"))
    write("pem", "unterminated.pem", cert.replace("-----END CERTIFICATE-----", ""))
    write("pem", "end-label-differs.pem", cert.replace("END CERTIFICATE", "END X509 CRL"))
    write("pem", "bad-base64.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")


def release(r: Run):
    """The fixture release: odd file names, a symlink; uca's manifest, sidecar, attestation."""
    dist = r.tmp / "dist"
    for name, content in [("bin/run me", "#!/bin/sh\n"), ("back\\slash.txt", "b"), ("new\nline", "n"),
                          ("caf\u00e9.txt", "utf-8"), ("cr\rname", "r"), ("plain.txt", "plain")]:
        p = dist / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    os.chmod(dist / "bin/run me", 0o755)
    os.symlink("plain.txt", dist / "current")
    rel = r.tmp / "rel"
    rel.mkdir()
    r.uca("artifact", "manifest", "--base", dist, dist, "--out", rel / "SHA256SUMS")
    r.uca("artifact", "attest", rel / "SHA256SUMS", "--cert", "ci-build", "--stage", "build")
    r.uca("artifact", "attest", rel / "SHA256SUMS", "--cert", "ci-build", "--stage", "qa")
    for name in ["SHA256SUMS", "SHA256SUMS.meta"]:
        shutil.copy(rel / name, FIXTURES / name)
    (FIXTURES / "now.txt").write_text(f"{int(time.time())}\n")
    return dist, rel


def manifest(r: Run, dist: Path, rel: Path):
    fresh("manifest")
    fresh("meta")
    write("manifest", "uca-odd-names.txt", (rel / "SHA256SUMS").read_bytes())
    plain = [p for p in sorted(dist.rglob("*")) if p.is_file() and not p.is_symlink()]
    names = [str(p.relative_to(dist)) for p in plain]
    write("manifest", "gnu-sha256sum.txt", r.sh("sha256sum", "--", *names, cwd=dist))
    write("manifest", "gnu-sha256sum-binary.txt", r.sh("sha256sum", "-b", "--", "plain.txt", "bin/run me", cwd=dist))
    h = hashlib.sha256(b"x").hexdigest()
    write("manifest", "dot-slash.txt", f"{h}  ./a/./b\n{h}  c//d\n")
    write("manifest", "uppercase.txt", f"{h.upper()}  a\n")
    write("manifest", "escapes-out.txt", f"{h}  ../etc/passwd\n")
    write("manifest", "crlf.txt", f"{h}  a\r\n")
    write("manifest", "duplicate.txt", f"{h}  a\n{h}  ./a\n")
    write("manifest", "no-newline.txt", f"{h}  a")
    write("meta", "uca.meta", (rel / "SHA256SUMS.meta").read_bytes())
    header = "# uca manifest meta v1: MODE TYPE PATH [TARGET]\n"
    write("meta", "escaped.meta", header + "0644 f a\\sb\\\\c\n0777 l link a\\tb\n0600 f x\\ny\n")
    write("meta", "bad-mode.meta", header + "0999 f a\n")
    write("meta", "no-header.meta", "0644 f a\n")
    return rel


def cms(r: Run, rel: Path):
    fresh("cms")
    write("cms", "uca-build.p7s", (rel / "SHA256SUMS.build.p7s").read_bytes())
    write("cms", "uca-qa-renamed.p7s", (rel / "SHA256SUMS.qa.p7s").read_bytes())
    signer = issued(r, "ci-build")
    common = ["cms", "-sign", "-binary", "-in", rel / "SHA256SUMS", "-signer", signer / "cert.pem",
              "-inkey", signer / "key.pem", "-certfile", r.tmp / "pki" / "ca.crt", "-md", "sha256"]
    write("cms", "openssl-der.p7s", r.ossl(*common, "-outform", "DER"))
    write("cms", "openssl-pem.p7s", r.ossl(*common, "-outform", "PEM"))
    write("cms", "openssl-noattr.p7s", r.ossl(*common, "-noattr", "-outform", "DER"))
    write("cms", "openssl-sha512.p7s", r.ossl(*common[:-2], "-md", "sha512", "-outform", "DER"))
    (r.tmp / "other.txt").write_text("another manifest\n")
    write("cms", "other-content.p7s", r.ossl(*[a if a != rel / "SHA256SUMS" else r.tmp / "other.txt" for a in common],
                                             "-outform", "DER"))
    web = issued(r, "web.fuzz.example.org")
    write("cms", "server-cert-signer.p7s", r.ossl("cms", "-sign", "-binary", "-in", rel / "SHA256SUMS",
                                                  "-signer", web / "cert.pem", "-inkey", web / "key.pem",
                                                  "-md", "sha256", "-outform", "DER"))
    write("cms", "embedded-content.p7s", r.ossl(*common, "-nodetach", "-outform", "DER"))


def toml(r: Run):
    for t in ["uca_toml", "plan", "policy", "targets"]:
        fresh(t)
    write("uca_toml", "uca-init.toml", (r.tmp / "pki" / "uca.toml").read_bytes())
    write("uca_toml", "serve-and-acme.toml", """[subject]
O = "Acme"
C = "US"

[issue]
key = "ed25519"
days = 30
profile = "server"

[san]
rules = ["{name}", "{base}.svc.internal"]

[serve]
listen = "127.0.0.1:8443"
server_names = ["ca.example.internal"]
resolver = "10.0.0.53:53"
allow_validation_to = ["127.0.0.0/8"]

[acme]
profile = "both"
profiles = ["server", "client", "both"]
days = 90
max_days = 397
allow = ["*.svc.internal", "10.0.0.0/8"]
deny = ["db.svc.internal"]
eab = "optional"
new_accounts_per_ip = "50/1h"
new_orders_per_account = "off"
failed_validations_per_identifier = "20/1h"
""")
    write("uca_toml", "bad-key.toml", '[issue]\nkey = "dsa"\n')
    write("uca_toml", "unknown-section.toml", "[bogus]\nx = 1\n")
    write("plan", "two-components.toml", """
[[component]]
name = "rmq"
count = 2
sans = ["rmq.svc.internal"]
  [[component.output]]
  format = "haproxy"
  path = "out/haproxy"
  [[component.output]]
  format = "pem-dir"
  path = "out/pem/{name}"

[[component]]
name = "web"
profile = "server"
sans = ["web.example.org"]
  [[component.output]]
  format = "nginx"
  path = "out/nginx"
""")
    write("plan", "ca-and-defaults.toml", """[ca]
name = "Plan CA"
subject = "O=Acme,C=US"
key = "ec-p384"
days = 3650

[defaults]
profile = "both"
key = "ed25519"
days = 90
renew_before = "30d"

[[component]]
name = "db"
  [[component.output]]
  format = "pem-dir"
  path = "out/db"
  key_mode = "0600"
""")
    write("plan", "bad-format.toml", '[[component]]\nname = "x"\n  [[component.output]]\n  format = "jks2"\n  path = "o"\n')
    write("policy", "two-stages.toml", """require = ["build", "qa"]
roots = ["pki/ca.crt"]
max_age = "90d"

[stages.build]
signers = ["ci-*"]

[stages.qa]
signers = ["cn:qa-bot"]
""")
    write("policy", "installed.toml", 'require = ["build"]\nroots = ["pki/ca.crt"]\ncrl = "pki/crl.pem"\n'
          'allow_stale_crl = true\nrequire_revocation = true\nmutable = ["etc/*.conf"]\n')
    write("policy", "no-root.toml", 'require = ["qa"]\n')
    write("targets", "http-and-tcp.toml", """[defaults]
ok = "99% within 300ms"
warn = "95% within 1s"
window = "10m"
interval = "10s"

[[target]]
name = "api"
url = "http://127.0.0.1:8080/health"
expect_status = [200, 204]
body = "\\"status\\":\\"ok\\""

[[target]]
name = "db"
url = "tcp://127.0.0.1:5432"

[watch]
on_change = "logger -t uca-health"
webhook = "http://127.0.0.1:9000/hooks/health"
""")
    write("targets", "regex-and-method.toml", """[[target]]
name = "mgmt"
url = "http://localhost:15672/api/health"
method = "HEAD"
timeout = "2s"

[[target]]
name = "page"
url = "http://[::1]:8000/"
body_regex = "^ok"
""")
    write("targets", "client-cert-missing.toml", '[[target]]\nname = "x"\nurl = "https://a.example:443/"\n'
          'client_cert = "certs/x.pem"\nclient_key = "certs/x.key"\n')
    write("targets", "no-target.toml", "[defaults]\ninterval = \"5s\"\n")


def csr_der(r: Run, name: str, subj: str, sans: str | None, key_args) -> bytes:
    args = ["req", "-new", *key_args, "-nodes", "-keyout", f"{name}.key", "-subj", subj]
    if sans:
        args += ["-addext", f"subjectAltName={sans}"]
    r.ossl(*args, "-outform", "DER", "-out", f"{name}.csr.der")
    return r.read(f"{name}.csr.der")


P256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
READY_SANS = "DNS:fuzz.example.org,DNS:www.fuzz.example.org,IP:192.0.2.1"


def csr_order(r: Run):
    fresh("csr_order")
    write("csr_order", "exact-p256.der", csr_der(r, "o1", "/CN=fuzz.example.org", READY_SANS, P256))
    write("csr_order", "exact-ed25519-no-cn.der", csr_der(r, "o2", "/O=uca fuzz", READY_SANS, ["-newkey", "ed25519"]))
    write("csr_order", "uppercase-names.der", csr_der(r, "o3", "/CN=WWW.fuzz.example.org",
                                                      READY_SANS.replace("www", "WWW"), P256))
    write("csr_order", "extra-name.der", csr_der(r, "o4", "/CN=fuzz.example.org", READY_SANS + ",DNS:evil.example", P256))
    write("csr_order", "missing-ip.der", csr_der(r, "o5", "/CN=fuzz.example.org",
                                                 "DNS:fuzz.example.org,DNS:www.fuzz.example.org", P256))
    write("csr_order", "cn-not-ordered.der", csr_der(r, "o6", "/CN=other.example", READY_SANS, P256))
    write("csr_order", "email-san.der", csr_der(r, "o7", "/CN=fuzz.example.org", READY_SANS + ",email:a@fuzz.example.org", P256))


def ed_key(seed: bytes):
    k = ed25519.Ed25519PrivateKey.from_private_bytes(seed)
    raw = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return k, {"kty": "OKP", "crv": "Ed25519", "x": b64(raw)}


def acme(r: Run):
    for t in ["acme_new_account", "acme_account", "acme_key_change", "acme_new_order", "acme_finalize",
              "acme_revoke", "acme_authz", "acme_challenge"]:
        fresh(t)
    dumps = lambda v: json.dumps(v, separators=(",", ":"))
    _, account_jwk = ed_key(ACCOUNT_SEED)
    _, stranger_jwk = ed_key(STRANGER_SEED)
    # newAccount: certbot's and lego's bodies, an EAB binding of the signing key, lookups
    write("acme_new_account", "certbot.json", dumps({"contact": ["mailto:ops@example.org"], "termsOfServiceAgreed": True}))
    write("acme_new_account", "lego.json", dumps({"termsOfServiceAgreed": True, "contact": ["mailto:admin@example.org"]}))
    write("acme_new_account", "empty-object.json", "{}")
    prot = b64(dumps({"alg": "HS256", "kid": EAB_KID, "url": BASE + "/acme/new-account"}).encode())
    pl = b64(dumps(stranger_jwk).encode())
    mac = hmac.new(EAB_KEY, f"{prot}.{pl}".encode(), hashlib.sha256).digest()
    write("acme_new_account", "eab.json", dumps({"termsOfServiceAgreed": True, "externalAccountBinding":
                                                 {"protected": prot, "payload": pl, "signature": b64(mac)}}))
    write("acme_new_account", "only-return-existing.json", dumps({"onlyReturnExisting": True}))
    write("acme_new_account", "bad-contact.json", dumps({"contact": ["tel:+15555550100"]}))
    # account: read, update, deactivate
    write("acme_account", "post-as-get.txt", b"")
    write("acme_account", "empty-object.json", "{}")
    write("acme_account", "certbot-update.json", dumps({"contact": ["mailto:new@example.org"]}))
    write("acme_account", "deactivate.json", dumps({"status": "deactivated"}))
    write("acme_account", "change-key-here.json", dumps({"key": account_jwk}))
    # keyChange: the inner payload (the harness signs it with the new key)
    write("acme_key_change", "rollover.json", dumps({"account": "@ACCOUNT@", "oldKey": account_jwk}))
    write("acme_key_change", "wrong-old-key.json", dumps({"account": "@ACCOUNT@", "oldKey": stranger_jwk}))
    write("acme_key_change", "other-account.json", dumps({"account": BASE + "/acme/acct/x", "oldKey": account_jwk}))
    # newOrder
    write("acme_new_order", "certbot-dns.json", dumps({"identifiers": [{"type": "dns", "value": "new.example.org"}]}))
    write("acme_new_order", "lego-with-dates.json", dumps({"identifiers": [{"type": "dns", "value": "a.example.org"},
                                                                           {"type": "dns", "value": "b.example.org"}],
                                                           "notBefore": "2026-01-01T00:00:00Z",
                                                           "notAfter": "2026-03-01T00:00:00Z"}))
    write("acme_new_order", "ip.json", dumps({"identifiers": [{"type": "ip", "value": "192.0.2.9"},
                                                              {"type": "ip", "value": "2001:db8::9"}]}))
    write("acme_new_order", "ready-names-again.json", dumps({"identifiers": [{"type": "dns", "value": n} for n in READY[:2]]}))
    write("acme_new_order", "wildcard.json", dumps({"identifiers": [{"type": "dns", "value": "*.wild.example.org"}]}))
    write("acme_new_order", "email.json", dumps({"identifiers": [{"type": "email", "value": "a@example.org"}]}))
    write("acme_new_order", "replaces.json", dumps({"identifiers": [{"type": "dns", "value": "fuzz.example.org"}],
                                                    "replaces": "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"}))
    # finalize of the ready order
    for name, key in [("p256", P256), ("ed25519", ["-newkey", "ed25519"]), ("p384", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"])]:
        write("acme_finalize", f"csr-{name}.json", dumps({"csr": b64(csr_der(r, f"f-{name}", "/CN=fuzz.example.org", READY_SANS, key))}))
    write("acme_finalize", "csr-wrong-names.json", dumps({"csr": b64(csr_der(r, "f-bad", "/CN=x.example", "DNS:x.example", P256))}))
    write("acme_finalize", "csr-padded-b64.json", dumps({"csr": base64.urlsafe_b64encode(r.read("f-p256.csr.der")).decode()}))
    # revokeCert: a certificate for the names the account holds valid authorizations for
    r.ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "rv.key",
           "-subj", "/CN=fuzz.example.org", "-addext", "subjectAltName=DNS:fuzz.example.org,DNS:www.fuzz.example.org",
           "-days", "30", "-outform", "DER", "-out", "rv.der")
    cert = b64(r.read("rv.der"))
    write("acme_revoke", "by-authorizations.json", dumps({"certificate": cert}))
    write("acme_revoke", "key-compromise.json", dumps({"certificate": cert, "reason": 1}))
    write("acme_revoke", "ca-compromise.json", dumps({"certificate": cert, "reason": 2}))
    web = issued(r, "web.fuzz.example.org") / "cert.pem"
    write("acme_revoke", "not-authorized.json", dumps({"certificate": b64(r.der(web))}))
    # authorization and challenge
    write("acme_authz", "post-as-get.txt", b"")
    write("acme_authz", "deactivate.json", dumps({"status": "deactivated"}))
    write("acme_authz", "valid.json", dumps({"status": "valid"}))
    write("acme_challenge", "post-as-get.txt", b"")
    write("acme_challenge", "respond.json", "{}")
    write("acme_challenge", "with-member.json", dumps({"keyAuthorization": "x"}))


def validation(r: Run):
    fresh("http01")
    fresh("tlsalpn01")
    ka = KEY_AUTHORIZATION
    write("http01", "exact.txt", ka)
    write("http01", "newline.txt", ka + "\n")
    write("http01", "crlf-spaces.txt", ka + " \r\n\t")
    write("http01", "other-token.txt", "x" + ka[1:])
    write("http01", "redirect-http.txt", "http://fuzz.example.org/.well-known/acme-challenge/abc")
    write("http01", "redirect-https-v6.txt", "https://[2001:db8::1]/.well-known/acme-challenge/abc")
    write("http01", "redirect-port.txt", "http://192.0.2.1:8080/")
    write("http01", "redirect-credentials.txt", "http://user:pw@fuzz.example.org/")
    digest = hashlib.sha256(ka.encode()).hexdigest()
    ext = "1.3.6.1.5.5.7.1.31=critical,DER:0420" + digest
    for name, san, e in [("dns", "DNS:alpn.example.org", ext), ("ip", "IP:192.0.2.7", ext),
                         ("non-critical", "DNS:alpn.example.org", ext.replace("critical,", "")),
                         ("two-names", "DNS:alpn.example.org,DNS:b.example.org", ext),
                         ("wrong-digest", "DNS:alpn.example.org", ext[:-4] + "0000")]:
        r.ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "alpn.key",
               "-subj", "/CN=acme-tls", "-addext", f"subjectAltName={san}", "-addext", e, "-days", "7",
               "-outform", "DER", "-out", f"alpn-{name}.der")
        write("tlsalpn01", f"{name}.der", r.read(f"alpn-{name}.der"))


def variant(i: int, n: int) -> bytes:
    """Four bytes that `arbitrary` decodes as variant i of an enum of n (u32 * n >> 32)."""
    for k in range(256):
        if (k * 0x01010101 * n) >> 32 == i:
            return bytes([k]) * 4
    raise ValueError((i, n))


def structured():
    """Inputs for the structure-aware targets, in `arbitrary`'s encoding of the structs in
    fuzz/harness/structured.rs: enums are a u32 (variant = u32 * COUNT >> 32), bools and
    Options one byte, a Vec a byte before each element (1: one more, 0: done); what is left out
    at the end reads as zeros (the first variant, false, None, empty)."""
    fresh("acme_request")
    fresh("csr_fields")
    z = variant(0, 2)  # the first variant of any enum
    # CsrSpec: key, sans (Vec), common_name, organization, ca, extension, corrupt
    dns = lambda second: variant(0, 4) + variant(0, 6) + bytes([second])
    ip = variant(1, 4) + variant(1, 6)
    ready_sans = b"\x01" + dns(0) + b"\x01" + dns(1) + b"\x01" + ip + b"\x00"
    cn = b"\x01" + variant(0, 6) + b"\x00"

    def csr(key: int, sans: bytes, with_cn: bool) -> bytes:
        return variant(key, 4) + sans + (cn if with_cn else b"\x00") + b"\x00\x00\x00"

    write("csr_fields", "p256-ready-names-cn.bin", csr(0, ready_sans, True))
    write("csr_fields", "p384-ready-names.bin", csr(1, ready_sans, False))
    write("csr_fields", "ed25519-ready-names.bin", csr(2, ready_sans, True))
    write("csr_fields", "account-key.bin", csr(3, ready_sans, False))
    write("csr_fields", "one-name.bin", csr(0, b"\x01" + dns(0) + b"\x00", False))
    write("csr_fields", "all-zero.bin", bytes(16))
    # AcmeRequest: endpoint, signer, key, alg, nonce, url, signature, content_type (enums),
    # extra_header (Vec), payload (enum: Fields, PostAsGet, Json, Raw)
    endpoints = ["new-order", "new-account", "account", "key-change", "finalize", "revoke", "authz",
                 "challenge", "order"]

    def request(endpoint: str, payload: bytes) -> bytes:
        return variant(endpoints.index(endpoint), 9) + z * 7 + b"\x00" + payload

    post_as_get = variant(1, 4)
    # Fields: identifiers, csr, certificate, reason, status, terms, only_return_existing,
    # contact, eab, not_before, not_after, replaces, profile, inner, extra
    fields = variant(0, 4)
    ident = lambda second: z + variant(0, 6) + bytes([second])
    order_fields = fields + b"\x01" + b"\x01" + ident(0) + b"\x00"
    finalize_fields = fields + b"\x00" + b"\x01" + csr(0, ready_sans, True)
    revoke_fields = fields + b"\x00\x00" + b"\x01" + csr(0, b"\x01" + dns(0) + b"\x01" + dns(1) + b"\x00", False)
    key_change_fields = fields + b"\x00" * 13 + b"\x01" + z + z + b"\x00\x00\x00"
    write("acme_request", "new-order.bin", request("new-order", order_fields))
    write("acme_request", "new-account.bin", request("new-account", fields))
    write("acme_request", "account-read.bin", request("account", post_as_get))
    write("acme_request", "key-change.bin", request("key-change", key_change_fields))
    write("acme_request", "finalize.bin", request("finalize", finalize_fields))
    write("acme_request", "revoke.bin", request("revoke", revoke_fields))
    write("acme_request", "authz-read.bin", request("authz", post_as_get))
    write("acme_request", "challenge-read.bin", request("challenge", post_as_get))
    write("acme_request", "order-read.bin", request("order", post_as_get))
    write("acme_request", "all-zero.bin", bytes(64))


def find_uca(arg):
    for c in [arg, os.environ.get("UCA_BIN"),
              os.environ.get("CARGO_TARGET_DIR") and Path(os.environ["CARGO_TARGET_DIR"]) / "debug" / "uca",
              ROOT / "target" / "debug" / "uca"]:
        if c and Path(c).is_file():
            return str(c)
    sys.exit("no uca binary: build it with `cargo build -p uca` or pass --uca PATH")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uca")
    uca = find_uca(ap.parse_args().uca)
    with tempfile.TemporaryDirectory() as tmp:
        r = Run(Path(tmp), uca)
        ca(r)
        crl(r)
        pkcs8(r)
        pem(r)
        dist, rel = release(r)
        manifest(r, dist, rel)
        cms(r, rel)
        toml(r)
        csr_order(r)
        acme(r)
        validation(r)
    structured()
    total = sum(f.stat().st_size for f in CORPUS.rglob("*") if f.is_file())
    print(f"corpus: {sum(1 for f in CORPUS.rglob('*') if f.is_file())} files, {total} bytes")


if __name__ == "__main__":
    main()
