#!/usr/bin/env bash
# Formats the hand-written Swift (generated code excluded).
#   scripts/format.sh         rewrite in place
#   scripts/format.sh --lint  fail on any difference (CI)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mapfile -t files < <(git ls-files --cached --others --exclude-standard '*.swift' | grep -v '/Generated/')
if [[ "${1:-}" == "--lint" ]]; then
  swift format lint --strict --parallel "${files[@]}"
else
  swift format format --in-place --parallel "${files[@]}"
fi
