#!/usr/bin/env bash
# Formats the hand-written Swift with swift-format and the rules in .swift-format
# (line length 100); the generated code (Sources/ApiaryContracts/Generated) is left as
# protoc wrote it. With --lint, changes nothing and fails on any difference or rule
# finding (`swift format lint --strict`), as CI runs it.
#
#   Scripts/format.sh          # format in place
#   Scripts/format.sh --lint   # check only
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.swift' \
  | grep -v '^Sources/ApiaryContracts/Generated/' | LC_ALL=C sort)
[ ${#files[@]} -gt 0 ] || { echo "format: no Swift files" >&2; exit 1; }
if [ "${1:-}" = "--lint" ]; then
  swift format lint --strict --parallel --configuration .swift-format "${files[@]}"
  echo "format: ${#files[@]} Swift files match .swift-format"
else
  swift format --in-place --parallel --configuration .swift-format "${files[@]}"
  echo "format: ${#files[@]} Swift files formatted"
fi
