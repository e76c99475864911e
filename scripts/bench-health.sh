#!/usr/bin/env bash
# `uca health watch` benchmark: N targets (default 1000) on loopback, one probe per second each,
# HTTPS with mutual TLS (uca certificates) against a local nginx, for SECONDS (default 60) after
# a 5 s warm-up. Reports the achieved probe rate, scheduling lag p50/p99 (from the watcher's own
# lag histogram), the share of probes on time (lag <= 100 ms), CPU share and peak RSS of the
# watcher, and nginx's CPU for scale.
#   bash scripts/bench-health.sh [N=1000] [SECONDS=60]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000}
secs=${2:-60}
source scripts/lib/uca-bin.sh
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export UCA_DIR="$work/pki"
"$uca" init --no-passphrase --name "bench health" >/dev/null 2>&1
"$uca" issue localhost --san 127.0.0.1 --profile server >/dev/null 2>&1
"$uca" issue prober --profile client >/dev/null 2>&1

port=$(free_port); listen=$(free_port)
mkdir -p nginx/tmp
cat > nginx/nginx.conf <<CONF
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/tmp; proxy_temp_path $work/nginx/tmp;
  fastcgi_temp_path $work/nginx/tmp; uwsgi_temp_path $work/nginx/tmp; scgi_temp_path $work/nginx/tmp;
  server {
    listen 127.0.0.1:$port ssl;
    ssl_certificate $UCA_DIR/issued/localhost/fullchain.pem;
    ssl_certificate_key $UCA_DIR/issued/localhost/key.pem;
    ssl_client_certificate $UCA_DIR/ca.crt;
    ssl_verify_client on;
    ssl_session_cache off;
    ssl_session_tickets off;
    location / { return 200 "ok\n"; }
  }
}
CONF
"$nginx_bin" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" &
pids+=($!)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

{
  echo '[defaults]'
  echo 'interval = "1s"'
  echo 'window = "1m"'
  echo 'client_cert = "prober"'
  echo 'ok = "99% within 300ms"'
  for i in $(seq 1 "$n"); do
    printf '[[target]]\nname = "svc-%04d"\nurl = "https://127.0.0.1:%s/t/%d"\n' "$i" "$port" "$i"
  done
} > targets.toml

"$uca" health watch targets.toml --listen "127.0.0.1:$listen" --store h.sqlite \
  --duration "$((secs + 10))s" > watch.out 2> watch.err &
wpid=$!
pids+=($wpid)
ticks() { local t=0 p; for p in ${1//,/ }; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
nginx_workers=$(pgrep -d, -P "${pids[0]}" || echo "${pids[0]}")
sleep 5
c0=$(ticks "$wpid"); n0=$(ticks "$nginx_workers")
m0=$(curl -s "127.0.0.1:$listen/metrics")
t0=$(date +%s%N)
sleep "$secs"
c1=$(ticks "$wpid"); n1=$(ticks "$nginx_workers")
m1=$(curl -s "127.0.0.1:$listen/metrics")
t1=$(date +%s%N)
rss=$(awk '/VmHWM/ { print $2 }' "/proc/$wpid/status")
status=$(curl -s "127.0.0.1:$listen/status.json")
wait "$wpid" || { cat watch.err >&2; exit 1; }
hz=$(getconf CLK_TCK)
python3 - "$n" "$t0" "$t1" "$c0" "$c1" "$n0" "$n1" "$hz" "$rss" 3<<<"$m0" 4<<<"$m1" 5<<<"$status" <<'PY'
import sys, json, os
n, t0, t1, c0, c1, n0, n1, hz, rss = sys.argv[1:10]
dt = (int(t1) - int(t0)) / 1e9
m0 = os.fdopen(3).read(); m1 = os.fdopen(4).read(); status = json.loads(os.fdopen(5).read())
def series(text):
    out = {}
    for line in text.splitlines():
        if line.startswith('#') or not line.strip():
            continue
        name, value = line.rsplit(' ', 1)
        out[name] = float(value)
    return out
a, b = series(m0), series(m1)
def total(s, prefix):
    return sum(v for k, v in s.items() if k.startswith(prefix))
probes = total(b, 'uca_health_probes_total{') - total(a, 'uca_health_probes_total{')
fails = total(b, 'uca_health_probe_failures_total{') - total(a, 'uca_health_probe_failures_total{')
buckets = []
for k, v in b.items():
    if k.startswith('uca_health_schedule_lag_seconds_bucket{'):
        le = k.split('le="')[1].split('"')[0]
        buckets.append((float('inf') if le == '+Inf' else float(le), v - a.get(k, 0)))
buckets.sort()
count = buckets[-1][1]
def quantile(q):
    rank, prev_le, prev_c = q * count, 0.0, 0.0
    for le, c in buckets:
        if c >= rank:
            if le == float('inf'):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_c) / max(c - prev_c, 1))
        prev_le, prev_c = le, c
    return prev_le
on_time = dict(buckets).get(0.1, 0) / count if count else 0
cpu = (int(c1) - int(c0)) / int(hz) / dt
ncpu = (int(n1) - int(n0)) / int(hz) / dt
colors = status['summary']
print(f"| targets | {n} at 1 probe/s each, HTTPS + mutual TLS, new connection per probe |")
print("|---|---|")
print(f"| achieved probe rate | {probes / dt:.0f} probes/s (scheduled {int(n)}/s), {fails:.0f} failed |")
print(f"| scheduling lag p50 / p99 | {quantile(0.5) * 1000:.2f} ms / {quantile(0.99) * 1000:.1f} ms |")
print(f"| probes on time (lag <= 100 ms) | {on_time * 100:.2f}% |")
print(f"| uca health watch CPU | {cpu * 100:.0f}% of one core |")
print(f"| uca health watch peak RSS | {int(rss) / 1024:.0f} MB |")
print(f"| nginx CPU, 2 workers (the server side, for scale) | {ncpu * 100:.0f}% of one core |")
print(f"| colors at the end | {colors} |")
PY

# The same load through Prometheus' blackbox exporter, when installed (Debian:
# prometheus-blackbox-exporter): it probes when asked, so a small asyncio driver asks it for each
# target once a second, the way a Prometheus scraping 1,000 targets at a 1 s interval would.
bbe=$(command -v prometheus-blackbox-exporter || command -v blackbox_exporter || true)
if [ -z "$bbe" ]; then
  echo "(blackbox exporter not installed: no side-by-side run)"
  exit 0
fi
bport=$(free_port)
cat > bbe.yml <<YML
modules:
  mtls:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      tls_config:
        ca_file: $UCA_DIR/ca.crt
        cert_file: $UCA_DIR/issued/prober/fullchain.pem
        key_file: $UCA_DIR/issued/prober/key.pem
YML
"$bbe" --config.file=bbe.yml --web.listen-address="127.0.0.1:$bport" > bbe.log 2>&1 &
bpid=$!
pids+=($bpid)
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$bport) 2>/dev/null && break; sleep 0.1; done
python3 - "$n" "$secs" "$bport" "$port" "$bpid" "$(getconf CLK_TCK)" <<'PY'
import asyncio, random, sys, time
n, secs, bport, port, bpid, hz = map(int, sys.argv[1:7])
lags, ok, bad = [], 0, 0
def ticks():
    f = open(f"/proc/{bpid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])
async def worker(i, start, stop):
    global ok, bad
    req = (f"GET /probe?module=mtls&target=https://127.0.0.1:{port}/t/{i} HTTP/1.0\r\n"
           f"Host: 127.0.0.1\r\n\r\n").encode()
    due = start + random.random()
    while True:
        await asyncio.sleep(max(0, due - time.monotonic()))
        if time.monotonic() >= stop:
            break
        measure = due >= start + 5
        r, w = await asyncio.open_connection("127.0.0.1", bport)
        w.write(req)
        body = await r.read()
        w.close()
        if measure:
            lags.append(time.monotonic() - due)
            if b"\nprobe_success 1" in body:
                ok += 1
            else:
                bad += 1
        due += 1.0
        if due < time.monotonic():
            due = time.monotonic() + 0.05
async def main():
    start = time.monotonic()
    stop = start + 5 + secs
    t = asyncio.create_task(asyncio.sleep(5))
    tasks = [asyncio.create_task(worker(i, start, stop)) for i in range(1, n + 1)]
    await t
    c0, t0 = ticks(), time.monotonic()
    await asyncio.gather(*tasks)
    c1, t1 = ticks(), time.monotonic()
    rss = [l for l in open(f"/proc/{bpid}/status") if l.startswith("VmHWM")][0].split()[1]
    lags.sort()
    q = lambda p: lags[min(len(lags) - 1, int(p * len(lags)))] * 1000 if lags else float("nan")
    print()
    print(f"| blackbox exporter, same load | |")
    print("|---|---|")
    print(f"| achieved probe rate | {(ok + bad) / secs:.0f} probes/s, {bad} failed |")
    print(f"| answer time seen by the driver p50 / p99 (includes the probe) | {q(0.5):.1f} ms / {q(0.99):.1f} ms |")
    print(f"| blackbox exporter CPU | {(c1 - c0) / hz / (t1 - t0) * 100:.0f}% of one core |")
    print(f"| blackbox exporter peak RSS | {int(rss) / 1024:.0f} MB |")
asyncio.run(main())
PY
