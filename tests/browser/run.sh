#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium (the Debian package, never a downloaded
# one) driven by playwright-core.
#
#   bash tests/browser/run.sh
#
# Installs what is missing (chromium with apt, playwright-core with npm ci), builds
# `spektate` and the examples it serves, then starts three servers on free 127.0.0.1 ports:
#   - `spektate dashboard` over the Fabrikam store (written by the example) plus a record
#     whose service name is markup;
#   - the `hostile` example: the dashboard mounted at /spektate over a provider whose every
#     text is markup;
#   - `fabrikam --serve`: the scenario played live while the page is open;
#   - `spektate serve --auth header` over the Fabrikam store, whose viewers are named by a
#     header an authenticating proxy would set (the test's browser context sets it);
#   - `spektate dashboard` over a copy of the Fabrikam store with a newer frontend image and
#     names in markup, for the status page (status.test.mjs).
# dashboard_parity.test.mjs starts its own `spektate dashboard` (SPEKTATE_BIN) over a fake
# Azure DevOps Server project; cluster_troubles.test.mjs its own `spektate serve` taking signed
# Flux events; bedrock_settings.test.mjs its own Azurite and `spektate deployment dashboard` /
# `spektate dashboard` from ~/.bedrock/config.yaml and REACT_APP_* variables.
# insights.test.mjs its own `spektate dashboard` over a history recorded with explicit run times;
# it saves the insights and journey pages to target/insights.png and target/journey.png
# (docs/images/ holds copies for the README; the tests never write the checkout).
# eta.test.mjs its own `spektate dashboard` over a history with set step durations and a
# deployment on its way, whose ETA the deployments and journey pages show.
# expired.test.mjs its own `spektate dashboard` over the fake Azure DevOps Server project of
# dashboard-azdo.mjs plus a deployment whose builds the project no longer has.
# Runs the node tests and always stops the servers. Screenshots go to target/dashboard*.png.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
chromium="${CHROMIUM:-/usr/bin/chromium}"

say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'browser test: %s\n' "$*" >&2; exit 1; }

# --- What it needs --------------------------------------------------------------------------
if [ ! -x "$chromium" ]; then
  say "installing chromium (Debian package)"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
    die "$chromium is missing and this user cannot install it; run: apt-get install -y chromium"
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
  [ -x "$chromium" ] || die "apt installed chromium but $chromium is not there; set CHROMIUM=/path/to/chromium"
fi
command -v node >/dev/null || die "node is missing; install Node.js 18 or newer"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || die "node $(node --version) is too old; the test needs Node.js 18 or newer"
if [ ! -f "$here/node_modules/playwright-core/package.json" ]; then
  say "installing playwright-core (npm ci; no browser download)"
  (cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x "$root/tools/azurite/node_modules/.bin/azurite-table" ] && [ -z "${SPEKTATE_AZURITE_TABLE:-}" ]; then
  say "installing Azurite (npm ci in tools/azurite), for bedrock_settings.test.mjs"
  npm ci --prefix "$root/tools/azurite" --no-audit --no-fund --loglevel=error
fi

say "building spektate and the examples"
(
  cd "$root"
  bash scripts/build-bins.sh
)
target="${CARGO_TARGET_DIR:-$root/target}"
spektate="$target/debug/spektate"
fabrikam="$target/debug/examples/fabrikam"
hostile="$target/debug/examples/hostile"

# --- Servers, always stopped ----------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/spektate-browser.XXXXXX")"
# Each server's pid is in $work/NAME.pid (servers start in a subshell, to hand back their URL).
stop() {
  local f pid
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    kill -TERM "$pid" 2>/dev/null || true
  done
  for f in "$work"/*.pid; do
    [ -f "$f" ] || continue
    pid="$(cat "$f")"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop EXIT
trap 'exit 130' INT TERM

# Starts a server whose first http:// line on stdout is its URL; prints the URL.
start() {
  local name="$1"; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null &
  local pid=$!
  echo "$pid" >"$work/$name.pid"
  for _ in $(seq 300); do
    local url
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*/[^ ]*' "$work/$name.out" | head -n1 || true)"
    if [ -n "$url" ]; then printf '%s\n' "$url"; return 0; fi
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.err" >&2; die "$name exited before serving"; }
    sleep 0.1
  done
  cat "$work/$name.err" >&2
  die "$name did not print its URL within 30 s"
}

say "writing the Fabrikam store"
(cd "$work" && "$fabrikam" --keep >/dev/null)
# The status page's store: the Fabrikam store after its last step, plus a newer frontend image
# sent to dev (its approval PR still open) and a live service, ring and cluster named in markup.
for suffix in "" -wal; do [ ! -f "$work/fabrikam.db$suffix" ] || cp "$work/fabrikam.db$suffix" "$work/status.db$suffix"; done
status_record() { SPEKTATE_STORE="sqlite:$work/status.db" SPEKTATE_PARTITION_KEY=fabrikam "$spektate" record "$@" >/dev/null; }
status_record --p1 1002 --image-tag frontend-1002 --commit-id 4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e \
  --service fabrikam/frontend --repository https://github.com/fabrikam/frontend
status_record --p2 3004 --image-tag frontend-1002 --hld-commit-id 5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f \
  --env dev --pr 44 --repository https://github.com/fabrikam/hld
status_record --p1 667 --image-tag evil-667 --commit-id 6676676676676676676676676676676676676676 \
  --service '<img src=x onerror=alert(1)>' --repository https://github.com/fabrikam/evil
status_record --p2 668 --image-tag evil-667 --hld-commit-id 6686686686686686686686686686686686686686 \
  --env '<b>ring</b>' --repository https://github.com/fabrikam/hld
status_record --p3 669 --hld-commit-id 6686686686686686686686686686686686686686
status_record --p3 669 --manifest-commit-id 6696696696696696696696696696696696696696 \
  --repository https://github.com/fabrikam/manifests
for id in 1002 3004 667 668 669; do status_record run --id "$id" --status completed --result succeeded; done
status_record sync --cluster '<script>alert(1)</script>' --commit 6696696696696696696696696696696696696696
export SPEKTATE_STORE="sqlite:$work/fabrikam.db" SPEKTATE_PARTITION_KEY=fabrikam
"$spektate" record --p1 666 --image-tag evil-666 --commit-id 6666666666666666666666666666666666666666 \
  --service '<img src=x onerror=alert(1)>' --repository https://github.com/fabrikam/evil >/dev/null
"$spektate" record run --id 666 --status completed --result failed --url 'javascript:alert(1)' >/dev/null

say "starting the servers"
SPEKTATE_URL="$(start dashboard "$spektate" dashboard --port 0 --bind 127.0.0.1 --refresh 2)"
HOSTILE_URL="$(start hostile "$hostile" --port 0)"
SERVE_URL="$(start serve "$spektate" serve --auth header --port 0 --bind 127.0.0.1 --refresh 2)"
STATUS_URL="$(start status env SPEKTATE_STORE="sqlite:$work/status.db" "$spektate" dashboard --port 0 --bind 127.0.0.1 --refresh 2)"
# Last, just before the page opens: its scenario plays from the start (both approval PRs are
# open 12 to 15 s in, and the page must be watching by then).
FABRIKAM_URL="$(start fabrikam bash -c "cd '$work' && exec '$fabrikam' --serve --port 0 --pace 3")"
SPEKTATE_PID="$(cat "$work/dashboard.pid")"
export SPEKTATE_URL SPEKTATE_PID HOSTILE_URL FABRIKAM_URL SERVE_URL CHROMIUM="$chromium" SPEKTATE_BIN="$spektate"
export SCREENSHOT_DIR="$target" BROWSER_PROFILE="$work/profile" STATUS_URL
say "spektate dashboard: $SPEKTATE_URL  hostile: $HOSTILE_URL  fabrikam --serve: $FABRIKAM_URL  serve --auth header: $SERVE_URL"

say "running the browser test"
cd "$here"
# dashboard.test.mjs first and alone: it watches the Fabrikam scenario as it plays (node --test
# orders the files it is given by name, so one run would start others first).
node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs
node --test --test-concurrency=1 --test-reporter=spec dashboard_parity.test.mjs signin.test.mjs status.test.mjs cluster_troubles.test.mjs bedrock_settings.test.mjs insights.test.mjs eta.test.mjs expired.test.mjs
say "screenshots: $target/dashboard.png, dashboard-live.png, dashboard-filtered.png, dashboard-offline.png, dashboard-parity.png, dashboard-signed-in.png"
