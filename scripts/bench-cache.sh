#!/usr/bin/env bash
# What the answers cache saves a user of `spektate get`: requests and wall time of a cold
# call (no cache file) and of a warm one (the cache the cold call wrote), against a fake
# Azure DevOps on this machine that answers the builds and commits batch APIs in their
# documented shapes and counts requests. COUNT deployments (default 2000), each a p1 build
# of one of 10 services, all completed but the newest, which is still running. Each answer
# takes LATENCY_MS (default 100), about what the service takes over the Internet.
#
#   bash scripts/bench-cache.sh              # release build
#   PROFILE=debug COUNT=500 bash scripts/bench-cache.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
profile=${PROFILE:-release}
count=${COUNT:-2000}
latency=${LATENCY_MS:-100}
flag=(); [ "$profile" = release ] && flag=(--release)
cargo build --quiet -p spektate-cli "${flag[@]}"
bin="$PWD/target/$profile/spektate"
dir=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
unset SPEKTATE_GITHUB_TOKEN SPEKTATE_MANIFEST_REPO SPEKTATE_HLD_REPO SPEKTATE_SOURCE_REPO SPEKTATE_CACHE

python3 - "$dir" "$count" "$latency" <<'PY' &
import http.server, json, sys, threading, time, urllib.parse
d, count, latency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) / 1000
lock, served = threading.Lock(), [0]
def sha(i): return format(i, "040x")
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, body):
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def count(self):
        time.sleep(latency)
        with lock:
            served[0] += 1
            open(f"{d}/served", "w").write(str(served[0]))
    def do_GET(self):
        self.count()
        u = urllib.parse.urlparse(self.path)
        q = urllib.parse.parse_qs(u.query)
        if u.path.endswith("/_apis/build/builds"):
            base = f"http://{self.headers['Host']}"
            ids = [int(i) for v in q.get("buildIds", []) for i in v.split(",") if i.isdigit()]
            out = []
            for i in ids:
                if not 1 <= i <= count: continue
                running = i == count
                m = f"2026-11-{1 + (i * 10) // (24 * 60) % 28:02d}T{(i * 10) // 60 % 24:02d}:{i * 10 % 60:02d}"
                out.append({"_links": {"web": {"href": f"{base}/fabrikam/hello/_build/results?buildId={i}"}},
                    "id": i, "buildNumber": f"20261129.{i}", "status": "inProgress" if running else "completed",
                    "result": None if running else "succeeded", "queueTime": m + ":00Z", "startTime": m + ":10Z",
                    "finishTime": None if running else m + ":50Z", "lastChangedDate": m + ":51Z",
                    "sourceBranch": "refs/heads/main", "sourceVersion": sha(i), "definition": {"name": f"svc-{i % 10}"},
                    "repository": {"type": "TfsGit", "name": f"svc-{i % 10}", "url": f"{base}/fabrikam/hello/_git/svc-{i % 10}"}})
            return self.send({"count": len(out), "value": out})
        self.send_response(404); self.end_headers()
    def do_POST(self):
        self.count()
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path.split("?")[0].endswith("/commitsbatch"):
            out = [{"commitId": c, "author": {"name": "Author " + c[-4:], "email": "a@example.com", "date": "2026-11-01T00:00:00Z"},
                    "committer": {"name": "Author", "email": "a@example.com", "date": "2026-11-01T00:00:00Z"},
                    "comment": "change"} for c in body.get("ids", [])]
            return self.send({"count": len(out), "value": out})
        self.send_response(404); self.end_headers()
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(f"{d}/port", "w").write(str(s.server_address[1]))
s.serve_forever()
PY
server_pid=$!
for _ in $(seq 50); do [ -s "$dir/port" ] && break; sleep 0.1; done
url="http://127.0.0.1:$(cat "$dir/port")"

export SPEKTATE_STORE="sqlite:$dir/store.db" SPEKTATE_PARTITION_KEY=bench SPEKTATE_AZDO_TOKEN=pat-bench-0000
for i in $(seq 1 "$count"); do
  "$bin" record --p1 "$i" --image-tag "svc-$((i % 10))-$i" --service "svc-$((i % 10))" \
    --commit-id "$(printf '%040x' "$i")" >/dev/null
done

served() { cat "$dir/served" 2>/dev/null || echo 0; }
run() { # label [flags...]
  local label=$1 before t0 t1
  shift
  before=$(served)
  t0=$(date +%s%N)
  "$bin" get -o json --since all --org fabrikam --project hello --azdo-url "$url" "$@" >"$dir/out.json"
  t1=$(date +%s%N)
  printf '%-28s %5d requests  %6.2f s\n' "$label" $(( $(served) - before )) "$(echo "($t1 - $t0) / 1000000000" | bc -l)"
}
echo "spektate get over $count deployments ($profile build), fake Azure DevOps answering in $latency ms"
run "cold (--no-cache)" --no-cache
run "first call (empty cache)" --cache "$dir/answers.sqlite"
run "second call (warm cache)" --cache "$dir/answers.sqlite"
run "get --top 3 (no cache)" --no-cache --top 3
run "get --top 3 (warm cache)" --cache "$dir/answers.sqlite" --top 3
