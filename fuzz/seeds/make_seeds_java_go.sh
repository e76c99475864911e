#!/usr/bin/env bash
# Adds seeds made by Java's keytool and by Go's crypto/x509 (Caddy's local CA, the step-ca
# library) to the csr, certificate and pkcs8 corpora: inputs uca meets from JVM services and
# from Go tooling, whose DER encoders make their own choices.
#   bash fuzz/seeds/make_seeds_java_go.sh
set -euo pipefail
corpus="$(cd "$(dirname "$0")/.." && pwd)/corpus"
work=$(mktemp -d)
trap 'kill "${caddy_pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"

# keytool: an EC and an RSA key pair, their self-signed certificates and their CSRs.
for alg in EC:256 RSA:2048; do
  kind=${alg%%:*}; size=${alg##*:}; name=keytool-$(tr A-Z a-z <<<"$kind")
  keytool -genkeypair -keystore ks.p12 -storetype PKCS12 -storepass changeit -alias "$kind" \
    -keyalg "$kind" -keysize "$size" -dname "CN=svc.example.org, O=Fuzz" \
    -ext san=dns:svc.example.org,ip:192.0.2.7 -validity 30 >/dev/null 2>&1
  keytool -certreq -keystore ks.p12 -storepass changeit -alias "$kind" \
    -ext san=dns:svc.example.org,ip:192.0.2.7 -file "$corpus/csr/$name.pem" 2>/dev/null
  keytool -exportcert -keystore ks.p12 -storepass changeit -alias "$kind" -rfc \
    -file "$corpus/certificate/$name.pem" >/dev/null 2>&1
  keytool -exportcert -keystore ks.p12 -storepass changeit -alias "$kind" \
    -file "$corpus/certificate/$name.der" >/dev/null 2>&1
done

# Go: Caddy's local CA writes a root and an intermediate (crypto/x509) and their keys.
if command -v caddy >/dev/null; then
  mkdir -p data
  cat > Caddyfile <<'CADDY'
{
  admin off
  storage file_system ./data
  skip_install_trust
}
https://127.0.0.1:18443 {
  tls internal
  respond "ok"
}
CADDY
  XDG_DATA_HOME=$PWD/xdg caddy run --config Caddyfile --adapter caddyfile >caddy.log 2>&1 &
  caddy_pid=$!
  for _ in $(seq 50); do
    [ -n "$(find data/certificates -name '*.crt' 2>/dev/null)" ] && break
    sleep 0.2
  done
  kill "$caddy_pid"; wait "$caddy_pid" 2>/dev/null || true
  cp data/pki/authorities/local/root.crt "$corpus/certificate/go-caddy-root.pem"
  cp data/pki/authorities/local/intermediate.crt "$corpus/certificate/go-caddy-intermediate.pem"
  cp data/pki/authorities/local/intermediate.key "$corpus/pkcs8/go-caddy-intermediate.key"
  leaf=$(find data/certificates -name '*.crt' | head -1)
  cp "$leaf" "$corpus/certificate/go-caddy-leaf.pem"
  cp "${leaf%.crt}.key" "$corpus/pkcs8/go-caddy-leaf.key"
fi
