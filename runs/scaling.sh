#!/usr/bin/env bash
# Strong scaling of the engine: the full benchmark workload at 1, 2, 4, 8 and
# 16 threads (those the machine has), as a Markdown table for
# docs/performance.md, with the machine and its load at each step.
# Usage: runs/scaling.sh [BUILD_DIR] [bench options, e.g. --quick]
# Needs a built tree (runs/setup.sh) and the repository's params/ folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
shift || true
cores=$(nproc)
model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "Machine: $cores cores ($model); $("$build/tradeabm" --version | head -1)"
echo
echo "| threads | dynamic fps/core | myopic fps/core | kernel fps/core | efficiency (dynamic) | load before |"
echo "|---|---|---|---|---|---|"
base=""
for t in 1 2 4 8 16; do
  [ "$t" -le "$cores" ] || break
  load=$(cut -d' ' -f1 /proc/loadavg)
  out=$("$build/tradeabm" bench --threads "$t" --params-dir "$here/params" "$@")
  dyn=$(awk '$2=="dynamic_fps_per_core"{print $3}' <<<"$out")
  myo=$(awk '$2=="myopic_fps_per_core"{print $3}' <<<"$out")
  ker=$(awk '$2=="kernel_fps_per_core"{print $3}' <<<"$out")
  ref=$dyn
  [ "$ref" = "unavailable" ] && ref=$myo
  [ -n "$base" ] || base=$ref
  eff=$(awk -v a="$ref" -v b="$base" 'BEGIN{printf "%.0f%%", 100*a/b}')
  printf "| %d | %s | %s | %s | %s | %s |\n" "$t" "$dyn" "$myo" "$ker" "$eff" "$load"
done
