#!/usr/bin/env bash
# Builds convjit on Debian 12, installing missing apt packages first.
#   ./build.sh          configure + build (Release) into build/
#   ./build.sh --test   ... then run every test suite (ctest over Boost.Test)
set -euo pipefail
cd "$(dirname "$0")"

required=(g++ cmake ninja-build libxbyak-dev llvm-16-dev libboost-test-dev)
# Comparison baselines for `convjit bench`; found at configure time, never runtime deps.
optional=(libdnnl-dev libxnnpack-dev libpthreadpool-dev libopenblas-dev libbenchmark-dev gnuplot-nox)

ci/install-packages.sh "${required[@]}" "${optional[@]}"

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build

if [ "${1:-}" = "--test" ]; then
  cd build
  ctest --output-on-failure -j "$(nproc)"
fi
