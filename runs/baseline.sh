#!/usr/bin/env bash
# Set up (install, build) and run the Canadian baseline. Extra arguments go to
# `tradeabm run`, e.g. `runs/baseline.sh --panel --seed 7`. Output lands in
# runs/output/ under a new name each time (nothing is overwritten).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$here/runs/setup.sh"
mkdir -p "$here/runs/output"
cd "$here/runs/output"
exec "${TRADEABM_BUILD:-$here/build}/tradeabm" run "$@"
