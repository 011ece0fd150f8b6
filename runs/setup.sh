#!/usr/bin/env bash
# Install what is missing (Debian packages only), then configure and build.
# Idempotent: a second call installs nothing and rebuilds only what changed.
# Works as root or as a user with sudo. Build folder: $TRADEABM_BUILD (default build/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${TRADEABM_BUILD:-$here/build}"

packages=(cmake build-essential pkg-config libhdf5-dev hdf5-tools libcriterion-dev
  libcyaml-dev libyaml-dev zlib1g-dev libgsl-dev libnlopt-dev libopenmpi-dev openmpi-bin python3-h5py python3-numpy
  python3-pandas python3-matplotlib python3-pytest python3-yaml python3-scipy slurm-wlm munge
  chromium clang-format)  # chromium: the analysis tests render the report pages headless;
  # clang-format: the style check (tests/style/check_format.sh)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
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
fi

cmake_args=(-S "$here" -B "$build" -DPython3_EXECUTABLE=/usr/bin/python3)
if [ "${CI:-}" = "true" ]; then
  cmake_args+=(-DTRADEABM_WERROR=ON)
fi
cmake "${cmake_args[@]}" >/dev/null
cmake --build "$build" -j "$(nproc)"
