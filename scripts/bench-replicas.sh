#!/usr/bin/env bash
# Replica benchmark: `uca serve` on PostgreSQL run by Patroni (etcd, two nodes, synchronous mode:
# every commit waits for the standby's flush; fsync on), against one replica and two replicas
# behind HAProxy, beside one replica on the SQLite ledger, in one run, on 127.0.0.1. The client is
# uca-loadgen (instant-acme): C workers, each one account and one kept-alive connection, ORDERS
# orders in all (newOrder, http-01, finalize, download), identifier 127.0.0.1. Printed per setup:
# orders/s, p50/p99 (newOrder to certificate in hand), failures. Then the outage: the load generator
# runs for 40 s through the proxy in front of both replicas, the database leader is killed (kill -9
# of Patroni and PostgreSQL) 10 s in, and the longest stretch without a certificate is what the
# clients saw. Everything shares this machine's cores: two PostgreSQL servers, Patroni, etcd,
# HAProxy, the replicas and the generator.
#   bash scripts/bench-replicas.sh [ORDERS=300]
#   env: LOADGEN_CONCURRENCY=16; UCA_PROFILE / UCA_BIN as for the other benchmarks
set -euo pipefail
cd "$(dirname "$0")/.."
orders=${1:-300}
conc=${LOADGEN_CONCURRENCY:-16}

missing=()
command -v patroni >/dev/null 2>&1 || missing+=(patroni)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
[ "$(id -u)" = 0 ] || { echo "bench-replicas: run as root (PostgreSQL and Patroni run as the postgres user)" >&2; exit 2; }

source scripts/lib/uca-bin.sh
cargo build --profile "${UCA_PROFILE:-dist}" -p uca-loadgen --quiet
loadgen="${CARGO_TARGET_DIR:-$PWD/target}/${UCA_PROFILE:-dist}/uca-loadgen"

work=$(mktemp -d)
chmod 777 "$work"
cleanup() {
  cd /
  # Bash reports each background job it sees killed ("Killed ..."): nothing to read there.
  exec 2>/dev/null
  pkill -9 -f "$work" 2>/dev/null || true
  # What was started with paths relative to the work directory (the uca servers, HAProxy,
  # Patroni) has no "$work" in its command line: stop everything whose working directory is it.
  for proc in /proc/[0-9]*; do
    pid=${proc#/proc/}
    [ "$pid" = $$ ] && continue
    case "$(readlink "$proc/cwd" 2>/dev/null)" in
      "$work" | "$work"/*) kill -9 "$pid" 2>/dev/null || true ;;
    esac
  done
  sleep 0.5
  rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { runuser -u postgres -- "$@"; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)

# --- PostgreSQL run by Patroni ----------------------------------------------------------------
etcd_port=$(free_port); etcd_peer=$(free_port)
as_pg etcd --name e1 --data-dir "$work/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
  --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls "http://127.0.0.1:$etcd_peer" \
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" --initial-cluster "e1=http://127.0.0.1:$etcd_peer" \
  --enable-v2=true >etcd.log 2>&1 &
declare -A rest pg
for n in 1 2; do
  rest[$n]=$(free_port); pg[$n]=$(free_port)
  cat >"node$n.yml" <<YML
scope: bench
name: node$n
restapi: {listen: "127.0.0.1:${rest[$n]}", connect_address: "127.0.0.1:${rest[$n]}"}
etcd: {host: "127.0.0.1:$etcd_port"}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 2
    retry_timeout: 3
    synchronous_mode: true
    postgresql:
      use_pg_rewind: true
      parameters: {wal_level: replica, hot_standby: "on", max_wal_senders: 10, max_replication_slots: 10, wal_log_hints: "on"}
  initdb: [{encoding: UTF8}, {auth: trust}]
  pg_hba: ["local all all trust", "host replication postgres 127.0.0.1/32 trust", "host all all 127.0.0.1/32 trust"]
postgresql:
  listen: "127.0.0.1:${pg[$n]}"
  connect_address: "127.0.0.1:${pg[$n]}"
  data_dir: $work/pg$n
  bin_dir: $pg_bin
  pgpass: $work/pgpass$n
  authentication:
    superuser: {username: postgres, password: bench}
    replication: {username: postgres, password: bench}
  parameters: {unix_socket_directories: "$work", max_connections: 300}
YML
  as_pg patroni "node$n.yml" >"patroni$n.log" 2>&1 &
  [ "$n" = 1 ] && until curl -sf -o /dev/null "http://127.0.0.1:${rest[1]}/primary"; do sleep 0.5; done
done
until curl -sf -o /dev/null "http://127.0.0.1:${rest[2]}/sync"; do sleep 0.5; done
pgproxy=$(free_port)
cat >haproxy-pg.cfg <<CFG
global
    maxconn 1000
defaults
    mode tcp
    timeout connect 2s
    timeout client 120s
    timeout server 120s
    timeout check 2s
listen pg_primary
    bind 127.0.0.1:$pgproxy
    option httpchk GET /primary
    http-check expect status 200
    default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions
    server node1 127.0.0.1:${pg[1]} check port ${rest[1]}
    server node2 127.0.0.1:${pg[2]} check port ${rest[2]}
CFG
haproxy -f haproxy-pg.cfg -db >haproxy-pg.log 2>&1 &
ok=0
until [ "$ok" = 5 ]; do
  if [ "$(psql -h 127.0.0.1 -p "$pgproxy" -U postgres -XAtqc 'select pg_is_in_recovery()' 2>/dev/null)" = f ]; then ok=$((ok + 1)); else ok=0; sleep 0.3; fi
done
db="postgres://postgres@127.0.0.1:$pgproxy/postgres"
echo "PostgreSQL: node1 leader, node2 synchronous standby, through HAProxy :$pgproxy" >&2

# --- the CAs and the servers -------------------------------------------------------------------
h01=$(free_port)
"$uca" --dir sq init --no-passphrase --name "Bench SQLite" >/dev/null 2>&1
"$uca" --dir pga init --no-passphrase --name "Bench PostgreSQL" --ledger "$db" >/dev/null 2>&1
printf '\n[acme]\nnew_orders_per_account = "off"\nnew_accounts_per_ip = "off"\n' >>pga/uca.toml
printf '\n[acme]\nnew_orders_per_account = "off"\nnew_accounts_per_ip = "off"\n' >>sq/uca.toml
"$uca" --dir pga issue lb --san 127.0.0.1 --profile server >/dev/null 2>&1
"$uca" --dir pga export lb --format haproxy --out lb >/dev/null 2>&1
cp -a pga pgb
declare -A port
serve() { # NAME DIR
  port[$1]=$(free_port)
  "$uca" --dir "$2" serve --listen "127.0.0.1:${port[$1]}" --eab off --allow-validation-to 127.0.0.0/8 \
    --insecure-http01-port "$h01" >"serve-$1.log" 2>&1 &
  until grep -q "ACME directory" "serve-$1.log" 2>/dev/null; do sleep 0.2; done
}
serve sq sq
serve a pga
serve b pgb
acme_proxy() { # NAME PORT BACKEND...
  local name=$1 p=$2; shift 2
  {
    printf 'global\n    maxconn 2000\ndefaults\n    mode http\n    timeout connect 5s\n    timeout client 60s\n    timeout server 60s\n'
    printf 'frontend acme\n    bind 127.0.0.1:%s ssl crt %s/lb/lb.pem\n    default_backend replicas\n' "$p" "$work"
    printf 'backend replicas\n    balance roundrobin\n    option httpchk GET /healthz\n    http-check expect status 200\n    default-server inter 1s fall 2 rise 1\n'
    local i=0
    for b in "$@"; do
      i=$((i + 1))
      printf '    server r%s 127.0.0.1:%s ssl verify required ca-file %s/pga/ca.crt check\n' "$i" "$b" "$work"
    done
  } >"haproxy-$name.cfg"
  haproxy -f "haproxy-$name.cfg" -db >"haproxy-$name.log" 2>&1 &
  until curl -s -o /dev/null --cacert pga/ca.crt "https://127.0.0.1:$p/acme/directory"; do sleep 0.2; done
}
p1=$(free_port); p2=$(free_port)
acme_proxy one "$p1" "${port[a]}"
acme_proxy two "$p2" "${port[a]}" "${port[b]}"
sleep 2   # the proxies' first health checks

run() { # LABEL URL CA [extra args]: one loadgen pass, a JSON report in lg-LABEL.json
  local label=$1 url=$2 ca=$3; shift 3
  "$loadgen" --directory "$url" --ca-cert "$ca" --concurrency "$conc" --orders "$orders" \
    --identifier 127.0.0.1 --http01-listen "127.0.0.1:$h01" --timeout 300 --json "$@" \
    >"lg-$label.json" 2>"lg-$label.err" || true
}
run sqlite "https://127.0.0.1:${port[sq]}/acme/directory" sq/ca.crt
run pg-1 "https://127.0.0.1:${port[a]}/acme/directory" pga/ca.crt
run pg-1-proxy "https://127.0.0.1:$p1/acme/directory" pga/ca.crt
run pg-2-proxy "https://127.0.0.1:$p2/acme/directory" pga/ca.crt

# --- the outage ---------------------------------------------------------------------------------
run outage "https://127.0.0.1:$p2/acme/directory" pga/ca.crt --duration 40 &
lg=$!
sleep 10
killed=$(date +%s.%N)
leader=1; curl -sf -o /dev/null "http://127.0.0.1:${rest[2]}/primary" && leader=2
pm=$(head -1 "pg$leader/postmaster.pid")
pkill -9 -f "patroni node$leader.yml" || true
kill -9 "$pm" $(ps -o pid= --ppid "$pm") 2>/dev/null || true
other=$((3 - leader))
until curl -sf -o /dev/null "http://127.0.0.1:${rest[$other]}/primary"; do sleep 0.2; done
promoted=$(date +%s.%N)
wait "$lg" || true

python3 - "$orders" "$conc" "$killed" "$promoted" <<'PY'
import json, sys
orders, conc, killed, promoted = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
print(f"uca-loadgen, {conc} workers, {orders} orders per setup (identifier 127.0.0.1, http-01)")
print(f"{'setup':<44} {'orders/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
labels = [
    ("sqlite", "1 replica, SQLite ledger (direct)"),
    ("pg-1", "1 replica, PostgreSQL + sync standby (direct)"),
    ("pg-1-proxy", "1 replica, PostgreSQL, behind HAProxy"),
    ("pg-2-proxy", "2 replicas, PostgreSQL, behind HAProxy"),
]
for key, label in labels:
    try:
        r = json.load(open(f"lg-{key}.json"))
    except Exception as e:
        print(f"{label:<44} no report ({e}): " + open(f"lg-{key}.err").read().strip()[:300])
        continue
    lat = r.get("latency_ms") or {}
    print(f"{label:<44} {r['orders_per_s']:>9.1f} {lat.get('p50', 0):>8.1f} {lat.get('p99', 0):>8.1f} {r['failed']:>7}")
r = json.load(open("lg-outage.json"))
print(f"leader kill (2 replicas behind HAProxy, 40 s of load): Patroni promoted the standby "
      f"{promoted - killed:.1f} s after the kill; clients saw {r['longest_gap_s']:.1f} s without a "
      f"certificate; {r['completed']} certificates, {r['failed']} failed orders in the run")
PY
