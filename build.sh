#!/usr/bin/env bash
# Builds convjit on Debian 12, installing missing apt packages first.
#   ./build.sh          configure + build (Release) into build/
#   ./build.sh --test   ... then run every test suite (ctest over Boost.Test)
set -euo pipefail
cd "$(dirname "$0")"

required=(g++ cmake ninja-build libxbyak-dev llvm-16-dev libboost-test-dev
          python3-dev pybind11-dev python3-numpy)
# Comparison baselines for `convjit bench`; found at configure time, never runtime deps.
optional=(libdnnl-dev libxnnpack-dev libpthreadpool-dev libopenblas-dev libbenchmark-dev gnuplot-nox)
# The Python module's torch-tensor half (convjit/_torch_native) compiles against these headers.
python_torch=(libtorch-dev)
# aarch64_qemu_test links NEON kernels into a static AArch64 program and runs it under
# qemu-aarch64 (skipped without these). The C library is only a recommendation of the
# compiler, which --no-install-recommends leaves out.
aarch64=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

ci/install-packages.sh "${required[@]}" "${optional[@]}" "${python_torch[@]}" "${aarch64[@]}"

# Debian's interpreter, whatever python3 comes first on PATH: pybind11, NumPy and PyTorch
# are Debian's.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE=/usr/bin/python3
cmake --build build

if [ "${1:-}" = "--test" ]; then
  cd build
  ctest --output-on-failure -j "$(nproc)"
fi
