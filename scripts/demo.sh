#!/usr/bin/env bash
# scripts/demo.sh [example options]: the README's demo command.
#
# Installs the Debian packages the build needs (when run as root; otherwise prints the apt-get
# line and stops), builds the flagship example in Release (preset `release`, build/release) and
# runs it; options are passed to the example (e.g. --epochs 200).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root, whatever the caller's cwd

example=fit_mlp   # the flagship example: examples/fit_mlp/main.cpp

# ---- Debian packages: scripts/test.sh's list less python3-numpy/python3-torch (interop tests) ----
packages=(cmake ninja-build g++ pkg-config libopenblas-dev libtbb-dev libfmt-dev catch2 nlohmann-json3-dev)

install_missing_packages() {
  if ! command -v dpkg >/dev/null; then
    echo "demo.sh: dpkg not found (not Debian?); assuming these are installed: ${packages[*]}" >&2
    return 0
  fi
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "demo.sh: missing Debian packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "==> Installing missing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y "${missing[@]}"
}

install_missing_packages

# ---- build and run ------------------------------------------------------------------------
echo "==> Configuring (preset release, build/release)"
cmake --preset release
echo "==> Building examples/$example"
cmake --build --preset release --target "$example"
echo "==> Running build/release/examples/$example $*"
exec "build/release/examples/$example" "$@"
