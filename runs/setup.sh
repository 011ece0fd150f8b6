#!/usr/bin/env bash
# Install what is missing (Debian packages only), then configure and build.
#   runs/setup.sh           what building and running tradeabm needs
#   runs/setup.sh --tests   also what the test suite needs (tests/run_all.sh)
# Idempotent: a second call installs nothing and rebuilds only what changed.
# Works as root or as a user with sudo. Build folder: $TRADEABM_BUILD (default build/).
# The Slurm and munge daemons that slurm-wlm and munge install are stopped
# and disabled again: the Slurm test starts its own, in a temporary folder.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRADEABM_BUILD:-$here/build}"
tests=0
case "${1:-}" in
  --tests) tests=1 ;;
  "") ;;
  *) echo "usage: runs/setup.sh [--tests]" >&2; exit 2 ;;
esac

packages=(cmake build-essential pkg-config libhdf5-dev hdf5-tools libcyaml-dev libyaml-dev zlib1g-dev libgsl-dev
  libnlopt-dev)
if ((tests)); then
  # Criterion: unit tests; python3-*: command-line and analysis tests;
  # chromium: the report pages rendered headless; clang-format: the style
  # check; openmpi, slurm-wlm, munge: sweeps under mpirun and Slurm.
  packages+=(libcriterion-dev python3-h5py python3-numpy python3-pandas python3-matplotlib python3-pytest
    python3-yaml python3-scipy python3-cycler chromium clang-format libopenmpi-dev openmpi-bin slurm-wlm munge)
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
    sudo_cmd=(sudo)
  fi
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Daemons this call installed do not keep running on a workstation.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    for p in "${missing[@]}"; do
      case "$p" in
        slurm-wlm) units=(slurmd slurmctld) ;;
        munge) units=(munge) ;;
        *) continue ;;
      esac
      "${sudo_cmd[@]}" systemctl disable --now "${units[@]}" >/dev/null 2>&1 || true
    done
  fi
fi

# Options follow what is installed now, every time, so that a build first
# configured without MPI or Criterion picks them up once the test command
# has installed them (CMake would otherwise keep the cached OFF).
cmake_args=(-S "$here" -B "$build")
if pkg-config --exists criterion 2>/dev/null; then cmake_args+=(-DTRADEABM_TESTS=ON); else cmake_args+=(-DTRADEABM_TESTS=OFF); fi
if command -v mpicc >/dev/null; then cmake_args+=(-DTRADEABM_MPI=ON); else cmake_args+=(-DTRADEABM_MPI=OFF); fi
if [ "${CI:-}" = "true" ]; then
  cmake_args+=(-DTRADEABM_WERROR=ON)
fi
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
