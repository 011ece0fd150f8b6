#!/usr/bin/env bash
# Strong scaling of the engine: the full benchmark workload at 1, 2, 4, 8 and
# 16 threads (those the machine has), as a Markdown table for
# docs/performance.md, with the machine and its load at each step.
# Usage: runs/scaling.sh [BUILD_DIR] [bench options, e.g. --quick]
#   THREADS="1 16" runs/scaling.sh ...   other thread counts (a count above
#   the machine's cores is run when listed here: a smoke test, not a figure)
# Needs a built tree (runs/setup.sh) and the repository's params/ folder.
# Efficiency is firm-periods/s per core against the first row's; "all
# cores" is the whole team's rate (per core x threads).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$here/build"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
  build=$1
  shift
fi
cores=$(nproc)
threads=${THREADS:-}
if [ -z "$threads" ]; then
  for t in 1 2 4 8 16; do
    [ "$t" -le "$cores" ] && threads="$threads $t"
  done
fi
model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "Machine: $cores cores ($model); $("$build/tradeabm" --version | head -1); $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| threads | dynamic fps/core | myopic fps/core | kernel fps/core | efficiency (dynamic) | all cores, dynamic | load before |"
echo "|---|---|---|---|---|---|---|"
# A figure of `bench` in millions (or "unavailable").
figure() { awk -v n="$1" '$2==n {if ($3=="unavailable") print $3; else printf "%.1f M", $3/1e6}' <<<"$2"; }
base=""
for t in $threads; do
  load=$(cut -d' ' -f1 /proc/loadavg)
  out=$("$build/tradeabm" bench --threads "$t" --params-dir "$here/params" "$@")
  ref=$(awk '$2=="dynamic_fps_per_core"{print $3}' <<<"$out")
  [ "$ref" = "unavailable" ] && ref=$(awk '$2=="myopic_fps_per_core"{print $3}' <<<"$out")
  [ -n "$base" ] || base=$ref
  eff=$(awk -v a="$ref" -v b="$base" 'BEGIN{printf "%.0f%%", 100*a/b}')
  all=$(awk -v a="$ref" -v t="$t" 'BEGIN{printf "%.2f G firm-periods/s", a*t/1e9}')
  printf "| %d | %s | %s | %s | %s | %s | %s |\n" "$t" "$(figure dynamic_fps_per_core "$out")" \
    "$(figure myopic_fps_per_core "$out")" "$(figure kernel_fps_per_core "$out")" "$eff" "$all" "$load"
done
