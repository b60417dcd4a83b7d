#!/bin/sh
# Installs the `spektate` binary from a GitHub release: downloads the archive for this machine
# (spektate-X.Y.Z-TARGET.tar.gz) and its .sha256, checks the checksum, and puts `spektate` in
# ~/.local/bin (or --to DIR). Linux (x86_64, aarch64; glibc or musl) and macOS (Intel, Apple
# silicon); on Windows, use the release's .zip or `cargo binstall spektate-cli`.
#
#   curl -fsSL https://raw.githubusercontent.com/spektate/spektate-rs/main/scripts/install.sh | sh
#   sh install.sh --version 0.1.0 --to /usr/local/bin
#
# Settings: --version (or SPEKTATE_VERSION; default: the latest release), --to (or
# SPEKTATE_INSTALL_DIR), SPEKTATE_TARGET to pick another build (e.g. x86_64-unknown-linux-musl),
# SPEKTATE_RELEASES_URL for a mirror of the releases page.
set -eu

releases=${SPEKTATE_RELEASES_URL:-https://github.com/spektate/spektate-rs/releases}
version=${SPEKTATE_VERSION:-}
dir=${SPEKTATE_INSTALL_DIR:-${HOME:-}/.local/bin}
target=${SPEKTATE_TARGET:-}

fail() {
  echo "install.sh: $*" >&2
  exit 1
}

while [ $# -gt 0 ]; do
  case $1 in
    --version) [ $# -ge 2 ] || fail "--version needs a value"; version=$2; shift 2 ;;
    --to) [ $# -ge 2 ] || fail "--to needs a directory"; dir=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0" 2>/dev/null | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown argument '$1' (--version X.Y.Z, --to DIR)" ;;
  esac
done
[ -n "$dir" ] || fail "no directory to install into: set --to DIR"

command -v curl >/dev/null 2>&1 || fail "curl is needed to download the release"
# HTTPS only, redirects included: the .sha256 comes over the same channel as the archive.
# Plain HTTP only for a mirror given as http://... (a local one).
case $releases in
  http://*) proto='=https,http' ;;
  *) proto='=https' ;;
esac
download() { # url, file
  curl --proto "$proto" --proto-redir "$proto" --fail --silent --show-error --location --retry 3 \
    --output "$2" "$1" || fail "could not download $1"
}

if [ -z "$target" ]; then
  os=$(uname -s)
  arch=$(uname -m)
  case $arch in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) fail "no release build for the processor '$arch'" ;;
  esac
  case $os in
    Linux)
      libc=gnu
      if ! (ldd --version 2>&1 | grep -qiE 'glibc|gnu libc'); then libc=musl; fi
      # The musl build runs on every Linux; only x86_64 has one.
      if [ "$libc" = musl ] && [ "$arch" != x86_64 ]; then fail "no musl build for $arch: set SPEKTATE_TARGET"; fi
      target="$arch-unknown-linux-$libc"
      ;;
    Darwin) target="$arch-apple-darwin" ;;
    *) fail "no release build for '$os': on Windows use the release's .zip or cargo binstall spektate-cli" ;;
  esac
fi

if [ -z "$version" ]; then
  # The latest release's page redirects to .../tag/vX.Y.Z.
  latest=$(curl --proto "$proto" --proto-redir "$proto" --fail --silent --show-error --location \
    --output /dev/null --write-out '%{url_effective}' "$releases/latest") ||
    fail "could not find the latest release at $releases/latest"
  version=${latest##*/v}
  case $version in
    [0-9]*.[0-9]*.[0-9]*) ;;
    *) fail "the latest release at $releases/latest is not a version vX.Y.Z ($latest)" ;;
  esac
fi
version=${version#v}

name="spektate-$version-$target"
url="$releases/download/v$version/$name.tar.gz"
work=$(mktemp -d "${TMPDIR:-/tmp}/spektate-install.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

echo "downloading $url" >&2
download "$url" "$work/$name.tar.gz"
download "$url.sha256" "$work/$name.tar.gz.sha256"
expected=$(cut -d ' ' -f 1 "$work/$name.tar.gz.sha256")
if command -v sha256sum >/dev/null 2>&1; then
  actual=$(sha256sum "$work/$name.tar.gz" | cut -d ' ' -f 1)
elif command -v shasum >/dev/null 2>&1; then
  actual=$(shasum -a 256 "$work/$name.tar.gz" | cut -d ' ' -f 1)
else
  fail "sha256sum or shasum is needed to check the download"
fi
[ -n "$expected" ] && [ "$expected" = "$actual" ] ||
  fail "sha256 of $name.tar.gz is $actual, the release says ${expected:-nothing}: not installed"

tar -xzf "$work/$name.tar.gz" -C "$work"
[ -f "$work/$name/spektate" ] || fail "$name.tar.gz holds no $name/spektate"
mkdir -p "$dir"
# Copied next to its place, then renamed: a running spektate is never overwritten half-way.
cp "$work/$name/spektate" "$dir/.spektate.new"
chmod 0755 "$dir/.spektate.new"
mv -f "$dir/.spektate.new" "$dir/spektate"
echo "installed $("$dir/spektate" --version) to $dir/spektate" >&2
case ":${PATH:-}:" in
  *":$dir:"*) ;;
  *) echo "add $dir to PATH to run spektate" >&2 ;;
esac
