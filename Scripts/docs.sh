#!/usr/bin/env bash
# Builds ComponentKit's DocC documentation (the API and the tutorial "Write a component
# in Swift") into .build/docs/ComponentKit, as a static site. Fails on any warning (a
# broken symbol link, say), so CI runs it as a check.
set -euo pipefail
cd "$(dirname "$0")/.."
out=.build/docs/ComponentKit
mkdir -p "$(dirname "$out")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
swift package --allow-writing-to-directory "$out" generate-documentation --target ComponentKit \
  --output-path "$out" --transform-for-static-hosting --warnings-as-errors >"$log" 2>&1 || status=$?
grep -v '^\[[0-9]*/[0-9]*\]' "$log" | grep -v '^Building\|^Build of\|^Compiling\|^Write swift' || true
if [ "$status" != 0 ] || grep -q "warning:\|error:" "$log"; then
  echo "docs: ComponentKit's documentation did not build cleanly (above)" >&2
  exit 1
fi
echo "docs: $out (open index.html through a web server, or read the sources in Sources/ComponentKit/ComponentKit.docc)"
