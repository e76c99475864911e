#!/usr/bin/env bash
# Issuance benchmark: uca against the one-process-per-certificate tools people script today.
# Every certificate: fresh ECDSA P-256 key, 3 SANs (svcK.internal, svc.internal, IP 127.0.0.1),
# signed by a P-256 CA. Every case runs ROUNDS times, interleaved, and the table shows the median
# round (this class of VM has noisy file-creation costs; the spread is printed too).
#   bash scripts/bench.sh [BATCH=1000] [PROCS=100] [ROUNDS=3]
# Needs openssl and certtool (Debian: gnutls-bin, installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
batch=${1:-1000}
procs=${2:-100}
rounds=${3:-3}
if ! command -v certtool >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq gnutls-bin
fi
source scripts/lib/uca-bin.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s%N; }
declare -A secs   # case -> space-separated seconds per round

# --- CAs -------------------------------------------------------------------------------
export UCA_PASSPHRASE="bench passphrase for the encrypted CA"
"$uca" --dir plain init --no-passphrase --name "bench CA" >/dev/null 2>&1
"$uca" --dir enc init --name "bench CA" >/dev/null 2>&1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl-ca.key -out ossl-ca.crt \
  -subj "/CN=bench CA" -days 3650 -addext basicConstraints=critical,CA:TRUE \
  -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile gt-ca.key 2>/dev/null
printf 'cn = "bench CA"\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 3650\n' > gt-ca.tmpl
certtool --generate-self-signed --load-privkey gt-ca.key --template gt-ca.tmpl --outfile gt-ca.crt 2>/dev/null

timed() { # timed CASE COMMAND...: runs the command, appends its wall seconds to secs[CASE]
  local c=$1; shift
  local t0 t1; t0=$(now); "$@"; t1=$(now)
  secs[$c]="${secs[$c]:-} $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')"
}
uca_batch() { # DIR ROUND
  local names=(); for i in $(seq 1 "$batch"); do names+=("r$2svc$i.internal"); done
  "$uca" --dir "$1" issue "${names[@]}" --san 127.0.0.1 >/dev/null 2>&1
}
uca_procs() { # DIR ROUND
  for i in $(seq 1 "$procs"); do "$uca" --dir "$1" issue "r$2p$i.internal" --san 127.0.0.1 >/dev/null 2>&1; done
}
certtool_procs() { # ROUND
  for i in $(seq 1 "$procs"); do
    printf 'cn = "gt%s.internal"\ndns_name = "gt%s.internal"\ndns_name = "gt.internal"\nip_address = "127.0.0.1"\ntls_www_server\ntls_www_client\nsigning_key\nexpiration_days = 397\n' "$i" "$i" > t.tmpl
    certtool --generate-privkey --key-type ecdsa --curve secp256r1 --outfile "gt$1-$i.key" 2>/dev/null
    certtool --generate-certificate --load-privkey "gt$1-$i.key" --load-ca-certificate gt-ca.crt \
      --load-ca-privkey gt-ca.key --template t.tmpl --outfile "gt$1-$i.crt" 2>/dev/null
  done
}
openssl_procs() { # ROUND
  for i in $(seq 1 "$procs"); do
    openssl req -x509 -CA ossl-ca.crt -CAkey ossl-ca.key -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
      -keyout "o$1-$i.key" -out "o$1-$i.crt" -subj "/CN=o$i.internal" -days 397 \
      -addext "subjectAltName=DNS:o$i.internal,DNS:o.internal,IP:127.0.0.1" \
      -addext "extendedKeyUsage=serverAuth,clientAuth" 2>/dev/null
  done
}

for r in $(seq 1 "$rounds"); do
  timed batch uca_batch plain "$r"
  timed batch_enc uca_batch enc "$r"
  timed procs uca_procs plain "$r"
  timed procs_enc uca_procs enc "$r"
  timed certtool certtool_procs "$r"
  timed openssl openssl_procs "$r"
done

# The output is what it claims to be.
openssl verify -CAfile plain/ca.crt "plain/issued/r1svc$batch.internal/cert.pem" >/dev/null
openssl x509 -in "plain/issued/r1svc$batch.internal/cert.pem" -noout -ext subjectAltName | tail -1 >&2

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
spread() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { printf "%.2f-%.2f s", v[1], v[NR] }'; }
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
ms() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.2f", 1000 * s / n }'; }
line() { # LABEL CASE COUNT
  local m; m=$(median "${secs[$2]}")
  printf '%-50s %6s %9s %9s   %s\n' "$1" "$3" "$(rate "$3" "$m")" "$(ms "$3" "$m")" "$(spread "${secs[$2]}")"
}
printf '%-50s %6s %9s %9s   %s\n' "median of $rounds rounds" certs certs/s ms/cert "rounds"
line "uca issue: $batch certs in one process" batch "$batch"
line "uca issue: $batch certs, encrypted CA key" batch_enc "$batch"
line "uca issue: $procs processes, unencrypted CA key" procs "$procs"
line "uca issue: $procs processes, encrypted CA key" procs_enc "$procs"
line "certtool: keygen + sign per certificate" certtool "$procs"
line "openssl req -x509 -CA per certificate" openssl "$procs"
echo
b=$(median "${secs[batch]}"); p=$(median "${secs[procs]}"); pe=$(median "${secs[procs_enc]}")
c=$(median "${secs[certtool]}"); o=$(median "${secs[openssl]}")
echo "ratios: uca batch / certtool = $(awk -v b="$b" -v c="$c" -v n="$batch" -v m="$procs" 'BEGIN { printf "%.1f", (n / b) / (m / c) }')x;" \
  "uca per process / certtool = $(awk -v p="$p" -v c="$c" 'BEGIN { printf "%.2f", c / p }')x;" \
  "uca per process / openssl = $(awk -v p="$p" -v o="$o" 'BEGIN { printf "%.2f", o / p }')x"
echo "encrypted CA key: PBES2 scrypt N=2^14 r=8 p=1 + AES-256-CBC; unlocking adds $(awk -v a="$pe" -v b="$p" -v n="$procs" 'BEGIN { printf "%.1f", 1000 * (a - b) / n }') ms" \
  "per process (deliberate); everything else per process: $(ms "$procs" "$p") ms, including the shell's fork+exec"
echo "uca's figures include the ledger and durable files (one filesystem sync per call); certtool and openssl do not sync."
echo "machine: $(nproc) cores, $(uname -sr)"
