#!/usr/bin/env bash
# Sweep throughput of small runs with `tradeabm sweep` at --jobs 1 and
# --jobs N (N: the cores, or the second argument), one OpenMP thread a run,
# alternating the two K times (third argument, default 5) and printing each
# pass with the load average before it, then the median and best of each
# and the speed-up of the medians (issue 18 asks at least 1.8 at --jobs 2
# on 2 cores). Run it on an otherwise idle machine: under load the figures
# measure the load.
# Usage: runs/bench_sweep.sh [BUILD_DIR] [N] [K] [RUNS]
# The world: the benchmark world of `tradeabm bench` (6 sectors, US and CN,
# 41-point grid, myopic model: no start-of-run solve) with 3,000 firms, 12 logged and 10 burn-in
# periods; RUNS runs a sweep (default 100), one point, RUNS replicates.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
jobs="${2:-$(nproc)}"
passes="${3:-5}"
runs="${4:-100}"
bin="$build/tradeabm"
work="$(mktemp -d "${TMPDIR:-/tmp}/tradeabm-bench-sweep-XXXXXX")"
trap 'rm -rf "$work"' EXIT

{
  echo "run: {model: myopic, seed: 7, start: 2024Q1, periods: 12, burn_in: 10}"
  echo "productivity: {grid: 41}"
  echo "sectors:"
  for s in 0 1 2 3 4 5; do
    printf "  s%d: {firms: 500, persistence: 0.95, volatility: %.3f, death_rate: 0.02}\n" "$s" "$(awk -v s=$s 'BEGIN{print 0.10+0.005*s}')"
  done
  cat <<'YAML'
destinations:
  US:
    market: {demand: 1.0, fixed_cost: 1.8, sunk_cost: 6.6}
    regimes: {low: {tariff: 0}, mid: {tariff: 0.1}, high: {tariff: 0.25}}
    transition: [[0.95, 0.04, 0.01], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]]
  CN:
    market: {demand: 0.3, fixed_cost: 1.8, sunk_cost: 6.6}
    regimes: {normal: {tariff: 0}, duties: {tariff: 0.25}, ban: {closed: true}}
    transition: [[0.97, 0.02, 0.01], [0.1, 0.85, 0.05], [0.1, 0.1, 0.8]]
YAML
} >"$work/base.yaml"
cat >"$work/sweep.yaml" <<EOF2
base: base.yaml
seed: 1
replicates: $runs
design:
  grid:
    destinations.US.market.demand: [1.0]
summary:
  outcomes: [non_us_share]
  periods: 4
EOF2

model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || echo unknown)
echo "Machine: $(nproc) cores ($model); $("$bin" --version | head -1)"
echo "Sweep: $runs runs of 3,000 firms, 12 logged periods; --jobs 1 and --jobs $jobs, $passes passes"
echo
echo "| pass | jobs | seconds | runs/s | load before |"
echo "|---|---|---|---|---|"
rates1=() ratesn=()
rate=""
one_pass() { # PASS JOBS: prints the table row, leaves runs/s in $rate
  rm -rf "$work/out"
  local load t0 t1
  load=$(cut -d' ' -f1 /proc/loadavg)
  t0=$(date +%s.%N)
  "$bin" sweep "$work/sweep.yaml" -o "$work/out" --jobs "$2" --threads "$2" -q >/dev/null
  t1=$(date +%s.%N)
  rate=$(awk -v a="$t0" -v b="$t1" -v n="$runs" 'BEGIN{printf "%.2f", n/(b-a)}')
  awk -v a="$t0" -v b="$t1" -v r="$rate" -v j="$2" -v p="$1" -v l="$load" \
    'BEGIN{printf "| %d | %d | %.2f | %s | %s |\n", p, j, b-a, r, l}'
}
for p in $(seq 1 "$passes"); do
  one_pass "$p" 1
  rates1+=("$rate")
  one_pass "$p" "$jobs"
  ratesn+=("$rate")
done
stats() { # runs/s values -> "median best"
  printf "%s\n" "$@" | sort -g | awk '{v[NR]=$1} END{m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%.2f %.2f", m, v[NR]}'
}
read -r med1 best1 <<<"$(stats "${rates1[@]}")"
read -r medn bestn <<<"$(stats "${ratesn[@]}")"
echo
echo "| jobs | runs/s median | runs/s best |"
echo "|---|---|---|"
echo "| 1 | $med1 | $best1 |"
echo "| $jobs | $medn | $bestn |"
echo
awk -v a="$medn" -v b="$med1" -v j="$jobs" 'BEGIN{printf "Speed-up at --jobs %d (medians): %.2f\n", j, a/b}'
