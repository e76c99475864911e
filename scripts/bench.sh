#!/usr/bin/env bash
# Issuance benchmark: uca against the one-process-per-certificate tools people script today.
# Every certificate: fresh ECDSA P-256 key, 3 SANs (svcK.internal, svc.internal, IP 127.0.0.1),
# signed by a P-256 CA. Prints a table. Needs: openssl, certtool (Debian: gnutls-bin).
#   bash scripts/bench.sh [BATCH=1000] [PROCS=100]
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-1000}
procs=${2:-100}
if ! command -v certtool >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gnutls-bin
fi
cargo build --release --quiet
uca=$PWD/target/release/uca
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s.%N; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ms() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", 1000 * s / n }'; }
rows=()
row() { rows+=("$(printf '%-52s %8s %12s %12s' "$1" "$2" "$3" "$4")"); }

# --- CAs -------------------------------------------------------------------------------
export UCA_PASSPHRASE="bench passphrase for the encrypted CA"
"$uca" --dir plain init --no-passphrase --name "bench CA" >/dev/null 2>&1
"$uca" --dir enc init --name "bench CA" >/dev/null 2>&1
for d in plain enc; do sed -i 's/^rules = .*/rules = ["{name}", "{base}"]/' $d/uca.toml; done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl-ca.key -out ossl-ca.crt \
  -subj "/CN=bench CA" -days 3650 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile gt-ca.key 2>/dev/null
cat > gt-ca.tmpl <<T
cn = "bench CA"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
T
certtool --generate-self-signed --load-privkey gt-ca.key --template gt-ca.tmpl --outfile gt-ca.crt 2>/dev/null

# --- uca: one process, the whole batch ---------------------------------------------------
names=(); for i in $(seq 1 "$batch"); do names+=("svc$i.internal"); done
t0=$(now); "$uca" --dir plain issue "${names[@]}" --san 127.0.0.1 >/dev/null 2>&1; t1=$(now)
s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
uca_batch_rate=$(rate "$batch" "$s")
row "uca issue: $batch certs in one process" "$batch" "$uca_batch_rate" "$(ms "$batch" "$s")"
t0=$(now); "$uca" --dir enc issue "${names[@]}" --san 127.0.0.1 >/dev/null 2>&1; t1=$(now)
s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
row "uca issue: $batch certs, encrypted CA key" "$batch" "$(rate "$batch" "$s")" "$(ms "$batch" "$s")"

# --- uca: one process per certificate ------------------------------------------------------
t0=$(now)
for i in $(seq 1 "$procs"); do "$uca" --dir plain issue "p$i.internal" --san 127.0.0.1 >/dev/null 2>&1; done
t1=$(now); s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
uca_proc_rate=$(rate "$procs" "$s"); uca_proc_ms=$(ms "$procs" "$s")
row "uca issue: $procs processes, unencrypted CA key" "$procs" "$uca_proc_rate" "$uca_proc_ms"
t0=$(now)
for i in $(seq 1 "$procs"); do "$uca" --dir enc issue "p$i.internal" --san 127.0.0.1 >/dev/null 2>&1; done
t1=$(now); s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
enc_ms=$(ms "$procs" "$s")
row "uca issue: $procs processes, encrypted CA key" "$procs" "$(rate "$procs" "$s")" "$enc_ms"

# --- GnuTLS certtool: keygen + sign, two processes per certificate -------------------------
t0=$(now)
for i in $(seq 1 "$procs"); do
  printf 'cn = "gt%s.internal"\ndns_name = "gt%s.internal"\ndns_name = "gt.internal"\nip_address = "127.0.0.1"\ntls_www_server\ntls_www_client\nsigning_key\nexpiration_days = 397\n' "$i" "$i" > t.tmpl
  certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "gt$i.key" 2>/dev/null
  certtool --generate-certificate --load-privkey "gt$i.key" --load-ca-certificate gt-ca.crt \
    --load-ca-privkey gt-ca.key --template t.tmpl --outfile "gt$i.crt" 2>/dev/null
done
t1=$(now); s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
certtool_rate=$(rate "$procs" "$s")
row "certtool: keygen + sign per certificate" "$procs" "$certtool_rate" "$(ms "$procs" "$s")"

# --- OpenSSL: one req -x509 -CA per certificate ---------------------------------------------
t0=$(now)
for i in $(seq 1 "$procs"); do
  openssl req -x509 -CA ossl-ca.crt -CAkey ossl-ca.key -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout "o$i.key" -out "o$i.crt" -subj "/CN=o$i.internal" -days 397 \
    -addext "subjectAltName=DNS:o$i.internal,DNS:o.internal,IP:127.0.0.1" \
    -addext "extendedKeyUsage=serverAuth,clientAuth" 2>/dev/null
done
t1=$(now); s=$(awk -v a="$t0" -v b="$t1" 'BEGIN{print b-a}')
openssl_rate=$(rate "$procs" "$s")
row "openssl req -x509 -CA per certificate" "$procs" "$openssl_rate" "$(ms "$procs" "$s")"

# --- sanity: the batch output is what it claims ---------------------------------------------
openssl verify -CAfile plain/ca.crt "plain/issued/svc$batch.internal/cert.pem" >/dev/null
openssl x509 -in "plain/issued/svc$batch.internal/cert.pem" -noout -ext subjectAltName | tail -1 >&2

printf '%-52s %8s %12s %12s\n' "what" "certs" "certs/s" "ms/cert"
printf '%s\n' "${rows[@]}"
echo
kdf_ms=$(awk -v a="$enc_ms" -v b="$uca_proc_ms" 'BEGIN{printf "%.2f", a-b}')
echo "ratios (same run): uca batch / certtool = $(awk -v a="$uca_batch_rate" -v b="$certtool_rate" 'BEGIN{printf "%.1f", a/b}')x;" \
  "uca per-process / certtool = $(awk -v a="$uca_proc_rate" -v b="$certtool_rate" 'BEGIN{printf "%.2f", a/b}')x;" \
  "uca per-process / openssl = $(awk -v a="$uca_proc_rate" -v b="$openssl_rate" 'BEGIN{printf "%.2f", a/b}')x"
echo "encrypted CA key: PBES2 scrypt N=2^14 r=8 p=1 + AES-256-CBC; unlocking costs ~${kdf_ms} ms per process (deliberate);" \
  "everything else per process: ${uca_proc_ms} ms"
echo "uca's figures include the ledger (SQLite, synchronous=FULL) and durable files (fsync'd); certtool and openssl do not sync."
echo "machine: $(nproc) cores, $(uname -sr)"
