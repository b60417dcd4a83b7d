#!/usr/bin/env bash
# Records per second one `spektate serve` ingests into SQLite, and the latency of a record
# POST: a release build of the server on a fresh SQLite store, a write token, and
# REQUESTS (default 5000) image records posted by CLIENTS (default 8) clients over loopback,
# each with an Idempotency-Key. The server runs with --log-format json to a file, as in
# production.
#
#   bash scripts/bench-serve.sh            # release build
#   REQUESTS=20000 CLIENTS=32 bash scripts/bench-serve.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
requests=${REQUESTS:-5000}
clients=${CLIENTS:-8}
cargo build --quiet --release -p spektate-cli -p spektate-dashboard --example ingest_load
bin="$PWD/target/release/spektate"
dir=$(mktemp -d)
server=""
cleanup() { [ -n "$server" ] && kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT

token=$("$bin" token create bench --tokens "$dir/tokens.json" -p bench 2>/dev/null)
"$bin" serve --store "sqlite:$dir/bench.db" -p bench --tokens "$dir/tokens.json" --port 0 \
  --log-format json >"$dir/out" 2>"$dir/log" &
server=$!
for _ in $(seq 100); do grep -q http "$dir/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^/ ]*' "$dir/out")
echo "server: $url, SQLite at $dir/bench.db ($(df -T "$dir" | awk 'NR==2{print $2}')), $(nproc) cores"
"$PWD/target/release/examples/ingest_load" "$url" "$token" "$requests" "$clients"
echo "records in the store: $("$bin" get --store "sqlite:$dir/bench.db" -p bench --since all -o json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
