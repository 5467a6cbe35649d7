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
packages=(cmake ninja-build g++ pkg-config libopenblas-dev libtbb-dev libfmt-dev libcli11-dev catch2 nlohmann-json3-dev)

source scripts/packages.sh
install_missing_packages demo.sh "${packages[@]}"

# ---- build and run ------------------------------------------------------------------------
echo "==> Configuring (preset release, build/release)"
cmake --preset release
echo "==> Building examples/$example"
cmake --build --preset release --target "$example"
echo "==> Running build/release/examples/$example $*"
exec "build/release/examples/$example" "$@"
