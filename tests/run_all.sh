#!/usr/bin/env bash
# Set up (install, build) and run the whole test suite: Criterion unit tests,
# command-line tests and analysis tests, all through ctest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/runs/setup.sh"
cd "${TRADEABM_BUILD:-$here/build}"
ctest --output-on-failure -j 2 "$@"
