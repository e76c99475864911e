#!/usr/bin/env bash
# Lifecycle benchmark: a CRL of N revoked entries and `uca expiring` over a ledger of N
# certificates, side by side with the obvious alternatives (`openssl ca -gencrl` over an
# index.txt of N revocations; a shell loop of `openssl x509 -checkend` over certificate files).
# The ledgers are filled with SQL (sqlite3) from one real certificate: issuing N certificates
# is measured by scripts/bench.sh, not here.
#   bash scripts/bench-lifecycle.sh [N=100000] [LOOP=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
loop=${2:-1000}
command -v sqlite3 >/dev/null 2>&1 || {
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq sqlite3
}
source scripts/lib/uca-bin.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

# Two CAs, each with one real certificate whose PEM the synthetic rows reuse.
for d in crl exp; do
  "$uca" --dir $d init --no-passphrase --name "bench $d" >/dev/null 2>&1
  "$uca" --dir $d issue seed.internal >/dev/null 2>&1
  "$uca" --dir $d list >/dev/null   # settles the WAL
done
fill() { # DIR STATUS
  sqlite3 "$1/ledger.sqlite" >/dev/null <<SQL
PRAGMA journal_mode=WAL;
WITH RECURSIVE i(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM i WHERE k < $n)
INSERT INTO certificates (serial, name, profile, key_type, sans, not_before, not_after, fingerprint, status,
                          source, created_at, updated_at, superseded_by, revoked_at, revocation_reason, cert_pem)
SELECT printf('7e%030x', k), 'svc' || k || '.internal', 'both', 'ec-p256',
       '["DNS:svc' || k || '.internal","DNS:svc.internal"]',
       unixepoch() - 3600, unixepoch() + 86400 * (1 + k % 400), 'fp-' || k, '$2', 'issue',
       unixepoch(), unixepoch(), NULL,
       CASE WHEN '$2' = 'revoked' THEN unixepoch() - k ELSE NULL END,
       CASE WHEN '$2' = 'revoked' THEN 'keyCompromise' ELSE NULL END,
       (SELECT cert_pem FROM certificates WHERE name = 'seed.internal')
FROM i;
SQL
}
fill crl revoked
fill exp issued

# --- CRL of N entries: uca vs openssl ca -gencrl ----------------------------------------
t0=$(now); "$uca" --dir crl crl --days 7 >/dev/null 2>&1; t1=$(now); uca_crl=$(secs "$t0" "$t1")
t0=$(now); "$uca" --dir crl crl --days 7 >/dev/null 2>&1; t1=$(now); uca_crl2=$(secs "$t0" "$t1")
uca_crl_size=$(stat -c %s crl/crl.pem)
"$uca" --dir crl crl --days 7 --der --out crl.der >/dev/null 2>&1
uca_der_size=$(stat -c %s crl.der)
openssl crl -in crl/crl.pem -CAfile crl/ca.crt -noout -verify 2>&1 | grep -q "verify OK"
entries=$(openssl crl -in crl/crl.pem -noout -text | grep -c "Serial Number")

mkdir -p ossl/newcerts
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ossl/ca.key -out ossl/ca.crt \
  -subj "/CN=bench openssl" -days 3650 2>/dev/null
revdate=$(date -u +%y%m%d%H%M%SZ)
awk -v n="$n" -v r="$revdate" 'BEGIN { for (k = 1; k <= n; k++) printf "R\t301231235959Z\t%s,keyCompromise\t7E%030X\tunknown\t/CN=svc%d.internal\n", r, k, k }' > ossl/index.txt
echo 01 > ossl/crlnumber
cat > ossl/ca.cnf <<CNF
[ ca ]
default_ca = bench
[ bench ]
database = $work/ossl/index.txt
crlnumber = $work/ossl/crlnumber
certificate = $work/ossl/ca.crt
private_key = $work/ossl/ca.key
default_md = sha256
default_crl_days = 7
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
CNF
t0=$(now); openssl ca -config ossl/ca.cnf -gencrl -out ossl/crl.pem 2>/dev/null; t1=$(now); ossl_crl=$(secs "$t0" "$t1")
ossl_crl_size=$(stat -c %s ossl/crl.pem)

# --- expiry over N: uca expiring vs a loop of openssl x509 -checkend over LOOP files -------
t0=$(now); "$uca" --dir exp expiring --summary >/dev/null || true; t1=$(now); uca_exp=$(secs "$t0" "$t1")
t0=$(now); "$uca" --dir exp expiring --json >/dev/null || true; t1=$(now); uca_exp_json=$(secs "$t0" "$t1")
mkdir -p files
for k in $(seq 1 "$loop"); do cp exp/issued/seed.internal/cert.pem "files/c$k.pem"; done
t0=$(now)
for f in files/*.pem; do openssl x509 -in "$f" -noout -checkend $((30 * 86400)) >/dev/null || true; done
t1=$(now); loop_exp=$(secs "$t0" "$t1")
loop_per=$(awk -v s="$loop_exp" -v l="$loop" -v n="$n" 'BEGIN { printf "%.1f", s / l * n }')

printf '%-58s %10s %12s\n' "what ($n entries)" "seconds" "size"
printf '%-58s %10s %12s\n' "uca crl (PEM), first run / second run" "$uca_crl / $uca_crl2" "$uca_crl_size B"
printf '%-58s %10s %12s\n' "uca crl --der" "" "$uca_der_size B"
printf '%-58s %10s %12s\n' "openssl ca -gencrl over index.txt" "$ossl_crl" "$ossl_crl_size B"
printf '%-58s %10s\n' "uca expiring --summary" "$uca_exp"
printf '%-58s %10s\n' "uca expiring --json" "$uca_exp_json"
printf '%-58s %10s\n' "openssl x509 -checkend loop, $loop files (x$((n / loop)) = $n)" "$loop_exp ($loop_per)"
echo
echo "the uca CRL verifies with openssl and lists $entries entries"
echo "machine: $(nproc) cores, $(uname -sr)"
