#!/usr/bin/env bash
# Every test of the project, on a fresh machine with Rust, Python and Node: installs what the
# tests need (Azurite, PostgreSQL, Chromium, the Python and Node bindings' tools), then runs
# formatting, lints, the Rust tests (Azure Table Storage against a real Azurite, the
# PostgreSQL store against real PostgreSQL servers), the bindings' suites (with the wheel and
# the npm tarballs installed where there is no Rust), the release checks and the dashboard
# in a real browser.
#
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() { printf '\n==> %s\n' "$*" >&2; }

step "formatting"
cargo fmt --all --check

step "lints"
cargo clippy --workspace --all-targets --all-features --exclude spektate-node --quiet -- -D warnings
# The facade without features, as the demo builds it: code only a feature uses must not warn there.
cargo clippy -p spektate --all-targets --quiet -- -D warnings

step "Azurite (npm, pinned in tools/azurite)"
if [ ! -x tools/azurite/node_modules/.bin/azurite-table ]; then
  npm ci --prefix tools/azurite --no-audit --no-fund --loglevel=error
fi

step "PostgreSQL (Debian's postgresql package; the tests start private servers of their own)"
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  sudo=(); [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update
  # openssl makes the TLS tests' certificates.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    postgresql openssl
fi

step "Rust tests"
# The provider tests also write what their fakes served, for tests/specs (the next step).
rm -rf target/specs
SPEKTATE_SPECS_OUT="$PWD/target/specs" \
  cargo test --workspace --all-features --exclude spektate-node --no-fail-fast

step "requests and fakes against the services' published API descriptions (npm, pinned in tests/specs)"
SPEKTATE_SPECS_OUT="$PWD/target/specs" bash tests/specs/run.sh

step "Python and Node bindings"
bash bindings/test.sh

step "release checks: versions, MSRV, crates, docs, install.sh, actionlint"
bash scripts/release-check.sh

step "the dashboard in headless Chromium"
bash tests/browser/run.sh

echo "all tests passed" >&2
