#pragma once
// What convjit tells the outside world about its kernels, all opt-in by environment:
//   CONVJIT_VERBOSE=1      one line per cache hit/miss and per run() on stderr
//   CONVJIT_DUMP=DIR       each generated kernel's machine code, disassembly and (LLVM) IR
//   CONVJIT_PERF_MAP=1     /tmp/perf-PID.map entries, so `perf report` names JIT kernels
#include <convjit/kernel.hpp>

#include "core/environment.hpp"

namespace convjit {

// "hit" or "miss"; generation time is the kernel's own.
void log_cache_lookup(const Kernel& kernel, bool hit, double lookup_us);
void log_run(const Kernel& kernel, int threads, double run_us);

// Called once per generated kernel: dump files and perf map entries as configured.
void publish_generated_kernel(const Kernel& kernel);

}  // namespace convjit
