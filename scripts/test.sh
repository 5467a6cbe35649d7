#!/usr/bin/env bash
# scripts/test.sh [--fresh]: the README's test command.
#
# Installs the Debian packages the build needs (when run as root; otherwise prints the apt-get
# line and stops), configures and builds the `release` preset in build/release (incrementally,
# or from scratch with --fresh) and runs every test with ctest. The exit status is ctest's.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root, whatever the caller's cwd

fresh=()
case "${1:-}" in
  --fresh) fresh=(--fresh) ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--fresh]" >&2; exit 2 ;;
esac

# ---- Debian packages ---------------------------------------------------------------------
packages=(cmake ninja-build g++ pkg-config libopenblas-dev libtbb-dev libfmt-dev catch2 nlohmann-json3-dev
          python3-numpy python3-torch)

install_missing_packages() {
  if ! command -v dpkg >/dev/null; then
    echo "test.sh: dpkg not found (not Debian?); assuming these are installed: ${packages[*]}" >&2
    return 0
  fi
  local missing=() p
  for p in "${packages[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "test.sh: missing Debian packages: ${missing[*]}" >&2
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

# ---- build and test -----------------------------------------------------------------------
echo "==> Configuring (preset release, build/release)"
cmake --preset release "${fresh[@]}"
echo "==> Building"
cmake --build --preset release
echo "==> Testing"
status=0
ctest --preset release || status=$?
exit "$status"
