#!/usr/bin/env bash
# Builds the debug binaries and examples the script-driven suites run (`spektate`,
# `spektate-test-postgres`, the `fabrikam` and `hostile` examples) in target/debug.
#
#   bash scripts/build-bins.sh
#
# It selects what `cargo test --workspace --all-features --exclude spektate-node` selects, so
# the features of every crate are the same: after scripts/test.sh's Rust tests it compiles
# nothing, and the Rust tests that run `spektate` (spektate-github's and spektate-gitlab's
# `support::spektate_bin`) run this script to build it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
"${CARGO:-cargo}" build --quiet --workspace --all-features --exclude spektate-node --bins --examples
