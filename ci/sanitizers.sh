#!/usr/bin/env bash
# Sanitizer builds and short fuzzing runs (issue 7), each in its own build directory:
#   build-asan  AddressSanitizer + UBSan (gcc), the whole ctest suite
#   build-tsan  ThreadSanitizer (gcc), the cache, threading and W^X tests
#   build-fuzz  libFuzzer + ASan + UBSan (clang-14), fuzz/ as a standalone project
#
#   ci/sanitizers.sh                 all three
#   ci/sanitizers.sh asan fuzz       only these
#
# Environment:
#   FUZZ_SECONDS        seconds per fuzzer (default 30)
#   CONVJIT_TEST_SCALE  shape-count scale (default 1) of the tests that read it:
#                       guard_page_test, wx_test, memory_bound_test
#   JOBS                build and ctest parallelism (default: nproc)
# Prints the wall time of each step; exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=${JOBS:-$(nproc)}
fuzz_seconds=${FUZZ_SECONDS:-30}
variants=("$@")
((${#variants[@]})) || variants=(asan tsan fuzz)

for tool in cmake ninja g++; do
  command -v "$tool" >/dev/null || { echo "sanitizers.sh: $tool not found (run ./build.sh once)"; exit 2; }
done

# The fuzzers need clang and its libFuzzer runtime (gcc's sanitizer runtimes come with g++).
# Installed like build.sh installs the build's packages.
if [[ " ${variants[*]} " == *" fuzz "* ]]; then
  "$root/ci/install-packages.sh" clang-14 libclang-rt-14-dev
fi

timings=()
step() {  # step NAME COMMAND...: runs and times one step
  local name=$1 start=$SECONDS
  shift
  echo "=== sanitizers.sh: $name"
  "$@"
  timings+=("$(printf '%-40s %5d s' "$name" $((SECONDS - start)))")
}
report() {
  echo "=== sanitizers.sh: times"
  printf '%s\n' "${timings[@]}"
}
trap report EXIT

# Common configuration: the bench baselines (oneDNN, XNNPACK, OpenBLAS) are not under test,
# nor the Python module (an instrumented extension cannot load into an uninstrumented python3).
configure() {  # configure DIR FLAGS
  cmake -S "$root" -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS="$2" -DCMAKE_C_FLAGS="$2" -DCONVJIT_BUILD_BENCH_BASELINES=OFF \
    -DCONVJIT_BUILD_PYTHON=OFF >/dev/null
}

# ------------------------------------------------------------------ ASan + UBSan
run_asan() {
  local dir=$root/build-asan
  # vptr is left out: LLVM's classes are compiled without RTTI, so the check cannot see
  # their type information.
  step "asan: configure" configure "$dir" \
    "-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  step "asan: build" cmake --build "$dir" -j "$jobs"

  # LeakSanitizer: LLVM keeps process-lifetime singletons (its option registry, the target
  # registry) it never frees; they are not convjit's leaks.
  cat >"$dir/lsan.supp" <<'EOF'
leak:libLLVM-16.so
leak:libomp.so
leak:libgomp.so
EOF
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1"
  export LSAN_OPTIONS="suppressions=$dir/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

  # The whole suite, jit_differential's 2,150 shapes included: under ASan it takes about as
  # long as in the Release build (most of its time is LLVM compiling kernels, and libLLVM is
  # not instrumented). On a slower machine, CONVJIT_TEST_SCALE=0.25 cuts the random shapes
  # of guard_page_test, wx_test and memory_bound_test to a quarter.
  step "asan: ctest" ctest --test-dir "$dir" --output-on-failure -j "$jobs"
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
}

# ------------------------------------------------------------------ TSan
run_tsan() {
  local dir=$root/build-tsan
  step "tsan: configure" configure "$dir" "-fsanitize=thread -fno-omit-frame-pointer"
  step "tsan: build" cmake --build "$dir" -j "$jobs" --target kernel_cache_test threads_test wx_test

  # OpenMP: libgomp is not built with TSan, so the synchronisation at the start and end of
  # a parallel region (futexes inside libgomp) is invisible to it, and any write by a worker
  # followed by a read on the main thread would be reported as a race that cannot happen.
  # So: OMP_NUM_THREADS=1 for every Jit whose thread count comes from the environment, and
  # threads_test's case that runs a kernel on 2-16 OpenMP threads is left out; its
  # std::thread case stays (eight threads running one kernel at once), and kernel_cache_test
  # (16 std::threads compiling and running 200 shapes through one cache) runs whole.
  # JIT code is not instrumented either: TSan sees the library's C++ (cache, Jit, packing,
  # run()'s argument checks and split), not the kernels' loads and stores.
  cat >"$dir/tsan.supp" <<'EOF'
called_from_lib:libgomp.so
called_from_lib:libLLVM-16.so
EOF
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$dir/tsan.supp"
  export OMP_NUM_THREADS=1
  # Newer kernels randomise mmap more than gcc 12's TSan expects ("unexpected memory
  # mapping"); running without ASLR avoids it.
  local norandom=()
  if command -v setarch >/dev/null && setarch "$(uname -m)" -R true 2>/dev/null; then
    norandom=(setarch "$(uname -m)" -R)
  fi
  step "tsan: kernel_cache_test" "${norandom[@]}" "$dir/kernel_cache_test"
  step "tsan: threads_test (std::thread case)" "${norandom[@]}" "$dir/threads_test" \
    --run_test=threads/concurrent_runs_of_one_kernel_do_not_interfere
  step "tsan: wx_test" "${norandom[@]}" "$dir/wx_test"
  unset TSAN_OPTIONS OMP_NUM_THREADS
}

# ------------------------------------------------------------------ libFuzzer
run_fuzz() {
  local dir=$root/build-fuzz
  step "fuzz: configure" cmake -S "$root/fuzz" -B "$dir" -G Ninja \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
  step "fuzz: build" cmake --build "$dir" -j "$jobs"
  # New inputs go to build-fuzz/work/* (first folder); the committed corpus is read only.
  mkdir -p "$dir/work/spec" "$dir/work/differential" "$dir/artifacts"
  export ASAN_OPTIONS="detect_leaks=1" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  step "fuzz: spec_fuzzer ${fuzz_seconds}s" "$dir/spec_fuzzer" \
    -max_total_time="$fuzz_seconds" -timeout=10 -dict="$root/fuzz/spec.dict" \
    -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    "$dir/work/spec" "$root/fuzz/corpus/spec"
  step "fuzz: differential_fuzzer ${fuzz_seconds}s" "$dir/differential_fuzzer" \
    -max_total_time="$fuzz_seconds" -timeout=60 -max_len=25 -rss_limit_mb=4096 \
    -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    "$dir/work/differential" "$root/fuzz/corpus/differential"
  unset ASAN_OPTIONS UBSAN_OPTIONS
}

for v in "${variants[@]}"; do
  case $v in
    asan) run_asan ;;
    tsan) run_tsan ;;
    fuzz) run_fuzz ;;
    *) echo "sanitizers.sh: unknown variant '$v' (expected asan, tsan or fuzz)"; exit 2 ;;
  esac
done
