#!/bin/sh
# Runs every *.test.ts under src/, conformance/ and scripts/ with node:test (Node 20 does not expand
# globs and silently runs nothing when given a directory, so the files are listed explicitly). The preload
# keeps --test-force-exit from losing verdicts (see scripts/test-stdout-blocking.mjs).
set -eu
cd "$(dirname "$0")/.."
files=$(find src conformance scripts -name '*.test.ts' -not -path '*/node_modules/*' | sort)
[ -n "$files" ] || { echo "no test files found" >&2; exit 1; }
export GITHUB_STEP_SUMMARY="${GITHUB_STEP_SUMMARY:-/dev/null}"
# shellcheck disable=SC2086
exec node --enable-source-maps --import tsx --import ./scripts/test-stdout-blocking.mjs --test --test-force-exit \
  --test-timeout=120000 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=node-test-github-reporter --test-reporter-destination=stdout $files
