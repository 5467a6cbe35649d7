#!/usr/bin/env bash
# scripts/demo.sh [example options]: the README's demo command.
#
# Installs the Debian packages the build needs (when run as root; otherwise prints the apt-get
# line and stops), builds the flagship example in Release (preset `release`, build/release) and
# runs it; options are passed to the example (e.g. --epochs 20). Its files (metrics.csv, the
# checkpoint and the attention PNGs) go to build/release/lstm_attention_out unless --out says.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."   # the repository root, whatever the caller's cwd

example=lstm_attention   # the flagship example: examples/lstm_attention/main.cpp

# ---- Debian packages: scripts/test.sh's list less python3-numpy/python3-torch (interop tests),
# plus gnuplot-nox, which draws the example's attention heatmap ----
packages=(cmake ninja-build g++ pkg-config libopenblas-dev libtbb-dev libfmt-dev libcli11-dev catch2 nlohmann-json3-dev
          gnuplot-nox)

source scripts/packages.sh
install_missing_packages demo.sh "${packages[@]}"

# ---- build and run ------------------------------------------------------------------------
echo "==> Configuring (preset release, build/release)"
cmake --preset release
echo "==> Building examples/$example"
cmake --build --preset release --target "$example"
args=("$@")
[[ " $* " == *" --out "* || " $* " == *" --out="* ]] || args+=(--out build/release/lstm_attention_out)
echo "==> Running build/release/examples/$example ${args[*]}"
exec "build/release/examples/$example" "${args[@]}"
