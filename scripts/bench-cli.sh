#!/usr/bin/env bash
# What a user of the `spektate` command waits for, as whole processes on SQLite stores:
#   - `spektate record --p1` into an empty store and into stores of 100,000 and 1,000,000
#     records (median of 10 runs after one warm-up, each a new image);
#   - `spektate get --top 10` over 100,000 and 1,000,000 records (median of 3, and the
#     peak resident memory of the process), with its default window (the last 90 days) and
#     with `--since all` (every record).
# The stores are written directly with Python's sqlite3 in one transaction: 10 services,
# three rings, every record with its three run ids, commits, pull request and repositories,
# written evenly over the last SPAN_DAYS days (default 365). No provider is configured, so
# `get` joins what the store holds and contacts nobody.
#
#   bash scripts/bench-cli.sh              # release build
#   PROFILE=debug bash scripts/bench-cli.sh
#   SIZES="100000" bash scripts/bench-cli.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${PROFILE:-release}
sizes=${SIZES:-"100000 1000000"}
span_days=${SPAN_DAYS:-365}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --quiet -p spektate-cli "${flag[@]}"
bin="${CARGO_TARGET_DIR:-$PWD/target}/$profile/spektate"
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
# No provider is configured: `get` joins what the store holds and contacts nobody.
unset SPEKTATE_AZDO_TOKEN SPEKTATE_GITHUB_TOKEN AZURE_DEVOPS_EXT_PAT GITHUB_TOKEN

median_record_ms() { # store
  local times=()
  for i in $(seq 0 10); do
    local t0 t1
    t0=$(date +%s%N)
    "$bin" record --store "sqlite:$1" -p bench --p1 "new$i" --image-tag "bench-new-$i" \
      --commit-id c --service s >/dev/null
    t1=$(date +%s%N)
    [ "$i" -gt 0 ] && times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.1f ms", (a[5]+a[6])/2000}'
}

get_figures() { # store [get flags...] -> "median s, peak MB"
  local times=() rss=() db=$1
  shift
  for i in 1 2 3; do
    local out
    /usr/bin/time -o "$dir/time" -f '%e %M' "$bin" get --store "sqlite:$db" -p bench --top 10 "$@" \
      >/dev/null 2>"$dir/get.err"
    out=$(tail -1 "$dir/time")
    times+=("${out% *}"); rss+=("${out#* }")
  done
  local t m
  t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
  m=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n 2p)
  printf '%s s, %d MB peak' "$t" $(( m / 1024 ))
}

fill() { # store count
  "$bin" record --store "sqlite:$1" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
  python3 - "$1" "$2" "$span_days" <<'PY'
import datetime, hashlib, sqlite3, sys
path, n, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
c = sqlite3.connect(path)
now = datetime.datetime.now(datetime.timezone.utc)
span = datetime.timedelta(days=days).total_seconds()
rings = ("dev", "qa", "prod")
org = "https://tfs.fabrikam.example/DefaultCollection/project/_git/"
def sha(*parts):
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()
def rows():
    for i in range(n):
        svc = i % 10
        at = now - datetime.timedelta(seconds=span * (n - i) / n)
        yield ("%012x" % (i + 1), "fabrikam/svc-%d" % svc, sha("src", i),
               "svc-%d-%d" % (svc, i), str(100000 + i), str(500000 + i), str(900000 + i),
               rings[i % 3], sha("hld", i), sha("manifest", i), str(i + 1),
               org + "svc-%d" % svc, org + "hld", org + "manifests",
               at.isoformat(timespec="microseconds").replace("+00:00", "Z"), i + 2)
c.executemany(
    "INSERT INTO records (partition_key, row_key, service, commitId, imageTag, p1, p2, p3, env,"
    " hldCommitId, manifestCommitId, pr, sourceRepo, hldRepo, manifestRepo, timestamp, version,"
    " change_seq) VALUES ('bench', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)", rows())
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
PY
}

"$bin" record --store "sqlite:$dir/empty.db" -p bench --p1 0 --image-tag t0 --commit-id c --service s >/dev/null
printf '%-48s%s\n' "record into an empty store:" "$(median_record_ms "$dir/empty.db")"
for n in $sizes; do
  fill "$dir/$n.db" "$n"
  label=$(printf "%'d" "$n")
  printf '%-48s%s\n' "get --top 10 over $label records (last 90 days):" "$(get_figures "$dir/$n.db")"
  printf '%-48s%s\n' "get --top 10 over $label records (--since all):" "$(get_figures "$dir/$n.db" --since all)"
  printf '%-48s%s\n' "record into a store of $label:" "$(median_record_ms "$dir/$n.db")"
  rm -f "$dir/$n.db"*
done
