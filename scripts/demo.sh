#!/usr/bin/env bash
# The main job with embedded defaults: build uca, create a demo CA, issue rmq1..rmq3 (which
# also answer as "rmq") and a client certificate, and show how to check them with openssl.
#   bash scripts/demo.sh [DIR]      (default DIR: ./demo-pki)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p uca --quiet
uca="${CARGO_TARGET_DIR:-$PWD/target}/release/uca"
dir=${1:-./demo-pki}
pass="$dir.pass"

if [ -e "$dir" ]; then
  echo "demo CA already exists at $dir; listing it (remove $dir, $dir-release and $pass to start over)" >&2
else
  "$uca" --dir "$dir" init --name "uca demo root" --subject "O=uca demo" \
    --generate-passphrase --passphrase-out "$pass"
  "$uca" --dir "$dir" issue rmq1 rmq2 rmq3 --san 127.0.0.1 --passphrase-file "$pass"
  "$uca" --dir "$dir" issue ops-client --profile client --passphrase-file "$pass"
  "$uca" --dir "$dir" issue release-bot --profile code-signing --passphrase-file "$pass"
  # Chain of custody: a manifest of a (tiny) release, attested by the build stage.
  mkdir -p "$dir-release/dist/bin"
  printf '#!/bin/sh\necho hello\n' > "$dir-release/dist/bin/hello" && chmod 755 "$dir-release/dist/bin/hello"
  "$uca" artifact manifest --base "$dir-release/dist" "$dir-release/dist" --out "$dir-release/SHA256SUMS"
  "$uca" --dir "$dir" artifact attest "$dir-release/SHA256SUMS" --cert release-bot --stage build
fi
echo
if [ -f "$dir-release/SHA256SUMS" ]; then
  "$uca" --dir "$dir" artifact verify "$dir-release/SHA256SUMS" --require build --content "$dir-release/dist"
fi
echo
"$uca" --dir "$dir" list
cat <<TXT

Where everything is:
  $dir/ca.crt                    the root certificate: give it to every peer as the trust anchor
  $dir/private/ca.key            the root key, encrypted (passphrase in $pass, mode 0400)
  $dir/issued/NAME/              cert.pem, key.pem (0600), chain.pem, fullchain.pem per NAME
  $dir/uca.toml                  subject defaults and SAN rules
  $dir/ledger.sqlite             every certificate ever signed

Check it with OpenSSL:
  openssl verify -CAfile $dir/ca.crt $dir/issued/rmq1/cert.pem
  openssl x509 -in $dir/issued/rmq1/cert.pem -noout -text | grep -A1 'Subject Alternative Name'
  openssl pkey -in $dir/private/ca.key -passin file:$pass -noout && echo "CA key decrypts"
  # a mutual-TLS handshake, rmq1 as server, ops-client as client:
  openssl s_server -accept 8443 -cert $dir/issued/rmq1/cert.pem -key $dir/issued/rmq1/key.pem \\
      -CAfile $dir/ca.crt -Verify 1 -www &
  curl --cacert $dir/ca.crt --cert $dir/issued/ops-client/cert.pem --key $dir/issued/ops-client/key.pem \\
      --resolve rmq:8443:127.0.0.1 https://rmq:8443/ | grep 'Verify return code'
  # the same endpoint, judged Green/Yellow/Red (Nagios line and exit code):
  $uca --dir $dir health check https://127.0.0.1:8443/ --client-cert ops-client

Chain of custody, with stock tools only:
  (cd $dir-release/dist && sha256sum -c ../SHA256SUMS)
  openssl cms -verify -binary -inform DER -in $dir-release/SHA256SUMS.build.p7s \\
      -content $dir-release/SHA256SUMS -CAfile $dir/ca.crt -purpose any -out /dev/null
TXT
