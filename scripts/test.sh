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
packages=(cmake ninja-build g++ pkg-config libopenblas-dev libtbb-dev libfmt-dev libcli11-dev catch2 nlohmann-json3-dev
          python3-numpy python3-torch libopenmpi-dev openmpi-bin)

source scripts/packages.sh
install_missing_packages test.sh "${packages[@]}"

# ---- build and test -----------------------------------------------------------------------
echo "==> Configuring (preset release, build/release)"
cmake --preset release "${fresh[@]}"
echo "==> Building"
cmake --build --preset release
echo "==> Testing"
status=0
ctest --preset release || status=$?
exit "$status"
