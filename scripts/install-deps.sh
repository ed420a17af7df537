#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Install the Debian 12 packages colovm needs to build, test and benchmark.
# Only packages that are missing are installed, so a second run is a no-op.
#
#   scripts/install-deps.sh            build + test dependencies
#   scripts/install-deps.sh --linux    also what the Linux guest lane needs
set -euo pipefail

pkgs=(
  # build
  g++ gcc meson ninja-build pkg-config python3
  libglib2.0-dev nlohmann-json3-dev zlib1g-dev libzstd-dev
  # test
  libgtest-dev libgmock-dev
  clang libclang-rt-dev            # libFuzzer targets
  clang-format
  qemu-system-x86 qemu-utils       # side-by-side reference and qemu-img
  iproute2 iputils-ping            # network namespaces, veth, tap
  cpio gzip                        # initramfs building
  acpica-tools                     # iasl: the ACPI table unit tests disassemble the tables
)

if [[ ${1:-} == --linux ]]; then
  pkgs+=(busybox-static)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
