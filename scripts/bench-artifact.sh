#!/usr/bin/env bash
# `uca artifact` benchmark, side by side with GNU sha256sum in the same run (page cache warm for
# both; median of 3 interleaved rounds):
#   1. one big file (SIZE_MIB, default 2048 MiB): uca artifact manifest vs sha256sum;
#   2. a tree of FILES small files of 4–64 KiB (default 50000): uca artifact manifest vs
#      find | xargs sha256sum;
#   3. uca artifact verify --content of that tree with two attestations vs the manifest time.
#   bash scripts/bench-artifact.sh [SIZE_MIB=2048] [FILES=50000]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-2048}
nfiles=${2:-50000}
source scripts/lib/uca-bin.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
now() { date +%s%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
timed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1; t1=$(now); secs "$t0" "$t1"; }

echo "preparing: one ${size_mib} MiB file, ${nfiles} files of 4-64 KiB" >&2
mkdir big
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > big/blob
python3 - "$nfiles" <<'PY'
import os, random, sys
n = int(sys.argv[1]); rnd = random.Random(42); buf = os.urandom(64 * 1024)
for i in range(n):
    d = f"tree/d{i % 200:03d}/s{(i // 200) % 10}"
    os.makedirs(d, exist_ok=True)
    size = rnd.randint(4 * 1024, 64 * 1024)
    with open(f"{d}/f{i:06d}.bin", "wb") as f:
        f.write(buf[:size])
PY
tree_bytes=$(du -sb tree | cut -f1)
"$uca" --dir pki init --no-passphrase --name "bench artifact" >/dev/null 2>&1
"$uca" --dir pki issue builder qa --profile code-signing >/dev/null 2>&1
# Warm the page cache for everyone.
cat big/blob > /dev/null; find tree -type f -print0 | xargs -0 cat > /dev/null

big_uca=(); big_sum=(); big_ossl=(); tree_uca=(); tree_sum=(); tree_ver=()
for round in 1 2 3; do
  big_sum+=("$(timed sha256sum big/blob)")
  big_ossl+=("$(timed openssl dgst -sha256 big/blob)")
  big_uca+=("$(timed "$uca" artifact manifest big/blob)")
  tree_sum+=("$(timed sh -c 'find tree -type f -print0 | xargs -0 sha256sum')")
  rm -f M M.*
  tree_uca+=("$(timed "$uca" artifact manifest tree --out M)")
  if [ "$round" = 1 ]; then
    "$uca" --dir pki artifact attest M --cert builder --stage build >/dev/null
    "$uca" --dir pki artifact attest M --cert qa --stage qa >/dev/null
    cp M keep.m; cp M.meta keep.meta; cp M.build.p7s keep.b; cp M.qa.p7s keep.q
  else
    cmp -s M keep.m || { echo "manifest differs between rounds" >&2; exit 1; }
    cp keep.meta M.meta; cp keep.b M.build.p7s; cp keep.q M.qa.p7s
  fi
  tree_ver+=("$(timed "$uca" --dir pki artifact verify M --require build,qa --content .)")
done
"$uca" --dir pki artifact verify M --require build,qa --content . >/dev/null 2>&1 \
  || { echo "verify did not pass" >&2; exit 1; }

bs=$(median "${big_sum[@]}"); bu=$(median "${big_uca[@]}"); bo=$(median "${big_ossl[@]}")
ts=$(median "${tree_sum[@]}"); tu=$(median "${tree_uca[@]}"); tv=$(median "${tree_ver[@]}")
mbs() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", b / s / 1e6 }'; }
big_bytes=$((size_mib * 1024 * 1024))
echo
echo "| median of 3, page cache warm | seconds | MB/s | files/s |"
echo "|---|---|---|---|"
echo "| sha256sum, one ${size_mib} MiB file | $bs | $(mbs "$big_bytes" "$bs") | |"
echo "| openssl dgst -sha256, same file (SHA extensions, for reference) | $bo | $(mbs "$big_bytes" "$bo") | |"
echo "| uca artifact manifest, same file | $bu | $(mbs "$big_bytes" "$bu") | |"
echo "| find \\| xargs sha256sum, ${nfiles} files | $ts | $(mbs "$tree_bytes" "$ts") | $(awk -v n="$nfiles" -v s="$ts" 'BEGIN { printf "%.0f", n / s }') |"
echo "| uca artifact manifest, same tree | $tu | $(mbs "$tree_bytes" "$tu") | $(awk -v n="$nfiles" -v s="$tu" 'BEGIN { printf "%.0f", n / s }') |"
echo "| uca artifact verify --content, 2 attestations | $tv | $(mbs "$tree_bytes" "$tv") | $(awk -v n="$nfiles" -v s="$tv" 'BEGIN { printf "%.0f", n / s }') |"
echo
awk -v bs="$bs" -v bu="$bu" -v ts="$ts" -v tu="$tu" -v tv="$tv" 'BEGIN {
  printf "big file: uca/sha256sum throughput %.2fx (target >= 0.95x)\n", bs / bu
  printf "small files: uca/sha256sum rate %.2fx (target >= 1.6x)\n", ts / tu
  printf "verify --content / manifest time: %.2f (target <= 1.10)\n", tv / tu
}'
echo "runs: big sha256sum ${big_sum[*]} / uca ${big_uca[*]}; tree sha256sum ${tree_sum[*]} / uca ${tree_uca[*]} / verify ${tree_ver[*]}"
