#!/usr/bin/env bash
# Every C source and header follows .clang-format. Prints the files that do
# not (fix them with `clang-format -i FILE`). Without clang-format the check
# fails under CI=true and is skipped elsewhere (exit 77, ctest's SKIP code).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$here"
fmt=$(command -v clang-format || command -v clang-format-14 || true)
if [ -z "$fmt" ]; then
  if [ "${CI:-}" = "true" ]; then
    echo "check_format: clang-format is not installed (runs/setup.sh installs it)" >&2
    exit 1
  fi
  echo "check_format: skipped: clang-format is not installed" >&2
  exit 77
fi
mapfile -t files < <(find src models tests -name '*.[ch]' -not -path '*/build*' | sort)
bad=()
for f in "${files[@]}"; do
  "$fmt" --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done
if ((${#bad[@]})); then
  printf 'check_format: not formatted as .clang-format says (clang-format -i FILE):\n' >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
