#!/usr/bin/env bash
# How long one `spektate record --p1` takes as a whole process, into an empty SQLite store
# and into one of 100,000 records (written directly with Python's sqlite3, in one
# transaction): the median of 10 runs after one warm-up, each a new image.
#
#   bash scripts/bench-record.sh            # debug build
#   PROFILE=release bash scripts/bench-record.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${PROFILE:-debug}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --quiet -p spektate-cli "${flag[@]}"
bin="$PWD/target/$profile/spektate"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT

median_ms() { # store
  local times=()
  for i in $(seq 0 10); do
    local t0 t1
    t0=$(date +%s%N)
    "$bin" record --store "sqlite:$1" -p bench --p1 "b$i" --image-tag "bench-$i" --commit-id c --service s >/dev/null
    t1=$(date +%s%N)
    [ "$i" -gt 0 ] && times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms\n", (a[5]+a[6])/2000}'
}

"$bin" record --store "sqlite:$dir/empty.db" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
echo "record into an empty store:          $(median_ms "$dir/empty.db")"

"$bin" record --store "sqlite:$dir/big.db" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
python3 - "$dir/big.db" <<'PY'
import sqlite3, sys, datetime
c = sqlite3.connect(sys.argv[1])
now = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
c.executemany(
    "INSERT INTO records (partition_key, row_key, service, commitId, imageTag, p1, env, timestamp, version, change_seq) "
    "VALUES ('bench', ?, ?, ?, ?, ?, 'dev', ?, 1, ?)",
    (("%012x" % (i + 1), "svc-%d" % (i % 10), "c%d" % i, "svc-%d-%d" % (i % 10, i), str(i + 1), now, i + 2)
     for i in range(100_000)))
c.commit()
PY
echo "record into a store of 100,000:      $(median_ms "$dir/big.db")"
