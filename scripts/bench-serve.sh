#!/usr/bin/env bash
# Records per second one `spektate serve` ingests, and the latency of a record POST: a
# release build of the server on a fresh SQLite store (or, with STORE=postgres, on a private
# PostgreSQL server this script starts on loopback and stops), a write token, and
# REQUESTS (default 5000) image records posted by CLIENTS (default 8) clients over loopback,
# each with an Idempotency-Key. The server runs with --log-format json to a file, as in
# production.
#
#   bash scripts/bench-serve.sh            # release build
#   REQUESTS=20000 CLIENTS=32 bash scripts/bench-serve.sh
#   STORE=postgres bash scripts/bench-serve.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requests=${REQUESTS:-5000}
clients=${CLIENTS:-8}
cargo build --quiet --release -p spektate-cli -p spektate-dashboard --example ingest_load
bin="$PWD/target/release/spektate"
dir=$(mktemp -d)
server=""
pg=""
cleanup() {
  [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null
  [ -n "$pg" ] && runuser -u postgres -- "$pg/pg_ctl" -D "$dir/pg" -m immediate stop >/dev/null 2>&1
  rm -rf "$dir"
}
trap cleanup EXIT

store="sqlite:$dir/bench.db"
if [ "${STORE:-sqlite}" = postgres ]; then
  pg=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  chown postgres "$dir"
  runuser -u postgres -- "$pg/initdb" -D "$dir/pg" -A trust -U postgres >/dev/null
  runuser -u postgres -- "$pg/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir" start >/dev/null
  runuser -u postgres -- "$pg/createdb" -h 127.0.0.1 -p "$port" -U postgres bench
  store="postgres://postgres@127.0.0.1:$port/bench?sslmode=disable"
fi

token=$("$bin" token create bench --tokens "$dir/tokens.json" -p bench 2>/dev/null)
"$bin" serve --store "$store" -p bench --tokens "$dir/tokens.json" --port 0 \
  --log-format json >"$dir/out" 2>"$dir/log" &
server=$!
for _ in $(seq 100); do grep -q http "$dir/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^/ ]*' "$dir/out")
echo "server: $url, store ${store%%\?*} ($(df -T "$dir" | awk 'NR==2{print $2}')), $(nproc) cores"
"$PWD/target/release/examples/ingest_load" "$url" "$token" "$requests" "$clients"
echo "records in the store: $("$bin" get --store "$store" -p bench --since all -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
