#!/usr/bin/env bash
# ACME server benchmark: `uca serve` against Caddy's `acme_server` (the step-ca library, bbolt) in
# the same run, on 127.0.0.1. Every order is the same work for both servers: a new P-256 account
# key and newAccount, newOrder, the http-01 challenge (validated on port 80, where the client
# listens, for the identifier `localhost`, which both servers resolve through the system resolver,
# i.e. /etc/hosts), finalize and the certificate download. Two clients: N sequential `lego run`s
# with a fresh --path each (what a user's script does; each run pays lego's start-up and a fixed
# 1/18 s sleep before it fetches authorizations, a floor no server removes), and N orders from one
# python3-acme process (scripts/lib/acme-orders.py: no start-up, 20 ms polls). The two servers are
# both up, fresh (uca: a new `uca init --no-passphrase` CA, whose ledger commits are part of what is
# measured; Caddy: a new data directory, bbolt), and are driven one after the other, never at the
# same time, ROUNDS times interleaved (this 2-core VM is shared and noisy). Printed per server and
# client, pooled over the rounds: orders/s (orders / the sum of their wall times), median/min/max
# per order, the server's CPU per order (user+sys of all its threads, /proc/PID/stat) and its own
# handling time per order (the sum of per-request durations from its log: uca's request log,
# Caddy's access log); then, from one more pass of N lego runs with `strace -f -c` attached to the
# running server (tracing overhead stays out of the timed passes), fsync and fdatasync calls per
# order, and both servers' mean time per kind of request. Then the concurrent phase: uca-loadgen
# (crates/uca-loadgen, instant-acme; built with the same profile as uca) with C workers (each one
# account and one kept-alive connection, orders back to back) runs LOADGEN_ORDERS orders against
# uca and LOADGEN_CADDY_ORDERS against Caddy (fewer: it is slower; rates are compared, not
# totals), ROUNDS times interleaved: orders/s, p50/p99 latency (newOrder to certificate in hand,
# pooled over the rounds), each server's CPU per order and the generator's over exactly the order
# phase, and the servers' peak RSS in that phase (VmHWM, reset through /proc/PID/clear_refs when
# the order phase starts). Needs root (or CAP_NET_BIND_SERVICE) and a free 127.0.0.1:80; lego,
# caddy, strace, curl and python3-acme are installed from Debian when missing.
#   bash scripts/bench-serve.sh [N=20] [ROUNDS=3]
#   env: LOADGEN_CONCURRENCY=32 LOADGEN_ORDERS=500 LOADGEN_CADDY_ORDERS=160; LOADGEN_ONLY=1 runs
#   the concurrent phase alone; LOADGEN_BIN=PATH uses a built uca-loadgen (else it is built like
#   uca: UCA_PROFILE, default dist)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
n=${1:-20}
rounds=${2:-3}
lg_c=${LOADGEN_CONCURRENCY:-32}
lg_n_uca=${LOADGEN_ORDERS:-500}
lg_n_caddy=${LOADGEN_CADDY_ORDERS:-160}

missing=()
command -v lego >/dev/null 2>&1 || missing+=(lego)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v curl >/dev/null 2>&1 || missing+=(curl)
/usr/bin/python3 -c 'import acme, josepy' >/dev/null 2>&1 || missing+=(python3-acme)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  # Debian's caddy package starts caddy.service on port 80; port 80 is the client's here.
  if [[ " ${missing[*]} " == *" caddy "* ]] && command -v systemctl >/dev/null 2>&1; then
    $sudo systemctl disable --now caddy >/dev/null 2>&1 || true
  fi
fi
/usr/bin/python3 -c 'import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 80))' 2>/dev/null || {
  echo "bench-serve: cannot bind 127.0.0.1:80 (in use, or not root); the ACME clients answer http-01 there" >&2
  exit 2
}
getent ahostsv4 localhost | grep -q '^127\.' || { echo "bench-serve: localhost does not resolve to 127.0.0.0/8" >&2; exit 2; }

source scripts/lib/uca-bin.sh
if [ -n "${LOADGEN_BIN:-}" ]; then
  loadgen=$(realpath "$LOADGEN_BIN")
else
  # Nothing to do when uca-bin.sh just built the workspace (uca-loadgen is a member).
  cargo build --profile "${UCA_PROFILE:-dist}" -p uca-loadgen --quiet
  loadgen="${CARGO_TARGET_DIR:-$PWD/target}/${UCA_PROFILE:-dist}/uca-loadgen"
fi
[ -x "$loadgen" ] || { echo "not an executable: $loadgen" >&2; exit 2; }
work=$(mktemp -d)
declare -A pid
strace_pid=""
cleanup() {
  [ -n "$strace_pid" ] && kill -INT "$strace_pid" 2>/dev/null || true
  for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pid[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
fs=$(stat -f -c %T .)
[ "$fs" = tmpfs ] && echo "bench-serve: warning: $work is on tmpfs, where syncs cost nothing (set TMPDIR)" >&2

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
now() { date +%s%N; }
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }   # user+sys of all threads, clock ticks
hz=$(getconf CLK_TCK)
wait_ready() { # SIDE: until the directory answers
  for _ in $(seq 300); do
    if [ -s "${ca[$1]}" ] && curl -sf --cacert "${ca[$1]}" "${url[$1]}" >/dev/null 2>&1; then return 0; fi
    kill -0 "${pid[$1]}" 2>/dev/null || { echo "$1 exited:" >&2; cat "$1.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "$1 not ready after 30 s:" >&2; cat "$1.log" >&2; exit 1
}

# --- the servers -------------------------------------------------------------------------------
declare -A url ca reqlog
# (a) uca serve: a fresh CA; EAB is off on loopback; validation may reach 127.0.0.0/8.
"$uca" --dir ucadir init --no-passphrase --name "bench serve CA" >/dev/null 2>&1
# Every lego run and every generator worker is a new account from 127.0.0.1: more than the default
# 50 per hour per address, and Caddy has no such limit.
printf '\n[acme]\nnew_accounts_per_ip = "off"\n' >>ucadir/uca.toml
uport=$(free_port)
"$uca" --dir ucadir serve --listen "127.0.0.1:$uport" --allow-validation-to 127.0.0.0/8 >uca.log 2>&1 &
pid[uca]=$!
url[uca]="https://127.0.0.1:$uport/acme/directory"; ca[uca]=$work/ucadir/ca.crt; reqlog[uca]=uca.log
# (b) Caddy acme_server (internal CA, file storage), plus an access log (its per-request durations).
cport=$(free_port); hport=$(free_port)
cat >Caddyfile <<CONF
{
  admin off
  skip_install_trust
  http_port $hport
  https_port $cport
  storage file_system {
    root $work/caddy-data
  }
}
https://127.0.0.1:$cport {
  bind 127.0.0.1
  tls internal
  acme_server
  log {
    output file $work/caddy-access.log
    format json
  }
}
CONF
XDG_CONFIG_HOME=$work/xdg-config XDG_DATA_HOME=$work/xdg-data HOME=$work \
  caddy run --config Caddyfile --adapter caddyfile >caddy.log 2>&1 &
pid[caddy]=$!
url[caddy]="https://127.0.0.1:$cport/acme/local/directory"
ca[caddy]=$work/caddy-data/pki/authorities/local/root.crt; reqlog[caddy]=caddy-access.log
wait_ready uca
wait_ready caddy

# --- the clients -------------------------------------------------------------------------------
lego_order() { # SIDE NAME: one lego run with a fresh --path (account creation included)
  LEGO_CA_CERTIFICATES=${ca[$1]} lego --server "${url[$1]}" --accept-tos --email a@example.test \
    --path "lego-$1/$2" --domains localhost --http --http.port 127.0.0.1:80 run >"lego-$1/$2.log" 2>&1 || {
    echo "lego failed against $1 ($2):" >&2; cat "lego-$1/$2.log" >&2; exit 1
  }
  [ -s "lego-$1/$2/certificates/localhost.crt" ] || { echo "no certificate from $1 ($2)" >&2; exit 1; }
  rm -rf "lego-$1/$2" "lego-$1/$2.log"
}
lego_pass() { # SIDE ROUND: N timed lego runs, microseconds per order to stdout
  local i t0 t1
  for i in $(seq 1 "$n"); do
    t0=$(now); lego_order "$1" "r$2-$i"; t1=$(now)
    echo $(((t1 - t0) / 1000))
  done
}
inproc_pass() { # SIDE: N orders from one python3-acme process, microseconds per order to stdout
  /usr/bin/python3 "$repo/scripts/lib/acme-orders.py" "${url[$1]}" "${ca[$1]}" "$n" 2>"inproc-$1.err" || {
    echo "python3-acme client failed against $1:" >&2; cat "inproc-$1.err" >&2; exit 1
  }
}
log_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
declare -A cpu_ticks log_ranges
timed() { # SIDE CLIENT PASS...: runs the pass, appends its times, server CPU and log range
  local side=$1 client=$2 c0 c1 l0 l1; shift 2
  c0=$(ticks "${pid[$side]}"); l0=$(log_lines "${reqlog[$side]}")
  "$@" >>"times-$side-$client"
  sleep 0.2   # let the access log catch up
  c1=$(ticks "${pid[$side]}"); l1=$(log_lines "${reqlog[$side]}")
  cpu_ticks[$side-$client]=$(( ${cpu_ticks[$side-$client]:-0} + c1 - c0 ))
  log_ranges[$side-$client]="${log_ranges[$side-$client]:-} $((l0 + 1)):$l1"
}

mkdir -p lego-uca lego-caddy
for side in uca caddy; do lego_order "$side" warmup; done   # first-order costs stay out
sequential=1; [ "${LOADGEN_ONLY:-0}" = 1 ] && sequential=0
[ "$sequential" = 1 ] && for r in $(seq 1 "$rounds"); do
  for side in uca caddy; do
    timed "$side" lego lego_pass "$side" "$r"
    timed "$side" inproc inproc_pass "$side"
  done
done

# fsyncs: one more pass of N lego runs per server, strace attached to all its threads.
declare -A fsyncs fdatasyncs sfr syncms
[ "$sequential" = 1 ] && for side in uca caddy; do
  strace -f -c -w -e trace=fsync,fdatasync,sync_file_range -o "strace-$side" -p "${pid[$side]}" 2>"strace-$side.err" &
  strace_pid=$!
  sleep 1   # attached to every thread before the first order
  for i in $(seq 1 "$n"); do lego_order "$side" "strace-$i"; done
  kill -INT "$strace_pid"; wait "$strace_pid" 2>/dev/null || true; strace_pid=""
  calls() { awk -v s="$1" '$NF == s { print $4 }' "strace-$side" | head -1; }
  # -w: wall time inside the calls (the summary's "total" row covers the three)
  syncms[$side]=$(awk -v n="$n" '$NF == "total" { printf "%.1f", 1000 * $2 / n }' "strace-$side")
  fsyncs[$side]=$(awk -v c="$(calls fsync)" -v n="$n" 'BEGIN { printf "%.1f", (c + 0) / n }')
  fdatasyncs[$side]=$(awk -v c="$(calls fdatasync)" -v n="$n" 'BEGIN { printf "%.1f", (c + 0) / n }')
  sfr[$side]=$(awk -v c="$(calls sync_file_range)" -v n="$n" 'BEGIN { printf "%.1f", (c + 0) / n }')
done

# --- the concurrent phase: uca-loadgen, C workers, ROUNDS interleaved passes per server ----------
declare -A lg_orders=([uca]=$lg_n_uca [caddy]=$lg_n_caddy) lg_ranges
lg_failed=0
for r in $(seq 1 "$rounds"); do
  for side in uca caddy; do
    l0=$(log_lines "${reqlog[$side]}")
    rc=0
    "$loadgen" --directory "${url[$side]}" --ca-cert "${ca[$side]}" --concurrency "$lg_c" \
      --orders "${lg_orders[$side]}" --identifier localhost --http01-listen 127.0.0.1:80 --timeout 300 \
      --server-pid "${pid[$side]}" --json --latencies-out "lg-$side-$r.ms" >"lg-$side-$r.json" 2>"lg-$side-$r.err" || rc=$?
    if [ "$rc" -gt 1 ] || [ ! -s "lg-$side-$r.json" ]; then
      echo "uca-loadgen could not run against $side:" >&2; cat "lg-$side-$r.err" >&2; exit 1
    fi
    [ "$rc" = 0 ] || lg_failed=1
    sleep 0.2   # let the access log catch up
    lg_ranges[$side]="${lg_ranges[$side]:-} $((l0 + 1)):$(log_lines "${reqlog[$side]}")"
  done
done

# --- report ------------------------------------------------------------------------------------
# Per-request durations from the servers' logs, as "KIND MILLISECONDS" lines; KIND is the method
# and the path with the random IDs replaced by *. Args: SIDE [RANGES] (line ranges FROM:TO).
requests() {
  /usr/bin/python3 - "$1" "${reqlog[$1]}" ${2:-} <<'PY'
import json, re, sys
side, path, ranges = sys.argv[1], sys.argv[2], sys.argv[3:]
lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
if ranges:
    picked = []
    for r in ranges:
        a, b = (int(x) for x in r.split(":"))
        picked += lines[a - 1:b]
    lines = picked
for line in lines:
    if side == "uca":
        f = line.split()
        # IP TIME METHOD URI STATUS [acct=.. order=.. problem=..] N.Nms
        if len(f) < 6 or f[2] not in ("GET", "HEAD", "POST") or not f[-1].endswith("ms"):
            continue
        method, uri, ms = f[2], f[3], float(f[-1][:-2])
    else:
        try:
            e = json.loads(line)
            method, uri, ms = e["request"]["method"], e["request"]["uri"], 1000 * e["duration"]
        except (ValueError, KeyError):
            continue
    uri = re.sub(r"/[A-Za-z0-9_-]{12,}", "/*", uri.split("?")[0])
    print(f"{method} {uri} {ms:.3f}")
PY
}
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.0f", (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) / 1000 }'; }
declare -A rate handling cpums
row() { # LABEL SIDE CLIENT [SYNCS]
  local k=$2-$3 f="times-$2-$3" orders
  orders=$(wc -l <"$f")
  rate[$k]=$(awk -v n="$orders" '{ s += $1 } END { printf "%.2f", n / (s / 1e6) }' "$f")
  local spread; spread=$(awk -v n="$n" '{ s += $1; if (NR % n == 0) { r = n / (s / 1e6); lo = (lo == "" || r < lo) ? r : lo; hi = (r > hi) ? r : hi; s = 0 } }
    END { printf "%.1f-%.1f", lo, hi }' "$f")
  local server; server=$(requests "$2" "${log_ranges[$k]}" | awk -v n="$orders" '{ s += $NF } END { printf "%.1f", s / n }')
  handling[$k]=$server
  cpums[$k]=$(awk -v t="${cpu_ticks[$k]}" -v hz="$hz" -v n="$orders" 'BEGIN { printf "%.1f", 1000 * t / hz / n }')
  printf '%-38s %8s %9s %7s %7s %7s %8s %8s %8s\n' "$1" "${rate[$k]}" "$spread" "$(median <"$f")" \
    "$(sort -n "$f" | head -1 | awk '{ printf "%.0f", $1 / 1000 }')" "$(sort -n "$f" | tail -1 | awk '{ printf "%.0f", $1 / 1000 }')" \
    "$server" "${cpums[$k]}" "${4:-}"
}
syncs() { awk -v a="${fsyncs[$1]}" -v b="${fdatasyncs[$1]}" 'BEGIN { printf "%.1f", a + b }'; }
cv=$(caddy version | awk '{ print $1 }')
if [ "$sequential" = 1 ]; then
echo
echo "$n orders x $rounds rounds per server and client, sequential; each order: new account, newOrder,"
echo "http-01 on 127.0.0.1:80 for 'localhost', finalize, download. Times in ms per order."
printf '%-38s %8s %9s %7s %7s %7s %8s %8s %8s\n' "" "orders/s" "rounds" median min max "server" "server" "fsync+"
printf '%-38s %8s %9s %7s %7s %7s %8s %8s %8s\n' "" "" "" "" "" "" "handling" "CPU" "fdatasync"
row "lego runs -> uca serve" uca lego "$(syncs uca)"
row "lego runs -> caddy $cv acme_server" caddy lego "$(syncs caddy)"
row "python3-acme process -> uca serve" uca inproc
row "python3-acme process -> caddy $cv" caddy inproc
echo
ratio() { awk -v a="${rate[$1]}" -v b="${rate[$2]}" 'BEGIN { printf "%.2f", a / b }'; }
echo "order rate uca/caddy: $(ratio uca-lego caddy-lego)x with lego runs, $(ratio uca-inproc caddy-inproc)x from one python3-acme process (target >= 2.5x)"
less() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b / a }'; }
echo "server handling per order: $(less "${handling[uca-lego]}" "${handling[caddy-lego]}")x less with lego runs," \
  "$(less "${handling[uca-inproc]}" "${handling[caddy-inproc]}")x from python3-acme; server CPU per order:" \
  "$(less "${cpums[uca-lego]}" "${cpums[caddy-lego]}")x / $(less "${cpums[uca-inproc]}" "${cpums[caddy-inproc]}")x less"
echo "syncs per order (N lego runs under strace -f -c), fsync / fdatasync / sync_file_range:" \
  "uca ${fsyncs[uca]} / ${fdatasyncs[uca]} / ${sfr[uca]}; caddy ${fsyncs[caddy]} / ${fdatasyncs[caddy]} / ${sfr[caddy]};" \
  "wall time inside them per order: uca ${syncms[uca]} ms, caddy ${syncms[caddy]} ms"
echo "server handling = the sum of the server's logged per-request durations (TLS handshakes excluded)."
echo "a lego run has a floor the server cannot remove: start-up, key generation, and a fixed"
echo "time.Sleep(1s/18) = 56 ms before it fetches authorizations (lego certificate/authorization.go)."
echo
echo "mean ms per request kind, timed passes (requests per order in parentheses):"
for side in uca caddy; do
  all=""; for k in lego inproc; do all="$all ${log_ranges[$side-$k]}"; done
  orders=$(( $(wc -l <"times-$side-lego") + $(wc -l <"times-$side-inproc") ))
  requests "$side" "$all" | awk -v side="$side" -v n="$orders" '
    { k = $1 " " $2; c[k]++; s[k] += $3; if ($3 > m[k]) m[k] = $3 }
    END { for (k in c) printf "  %-6s %-44s %7.2f  (%.1f)  max %6.1f\n", side, k, s[k] / c[k], c[k] / n, m[k] }' | sort -k1,1r -k3,3
done
fi
echo
iav=$(awk '/^name = "instant-acme"$/ { getline; gsub(/"/, "", $3); print $3 }' "$repo/Cargo.lock")
echo "concurrent phase: uca-loadgen (instant-acme $iav), $lg_c workers x 1 account, $rounds rounds"
echo "interleaved; an order: newOrder, authz, http-01 on 127.0.0.1:80, poll, finalize (new P-256 CSR),"
echo "certificate download, on a kept-alive connection; latency from newOrder to the certificate in hand."
/usr/bin/python3 - "$rounds" "$cv" <<'PY'
import json, sys
rounds, cv = int(sys.argv[1]), sys.argv[2]
def pct(v, p):
    return v[max(1, min(len(v), -(-len(v) * p // 100))) - 1] if v else float("nan")
fmt = "%-30s %7s %7s %8s %7s %7s %7s %8s %8s %8s"
print(fmt % ("", "orders", "failed", "orders/s", "p50", "p99", "max", "server", "client", "peak"))
print(fmt % ("", "", "", "", "ms", "ms", "ms", "CPU ms", "CPU ms", "RSS MB"))
rates = {}
for side, label in (("uca", "uca-loadgen -> uca serve"), ("caddy", "uca-loadgen -> caddy " + cv)):
    docs = [json.load(open(f"lg-{side}-{r}.json")) for r in range(1, rounds + 1)]
    ms = sorted(float(x) for r in range(1, rounds + 1) for x in open(f"lg-{side}-{r}.ms").read().split())
    done = sum(d["completed"] for d in docs)
    failed = sum(d["failed"] for d in docs)
    wall = sum(d["wall_s"] for d in docs)
    rates[side] = done / wall if wall else 0.0
    spread = [d["orders_per_s"] for d in docs]
    scpu = sum((d["server"] or {}).get("cpu_s") or 0 for d in docs)
    ccpu = sum((d["generator_cpu"] or {}).get("total_s") or 0 for d in docs)
    rss = max(((d["server"] or {}).get("peak_rss_kb") or 0) for d in docs) / 1024
    per = lambda s: "%.2f" % (1000 * s / done) if done else "-"
    print(fmt % (label, done, failed, "%.1f" % rates[side], "%.0f" % pct(ms, 50), "%.0f" % pct(ms, 99),
                 "%.0f" % (ms[-1] if ms else float("nan")), per(scpu), per(ccpu), "%.1f" % rss))
    print("  %-28s rounds %s orders/s; account setup %s s" % ("", " / ".join("%.1f" % x for x in spread),
          " / ".join("%.2f" % d["account_setup_s"] for d in docs)))
    for d in docs:
        for e in d["errors"][:3]:
            print("  error (%s): %s" % (side, e))
    if side == "uca":
        uca_p99, uca_rss = pct(ms, 99), rss
ratio = rates["uca"] / rates["caddy"] if rates["caddy"] else float("inf")
print("targets at concurrency %s: uca %.1f orders/s (>= 150), p99 %.0f ms (<= 250), %.1fx caddy's rate (>= 10x),"
      " peak RSS %.1f MB (<= 64)" % (json.load(open("lg-uca-1.json"))["concurrency"], rates["uca"], uca_p99, ratio, uca_rss))
PY
echo "server CPU = user+sys of all the server's threads over the order phase (/proc/PID/stat), per order;"
echo "client CPU = the generator's own; peak RSS = VmHWM, reset when the order phase starts."
echo
echo "mean ms per request kind, concurrent phase (requests per order in parentheses):"
for side in uca caddy; do
  orders=$(cat lg-$side-*.ms | wc -l)
  requests "$side" "${lg_ranges[$side]}" | awk -v side="$side" -v n="$orders" '
    { k = $1 " " $2; c[k]++; s[k] += $3; if ($3 > m[k]) m[k] = $3 }
    END { for (k in c) printf "  %-6s %-44s %7.2f  (%.1f)  max %6.1f\n", side, k, s[k] / c[k], c[k] / n, m[k] }' | sort -k1,1r -k3,3
done
echo "machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg), work directory on $fs;" \
  "$(lego --version)"
[ "$lg_failed" = 0 ] || { echo "bench-serve: some uca-loadgen orders failed (see the errors above)" >&2; exit 1; }
