#!/usr/bin/env bash
# The Python and Node bindings' tests, on a machine with Rust, Python 3 (pip, venv), Node (npm)
# and the PostgreSQL server binaries (Debian's `postgresql` package, which scripts/test.sh
# installs): builds the `spektate` CLI the suites compare with and start as `spektate serve`,
# and `spektate-test-postgres`, which starts a private PostgreSQL server for them; installs the
# Python bindings with pytest and mypy into a virtual environment under target/, installs the
# Node package (its `prepare` script builds the addon), then runs pytest, `mypy --strict` on the
# examples and `node --test`. The bindings are release builds, as maturin and napi make them. It also lints
# the Node addon, which scripts/test.sh leaves out of the workspace's clippy and tests (an addon
# cannot link into a Rust test binary; its dependencies are linted there), and checks the
# built index.d.ts against the Rust words.
#
#   bash bindings/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*" >&2; }

step "Node: clippy on the addon"
cargo clippy --quiet -p spektate-node --all-targets --no-deps -- -D warnings

step "the spektate CLI (both suites compare their output with \`spektate get\` and record through \`spektate serve\`)"
cargo build --quiet -p spektate-cli
export SPEKTATE_CLI="$root/target/debug/spektate"

step "spektate-test-postgres (a private PostgreSQL server for the PostgreSQL tests)"
cargo build --quiet -p spektate-bindings-common --features testkit --bin spektate-test-postgres
export SPEKTATE_TEST_POSTGRES="$root/target/debug/spektate-test-postgres"

step "Python: the bindings, pytest and mypy in target/bindings-venv"
venv="$root/target/bindings-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check pytest mypy
# Always rebuilt, so the suite runs the code of this checkout.
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps ./bindings/python

step "Python: pytest"
(cd bindings/python && "$py" -m pytest -q -p no:cacheprovider tests)

step "Python: mypy --strict on the examples"
"$py" -m mypy --strict --cache-dir "$root/target/mypy-cache" bindings/python/examples/trace.py bindings/python/examples/record.py

step "Node: npm ci (builds the addon)"
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error)

step "Node: the built index.d.ts has the words of the Rust enums"
SPEKTATE_NODE_TYPES="$root/bindings/node/index.d.ts" \
  cargo test --quiet -p spektate-bindings-common --test word_lists

step "Node: node --test"
(cd bindings/node && node --test test/*.test.mjs)

echo "bindings: all tests passed" >&2
