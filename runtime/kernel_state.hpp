#pragma once
// KernelState: what a Kernel is inside the library — its plan, its code and the few numbers
// run() needs, laid out so that a call touches one cache line. Behind a pointer in the public
// Kernel, so none of this is part of the ABI a host application compiles against.
#include <convjit/kernel.hpp>

#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"
#include "runtime/tuning_report.hpp"

#include <cstdint>
#include <memory>

namespace convjit {

class KernelState {
 public:
  // threads: the default team size of run(); 0 = OMP_NUM_THREADS, else 1. pool: the Jit's,
  // or null for OpenMP.
  KernelState(std::shared_ptr<const KernelPlan> plan, std::shared_ptr<const KernelCode> code,
              double generation_us, int threads, std::shared_ptr<ThreadPool> pool = nullptr);

  // Read on every run().
  KernelCode::Entry entry = nullptr;  // the JIT entry point, if any
  std::uint64_t packing_format = 0;   // what pack_weights() stamps
  std::size_t packed_floats = 0;      // weights + bias
  std::size_t image_src_bytes = 0;    // from one image to the next
  std::size_t image_dst_bytes = 0;
  // Bytes a strided batch ends short of images × image bytes (the last pixel's tail).
  std::size_t src_tail_gap = 0;
  std::size_t dst_tail_gap = 0;
  bool quantized = false;             // 8-bit input: s8 weights packed with a Quantization
  std::int64_t images = 1;            // the default batch
  std::int64_t channel_tiles = 1;
  std::int64_t units = 1;             // per image (KernelPlan::work: rows, or Winograd blocks)
  std::int64_t band_units = 0;        // units per call, band by band (0: whole images)
  std::size_t scratch_floats = 0;     // per thread (thread_scratch), 0 for none
  int default_threads = 1;
  bool verbose = false;
  bool splits_channel_tiles = false;
  bool add_residual = false;
  bool stages_nchw = false;           // KernelPlan::stages_nchw(): run() stages the tensors
  ThreadPool* pool = nullptr;         // the Jit's pool (kept alive by pool_owner), or OpenMP

  ConvShape shape;                    // the plan's, with the default batch as n
  std::shared_ptr<const KernelPlan> plan;
  std::shared_ptr<const KernelCode> code;
  std::shared_ptr<ThreadPool> pool_owner;
  double generation_us = 0;           // tuning included
  std::shared_ptr<const TuningReport> tuning;  // null when the kernel was not tuned
};

// A kernel of the runtime's making.
std::shared_ptr<const Kernel> make_kernel(std::shared_ptr<const KernelPlan> plan,
                                          std::shared_ptr<const KernelCode> code,
                                          double generation_us, int threads = 0,
                                          std::shared_ptr<ThreadPool> pool = nullptr,
                                          std::shared_ptr<const TuningReport> tuning = nullptr);

// The same compiled kernel with another default batch: shares the plan, the code and the
// packing format (the batch is not part of what is compiled).
std::shared_ptr<const Kernel> with_default_batch(const Kernel& kernel, std::int64_t batch);

inline const KernelPlan& kernel_plan(const Kernel& kernel) { return *kernel.state().plan; }
inline const KernelCode& kernel_code(const Kernel& kernel) { return *kernel.state().code; }

}  // namespace convjit
