#!/usr/bin/env bash
# Moves every package of Spektate to one new version: the crates (Cargo.toml's
# [workspace.package] and the crates' dependencies on each other), the Python package (whose
# version pyproject.toml takes from Cargo.toml), @spektate/node and its per-platform packages,
# the Helm chart and the kustomize image tag; CHANGELOG.md's Unreleased section becomes
# [X.Y.Z] - today. Then it checks that every version agrees and refreshes Cargo.lock.
#
#   scripts/bump-version.sh 0.2.0
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ $# -ne 1 ]; then
  echo "usage: scripts/bump-version.sh X.Y.Z" >&2
  exit 2
fi
python3 scripts/versions.py bump "$1"
# Only the workspace's own packages change in the lockfile.
cargo update --workspace --quiet
