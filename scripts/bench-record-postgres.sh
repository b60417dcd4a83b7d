#!/usr/bin/env bash
# How long one `spektate record --p1` takes as a whole process into a PostgreSQL store on this
# machine (a private server on a loopback port, fsync on): into an empty store and into one
# of 100,000 records (written directly with psql), the median of 10 runs after one warm-up,
# each a new image. Needs Debian's postgresql package (scripts/test.sh installs it).
#
#   bash scripts/bench-record-postgres.sh            # debug build
#   PROFILE=release bash scripts/bench-record-postgres.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${PROFILE:-debug}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --quiet -p spektate-cli "${flag[@]}"
bin="${CARGO_TARGET_DIR:-$PWD/target}/$profile/spektate"

pg=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$pg/initdb" ] || { echo "no PostgreSQL in /usr/lib/postgresql: apt-get install -y postgresql" >&2; exit 1; }
as_pg=(); [ "$(id -u)" -eq 0 ] && as_pg=(runuser -u postgres --)
dir=$(mktemp -d /tmp/spektate-bench-XXXXXX)
[ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() { "${as_pg[@]}" "$pg/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$dir"; }
trap stop EXIT
"${as_pg[@]}" "$pg/initdb" -D "$dir/data" -U postgres --auth=trust --no-locale -E UTF8 >/dev/null
"${as_pg[@]}" "$pg/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir" start >/dev/null
psql() { "$pg/psql" -X -q -h "$dir" -p "$port" -U postgres "$@"; }
psql -c "CREATE DATABASE empty" -c "CREATE DATABASE big"

median_ms() { # url
  local times=()
  for i in $(seq 0 10); do
    local t0 t1
    t0=$(date +%s%N)
    "$bin" record --store "$1" -p bench --p1 "b$i" --image-tag "bench-$i" --commit-id c --service s >/dev/null
    t1=$(date +%s%N)
    [ "$i" -gt 0 ] && times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms\n", (a[5]+a[6])/2000}'
}

url="postgres://postgres@127.0.0.1:$port"
"$bin" record --store "$url/empty" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
echo "record into an empty store:          $(median_ms "$url/empty")"

"$bin" record --store "$url/big" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
psql -d big -c "INSERT INTO spektate_records (partition_key, row_key, service, commit_id, image_tag, p1, env, change_seq)
  SELECT 'bench', lpad(to_hex(i), 12, '0'), 'svc-' || i % 10, 'c' || i, 'svc-' || i % 10 || '-' || i, i::text, 'dev',
         nextval('spektate_change_seq')
  FROM generate_series(1, 100000) AS i; ANALYZE spektate_records"
echo "record into a store of 100,000:      $(median_ms "$url/big")"
