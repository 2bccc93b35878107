#pragma once
// Jit: turns specs into kernels and caches them per shape.
#include <convjit/backend.hpp>
#include <convjit/kernel.hpp>
#include <convjit/spec.hpp>
#include <convjit/thread_pool.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace convjit {

// The backend `automatic` stands for on this machine (CONVJIT_BACKEND overrides).
Backend resolve_backend(Backend requested);
// Backends this build and this CPU can run.
std::vector<Backend> available_backends();

// What `requested` means for this backend on this CPU; throws convjit::Error("isa", ...)
// for avx512 on a CPU without it or with an ahead-of-time backend, for neon anywhere but
// the llvm backend on an AArch64 host, and for a bad CONVJIT_ISA.
Isa resolve_isa(Isa requested, Backend backend);
// Instruction sets the xbyak and llvm backends can generate here, narrowest first (avx2
// always, for llvm's sake; avx512 where the CPU has it).
std::vector<Isa> available_isas();


struct JitOptions {
  Backend backend = Backend::automatic;
  Isa isa = Isa::automatic;
  int threads = 0;                  // 0: OMP_NUM_THREADS, else 1
  std::size_t cache_capacity = 0;   // 0: CONVJIT_CACHE_CAPACITY, else 1024
  // The host's threads for every run() of this Jit's kernels (RunOptions::pool overrides);
  // null: OpenMP. The kernels keep it alive.
  std::shared_ptr<ThreadPool> pool;
  // The algorithm for specs that leave it automatic (a spec's algo= wins). winograd* here
  // means Winograd wherever the shape allows it and direct elsewhere.
  Algorithm algo = Algorithm::automatic;
  // automatic: CONVJIT_TUNE, else fast. Tuning considers only the Jit's instruction set when
  // it was asked for (here or by CONVJIT_ISA), and only the spec's algo when it names one.
  Tuning tune = Tuning::automatic;
};

struct CacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;
  std::size_t size = 0;
  std::size_t capacity = 0;
  double generation_us_total = 0;
};

class KernelCache;

class Jit {
 public:
  explicit Jit(JitOptions options = {});
  ~Jit();
  Jit(const Jit&) = delete;
  Jit& operator=(const Jit&) = delete;

  // The process-wide instance with default options.
  static Jit& global();

  // The kernel for this shape, compiled on first request and cached afterwards. The batch n
  // is not part of the cache key: one compiled kernel serves every batch, and n is only the
  // returned kernel's default (RunOptions::batch overrides it per run).
  std::shared_ptr<const Kernel> get(const ConvSpec& spec);
  std::shared_ptr<const Kernel> get(const ConvShape& shape);
  // Compiles without touching the cache (benchmarks of generation time use this).
  std::shared_ptr<const Kernel> compile(const ConvShape& shape) const;

  CacheStats stats() const;
  Backend backend() const noexcept { return backend_; }
  Isa isa() const noexcept { return isa_; }
  int threads() const noexcept { return threads_; }
  Algorithm algo() const noexcept { return algo_; }
  Tuning tuning() const noexcept { return tune_; }
  const std::shared_ptr<ThreadPool>& pool() const noexcept { return pool_; }

 private:
  Backend backend_;
  Isa isa_;
  int threads_;
  Algorithm algo_;
  std::shared_ptr<ThreadPool> pool_;
  std::unique_ptr<KernelCache> cache_;
  Tuning tune_;
  bool isa_asked_;  // the isa came from JitOptions or CONVJIT_ISA, not from the CPU
  bool threads_asked_;  // JitOptions::threads was given (else a pool's team is the plans')
};

}  // namespace convjit
