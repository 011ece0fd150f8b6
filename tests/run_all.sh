#!/usr/bin/env bash
# Set up (install, build) and run the whole test suite: Criterion unit tests,
# command-line tests and analysis tests, all through ctest. With CI=true the
# unit tests also run in a second build with AddressSanitizer and
# UndefinedBehaviorSanitizer (build folder $TRADEABM_ASAN_BUILD, default
# build-asan/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/runs/setup.sh" --tests
cd "${TRADEABM_BUILD:-$here/build}"
status=0
ctest --output-on-failure -j 2 "$@" || status=$?
# ctest lists skipped tests without their reason; the tests printed it.
grep -h "^tradeabm-tests: skipped: " Testing/Temporary/LastTest*.log 2>/dev/null | sort -u >&2 || true
if [ "${CI:-}" = "true" ]; then
  asan="${TRADEABM_ASAN_BUILD:-$here/build-asan}"
  start=$(date +%s)
  cmake -S "$here" -B "$asan" -DCMAKE_BUILD_TYPE=Debug \
    -DTRADEABM_SANITIZE=ON -DTRADEABM_WERROR=ON -DTRADEABM_FUZZ=OFF >/dev/null
  cmake --build "$asan" -j "$(nproc)"
  # Leaks are errors; the first sanitizer report fails the test.
  (cd "$asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --output-on-failure -j 2 -R '^unit\.') || status=$?
  echo "run_all: sanitizer pass took $(($(date +%s) - start)) s" >&2
fi
exit "$status"
