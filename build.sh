#!/usr/bin/env bash
# Builds convjit on Debian 12, installing missing apt packages first.
#   ./build.sh          configure + build (Release) into build/
#   ./build.sh --test   ... then run every test suite (ctest over Boost.Test)
set -euo pipefail
cd "$(dirname "$0")"

required=(g++ cmake ninja-build libxbyak-dev llvm-16-dev libboost-test-dev)
# Comparison baselines for `convjit bench`; found at configure time, never runtime deps.
optional=(libdnnl-dev libxnnpack-dev libpthreadpool-dev libopenblas-dev libbenchmark-dev gnuplot-nox)

missing=()
for pkg in "${required[@]}" "${optional[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "build.sh: installing ${missing[*]}"
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build

if [ "${1:-}" = "--test" ]; then
  cd build
  ctest --output-on-failure -j "$(nproc)"
fi
