#!/usr/bin/env bash
# The Python and Node bindings' tests, on a machine with Rust, Python 3 (pip, venv), Node (npm)
# and the PostgreSQL server binaries (Debian's `postgresql` package, which scripts/test.sh
# installs): builds the `spektate` CLI the suites compare with and start as `spektate serve`,
# and `spektate-test-postgres`, which starts a private PostgreSQL server for them. Python: builds
# the abi3 wheel once (`maturin build --release`), installs that wheel into a fresh virtual
# environment on a PATH without cargo and runs the examples there (as a user without Rust
# would), installs it with pytest and mypy into a virtual environment under target/, runs
# pytest and `mypy --strict` on the examples and the metrics tests, and checks that the source
# distribution builds.
# Node: installs the package (its `prepare` script builds the addon), runs `node --test`, then
# packs @spektate/node and @spektate/node-linux-x64-gnu as they are published, installs the two
# tarballs into a fresh folder on a PATH without cargo and runs the examples there. The
# bindings are release builds, as maturin and napi make them. It also lints the Node addon,
# which scripts/test.sh leaves out of the workspace's clippy and tests (an addon cannot link
# into a Rust test binary; its dependencies are linted there), and checks the built
# index.d.ts against the Rust words. Set SPEKTATE_INSTALL_TIMES=FILE to have the install
# times of the wheel and the tarballs written there.
#
#   bash bindings/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*" >&2; }

step "Node: clippy on the addon"
cargo clippy --quiet -p spektate-node --all-targets --no-deps -- -D warnings

step "the spektate CLI (both suites compare their output with \`spektate get\` and record through \`spektate serve\`) and spektate-test-postgres (a private PostgreSQL server for the PostgreSQL tests)"
bash scripts/build-bins.sh
export SPEKTATE_CLI="$root/target/debug/spektate"
export SPEKTATE_TEST_POSTGRES="$root/target/debug/spektate-test-postgres"

# A PATH with no Rust toolchain: what a user who installs a wheel or a tarball has.
no_rust_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
if PATH=$no_rust_path command -v cargo >/dev/null || PATH=$no_rust_path command -v rustc >/dev/null; then
  echo "bindings/test.sh: cargo or rustc is on $no_rust_path; the install tests need a PATH without them" >&2
  exit 1
fi
version=$(python3 scripts/versions.py show)
# Seconds since the epoch, to the millisecond.
now() { date +%s.%3N; }
record_time() { # what, start
  local seconds
  seconds=$(awk -v a="$2" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
  echo "time: $1: ${seconds}s" >&2
  if [ -n "${SPEKTATE_INSTALL_TIMES:-}" ]; then echo "$1 ${seconds}" >>"$SPEKTATE_INSTALL_TIMES"; fi
}
# The journey of the README through the installed package's examples: a p1 recorded into a
# fresh SQLite store, then the deployments read back as JSON (`spektate get -o json`).
check_examples() { # label, PATH, record command..., -- trace command...
  local label=$1 path=$2; shift 2
  local record=() trace=()
  while [ "$1" != "--" ]; do record+=("$1"); shift; done
  shift
  trace=("$@")
  local store_dir
  store_dir=$(mktemp -d "$root/target/tmp/install-store.XXXXXX")
  local out
  out=$(env PATH="$path" SPEKTATE_STORE="sqlite:$store_dir/spektate.db" SPEKTATE_PARTITION_KEY=fabrikam \
    "${record[@]}" --p1 101 --image-tag frontend-101 --commit-id a1b2c3d4e5f6 --service fabrikam/frontend --status completed)
  [[ $out =~ ^[0-9a-f]{12}$ ]] || { echo "$label: record printed '$out', not a deployment id" >&2; exit 1; }
  out=$(env PATH="$path" SPEKTATE_STORE="sqlite:$store_dir/spektate.db" SPEKTATE_PARTITION_KEY=fabrikam "${trace[@]}" --json)
  python3 - "$label" "$out" <<'PY'
import json, sys
label, text = sys.argv[1], sys.argv[2]
deployments = json.loads(text)
assert [d["imageTag"] for d in deployments] == ["frontend-101"], f"{label}: {deployments}"
assert deployments[0]["service"] == "frontend" and deployments[0]["commitId"] == "a1b2c3d4e5f6", f"{label}: {deployments[0]}"
print(f"{label}: the examples recorded and read back frontend-101", file=sys.stderr)
PY
  rm -rf "$store_dir"
}
mkdir -p "$root/target/tmp"

step "Python: maturin, pytest and mypy in target/bindings-venv"
venv="$root/target/bindings-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
py="$venv/bin/python"
"$py" -m pip install --quiet --disable-pip-version-check pytest mypy 'maturin>=1.9,<2'

step "Python: the abi3 wheel (maturin build --release), built once"
wheels="$root/target/wheels/test"
rm -rf "$wheels"
# Always rebuilt, so the suites run the code of this checkout.
started=$(now)
# For the host triple, as napi builds the Node addon: both release builds then share
# target/<triple>/release and the crates they have in common are compiled once.
"$venv/bin/maturin" build --quiet --release --target "$(rustc -vV | sed -n 's/^host: //p')" \
  --manifest-path bindings/python/Cargo.toml --out "$wheels"
record_time "maturin build --release of the wheel (from source, with target/ as it was)" "$started"
wheel=$(ls "$wheels"/*.whl)
"$py" - "$wheel" "$version" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, version = Path(sys.argv[1]), sys.argv[2]
name, wheel_version, python_tag, abi_tag, _platform = wheel.stem.split("-")
assert (name, wheel_version) == ("spektate", version), f"{wheel.name}: not spektate {version}"
assert (python_tag, abi_tag) == ("cp39", "abi3"), f"{wheel.name}: not one abi3 wheel for Python 3.9 and newer"
files = set(zipfile.ZipFile(wheel).namelist())
for wanted in ("spektate/__init__.py", "spektate/_enums.py", "spektate/_spektate.pyi", "spektate/py.typed"):
    assert wanted in files, f"{wheel.name}: no {wanted}"
assert any(f.startswith("spektate/_spektate.") and f.endswith(".so") for f in files), f"{wheel.name}: no extension module"
print(f"{wheel.name}: abi3, with the stubs and py.typed", file=sys.stderr)
PY

step "Python: the source distribution builds (maturin sdist), with the crates it compiles"
"$venv/bin/maturin" sdist --manifest-path bindings/python/Cargo.toml --out "$wheels" >/dev/null
"$py" - "$wheels"/spektate-*.tar.gz "$version" <<'PY'
import sys, tarfile
from pathlib import Path
sdist, version = Path(sys.argv[1]), sys.argv[2]
assert sdist.name == f"spektate-{version}.tar.gz", f"{sdist.name}: not spektate {version}"
names = {n.split("/", 1)[1] for n in tarfile.open(sdist).getnames() if "/" in n}
for wanted in ("pyproject.toml", "PKG-INFO", "python/spektate/py.typed", "python/spektate/_spektate.pyi",
               "bindings/python/src/lib.rs", "spektate-core/src/lib.rs", "Cargo.lock"):
    found = wanted in names or any(n.endswith("/" + wanted) for n in names)
    assert found, f"{sdist.name}: no {wanted}"
pkg_info = tarfile.open(sdist).extractfile(f"spektate-{version}/PKG-INFO").read().decode()
assert f"\nVersion: {version}\n" in pkg_info, f"{sdist.name}: PKG-INFO is not version {version}"
print(f"{sdist.name}: pyproject, stubs, the bindings' and the core's sources", file=sys.stderr)
PY

step "Python: the wheel in a fresh virtual environment, on a PATH without cargo"
fresh="$root/target/wheel-venv"
rm -rf "$fresh"
# Made without pip (ensurepip is not needed, and fails on some hosts): the pip of
# target/bindings-venv installs the wheel into it, offline, with `--python`.
python3 -m venv --without-pip "$fresh"
started=$(now)
PATH="$fresh/bin:$no_rust_path" "$py" -m pip --python "$fresh/bin/python" install --quiet --disable-pip-version-check --no-index "$wheel"
record_time "pip install of the wheel" "$started"
PATH="$fresh/bin:$no_rust_path" "$fresh/bin/python" -c 'import spektate; print("import spektate:", spektate.__name__)' >&2
check_examples "Python wheel" "$fresh/bin:$no_rust_path" \
  "$fresh/bin/python" bindings/python/examples/record.py -- "$fresh/bin/python" bindings/python/examples/trace.py
rm -rf "$fresh"

step "Python: the same wheel with pytest and mypy"
"$py" -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps "$wheel"

step "Python: pytest"
(cd bindings/python && "$py" -m pytest -q -p no:cacheprovider tests)

step "Python: mypy --strict on the examples and the metrics tests (the stubs of Metrics, Eta, Filter)"
"$py" -m mypy --strict --cache-dir "$root/target/mypy-cache" bindings/python/examples/trace.py bindings/python/examples/record.py \
  bindings/python/tests/test_metrics.py bindings/python/tests/test_expired.py

step "Node: npm ci (builds the addon)"
started=$(now)
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error)
record_time "npm ci in bindings/node (builds the addon from source, with target/ as it was)" "$started"

step "Node: the built index.d.ts has the words of the Rust enums"
SPEKTATE_NODE_TYPES="$root/bindings/node/index.d.ts" \
  cargo test --quiet -p spektate-bindings-common --test word_lists

step "Node: node --test"
(cd bindings/node && node --test test/*.test.mjs)

step "Node: @spektate/node and @spektate/node-linux-x64-gnu packed as published, with the addon built above"
packs="$root/target/npm-pack"
mapfile -t tarballs < <(node bindings/node/scripts/pack.mjs "$packs")
[ "${#tarballs[@]}" -eq 2 ] || { echo "pack.mjs made ${#tarballs[@]} tarballs, not the main and linux-x64-gnu: ${tarballs[*]}" >&2; exit 1; }
node - "${tarballs[0]}" "$version" <<'JS'
const { execFileSync } = require('node:child_process')
const [tarball, version] = process.argv.slice(2)
const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n')
if (files.some((f) => f.endsWith('.node'))) throw new Error(`${tarball}: the main package carries an addon`)
const manifest = JSON.parse(execFileSync('tar', ['-xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }))
const platforms = ['linux-x64-gnu', 'linux-x64-musl', 'linux-arm64-gnu', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']
for (const platform of platforms) {
  const wanted = manifest.optionalDependencies?.[`@spektate/node-${platform}`]
  if (wanted !== version) throw new Error(`${tarball}: optional dependency @spektate/node-${platform} is ${wanted}, not ${version}`)
}
console.error(`${tarball}: ${platforms.length} per-platform packages as optional dependencies at ${version}`)
JS

step "Node: the tarballs in a fresh folder, on a PATH without cargo"
fresh="$root/target/npm-install-test"
rm -rf "$fresh"
mkdir -p "$fresh"
echo '{ "name": "spektate-install-test", "private": true }' >"$fresh/package.json"
cp bindings/node/examples/record.mjs bindings/node/examples/trace.mjs "$fresh/"
started=$(now)
(cd "$fresh" && PATH=$no_rust_path npm install --no-audit --no-fund --loglevel=error "${tarballs[@]}")
record_time "npm install of the tarballs" "$started"
if ls "$fresh"/node_modules/@spektate/node/*.node >/dev/null 2>&1; then
  echo "@spektate/node holds an addon: the loader must find it in @spektate/node-linux-x64-gnu" >&2
  exit 1
fi
(cd "$fresh" && check_examples "Node tarballs" "$no_rust_path" node record.mjs -- node trace.mjs)
rm -rf "$fresh" "$packs"

echo "bindings: all tests passed" >&2
