#!/usr/bin/env bash
# The whole test suite, on a fresh Debian/Ubuntu machine or in CI.
# Installs the independent judges the tests run (openssl, curl, a JDK, nginx, HAProxy, chattr,
# script, pkilint, Chromium, prometheus-client, and the ACME clients certbot, lego, uacme, dehydrated,
# Caddy with pebble-challtestsrv as their DNS, PostgreSQL, Patroni and etcd) when they are missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v chattr >/dev/null 2>&1 || missing+=(e2fsprogs)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
command -v update-ca-certificates >/dev/null 2>&1 || [ -x /usr/sbin/update-ca-certificates ] || missing+=(ca-certificates)
command -v script >/dev/null 2>&1 || missing+=(bsdutils)
command -v python3 >/dev/null 2>&1 || missing+=(python3 python3-pip)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# The ACME clients that judge `uca serve`, and a DNS responder for their names.
command -v certbot >/dev/null 2>&1 || missing+=(certbot)
command -v lego >/dev/null 2>&1 || missing+=(lego)
command -v uacme >/dev/null 2>&1 || missing+=(uacme)
command -v dehydrated >/dev/null 2>&1 || missing+=(dehydrated)
command -v caddy >/dev/null 2>&1 || missing+=(caddy)
command -v pebble-challtestsrv >/dev/null 2>&1 || missing+=(pebble)
python3 -c "import acme, josepy" >/dev/null 2>&1 || missing+=(python3-acme)
# PostgreSQL server binaries (initdb, pg_ctl) and psql: the PostgreSQL ledger's tests start their own servers.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
# The failover suite: PostgreSQL run highly available by Patroni over etcd.
command -v patroni >/dev/null 2>&1 || missing+=(patroni)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
fi
if ! command -v lint_pkix_cert >/dev/null 2>&1; then
  python3 -m pip install --quiet "pkilint==0.13.3" || python3 -m pip install --quiet --break-system-packages "pkilint==0.13.3"
fi
# The Prometheus project's own parser judges /metrics.
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
  python3 -m pip install --quiet "prometheus-client==0.21.1" || python3 -m pip install --quiet --break-system-packages "prometheus-client==0.21.1"
fi

status=0
# The failover suite drives `uca serve` with the workspace's load generator.
cargo build -q -p uca-loadgen
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast || status=$?
else
  cargo test --workspace --no-fail-fast || status=$?
fi

# Second pass: the CA command tests and the ACME server's tests again, every test CA's ledger (and
# so the server's ACME state) in PostgreSQL (one throwaway server, a fresh database per CA; initdb
# refuses root, so the server runs as `postgres`).
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
pg_dir=$(mktemp -d)
chmod 755 "$pg_dir"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$pg_dir"
stop_pg() { as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$pg_dir"; }
trap stop_pg EXIT
as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >/dev/null
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=$pg_dir -c fsync=off -c max_connections=300" start >/dev/null
echo "second pass: the CA and ACME server tests (and the server's own) with the ledger in PostgreSQL (port $pg_port)" >&2
if cargo nextest --version >/dev/null 2>&1; then
  UCA_TEST_PG_PORT=$pg_port cargo nextest run -p uca -p uca-serve --no-fail-fast \
    -E 'package(uca-serve) | (binary(cli) & (test(/^ca::/) | test(/^serve::/)))' || status=$?
else
  UCA_TEST_PG_PORT=$pg_port cargo test -p uca --test cli --no-fail-fast -- ca:: serve:: || status=$?
  UCA_TEST_PG_PORT=$pg_port cargo test -p uca-serve --no-fail-fast || status=$?
fi
exit $status
