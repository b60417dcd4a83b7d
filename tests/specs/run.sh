#!/usr/bin/env bash
# The providers' requests and their test fakes checked against the services' published API
# descriptions (see the *.test.mjs files for what each checks against what).
#
#   bash tests/specs/run.sh
#
# Installs the pinned descriptions and checkers with `npm ci` when missing or when
# package-lock.json changed, runs the provider tests that write what the providers send and
# what their fakes answer into target/specs (unless SPEKTATE_SPECS_OUT names a folder where the
# caller's test run already wrote them all), then `node --test`. The Azure DevOps, Argo CD and
# GitLab descriptions are vendored, trimmed, in azure-devops/, argocd/ and gitlab/.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
say() { printf '==> %s\n' "$*" >&2; }

# --- The descriptions (npm, pinned in package-lock.json) -----------------------------------
stamp="$here/node_modules/.spektate-package-lock.json"
if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
  say "npm ci (tests/specs)"
  npm ci --prefix "$here" --no-audit --no-fund --loglevel=error
  cp "$here/package-lock.json" "$stamp"
fi

# --- What the providers send and their fakes answer ----------------------------------------
logs=(github-graphql-documents.json github-served.jsonl azure-devops-served.jsonl argocd-served.jsonl
  gitlab-served.jsonl)
written() { for f in "${logs[@]}"; do [ -s "$SPEKTATE_SPECS_OUT/$f" ] || return 1; done; }
if [ -n "${SPEKTATE_SPECS_OUT:-}" ] && written; then
  # scripts/test.sh ran the whole workspace's tests with SPEKTATE_SPECS_OUT set just before.
  say "what the provider tests wrote in $SPEKTATE_SPECS_OUT"
else
  export SPEKTATE_SPECS_OUT="$root/target/specs"
  rm -rf "$SPEKTATE_SPECS_OUT"
  mkdir -p "$SPEKTATE_SPECS_OUT"
  say "spektate-github: GraphQL documents and what its fake served"
  # Every test binary of the crate whose tests talk to the fake, but the one test that builds
  # and runs the whole `spektate` binary (the same requests, and a minute of build).
  (cd "$root" && cargo test --quiet -p spektate-github --all-features \
    --test graphql_documents --test actions --test app --test job_ids --test provider_conformance \
    --test rate_limits --test repos --test request_budget \
    -- --skip spektate_validate_and_get_read_github_as_the_app)
  say "spektate-azdo: what its fake organisation served"
  (cd "$root" && cargo test --quiet -p spektate-azdo --all-features \
    --test fake_org_requests --test provider_conformance --test request_budget)
  say "spektate-argocd: what its fake Argo CD served"
  (cd "$root" && cargo test --quiet -p spektate-argocd --all-features --test argocd)
  say "spektate-gitlab: what its fake GitLab served"
  # Every test binary of the crate whose tests talk to the fake, but the one that builds and
  # runs the whole `spektate` binary.
  (cd "$root" && cargo test --quiet -p spektate-gitlab --all-features \
    --test hosts_and_limits --test project_ids --test provider_conformance --test request_budget)
fi

say "checks against the published descriptions"
cd "$here"
node --test ./*.test.mjs
