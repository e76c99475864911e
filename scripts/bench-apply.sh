#!/usr/bin/env bash
# `uca apply` benchmark: a plan of N components × 2 outputs (pem-dir + haproxy) from scratch,
# then the no-op re-apply of the same plan, beside the obvious alternative: a shell loop calling
# `uca issue` and `uca export` twice per component (timed on LOOP components and scaled up).
#   bash scripts/bench-apply.sh [N=5000] [LOOP=200]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
loop=${2:-200}
source scripts/lib/uca-bin.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }

cat > plan.toml <<PLAN
[ca]
name = "bench apply"

[[component]]
name = "svc"
count = $n
sans = ["svc.internal"]
  [[component.output]]
  format = "pem-dir"
  path = "out/{name}"
  [[component.output]]
  format = "haproxy"
  path = "haproxy"
PLAN
"$uca" --dir pki init --no-passphrase --name "bench apply" >/dev/null 2>&1

t0=$(now); "$uca" --dir pki apply plan.toml --yes >/dev/null 2>&1; t1=$(now); fresh=$(secs "$t0" "$t1")
t0=$(now); out=$("$uca" --dir pki apply plan.toml --yes 2>&1); t1=$(now); noop=$(secs "$t0" "$t1")
echo "$out" | grep -q "nothing to do" || { echo "re-apply was not a no-op: $out" >&2; exit 1; }
files=$(find out haproxy -type f | wc -l)

"$uca" --dir loop init --no-passphrase --name "bench loop" >/dev/null 2>&1
t0=$(now)
for i in $(seq 1 "$loop"); do
  "$uca" --dir loop issue "l$i" --san svc.internal >/dev/null 2>&1
  "$uca" --dir loop export "l$i" --format pem-dir --out "lout/l$i" >/dev/null 2>&1
  "$uca" --dir loop export "l$i" --format haproxy --out lhaproxy >/dev/null 2>&1
done
t1=$(now); loop_s=$(secs "$t0" "$t1")

printf '%-60s %10s %14s\n' "what" "seconds" "components/s"
printf '%-60s %10s %14s\n' "uca apply, $n components × 2 outputs, from scratch" "$fresh" "$(awk -v n="$n" -v s="$fresh" 'BEGIN { printf "%.0f", n / s }')"
printf '%-60s %10s\n' "uca apply, the same plan again (no-op)" "$noop"
printf '%-60s %10s %14s\n' "shell loop: uca issue + 2× uca export, $loop components" "$loop_s" "$(awk -v n="$loop" -v s="$loop_s" 'BEGIN { printf "%.0f", n / s }')"
echo
echo "$files output files written; machine: $(nproc) cores, $(uname -sr)"
