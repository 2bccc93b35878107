#pragma once
// KernelCallArgs: the calling format of every generated entry point, the one ABI between the
// emitters (which address its fields by offsetof) and the runtime (which fills it per call).
#include <cstdint>

namespace convjit {

// One image's units of work [unit_begin, unit_end) (KernelPlan::work: output rows of a direct
// kernel, blocks of tiles of a Winograd one) of the channel tiles [tile_begin, tile_end)
// (numbered over groups × channel tiles, as KernelSchedule numbers them). Passed by pointer in
// the first argument register.
struct KernelCallArgs {
  const float* src;      // this image
  const float* weights;  // packed
  const float* bias;     // packed, padded to whole vectors
  float* dst;            // this image
  std::int64_t unit_begin;
  std::int64_t unit_end;
  std::int64_t tile_begin = 0;
  std::int64_t tile_end = INT64_MAX;
  // This image's residual when the shape adds one, addressed exactly like dst (the same
  // offsets); it may be dst itself, since each output is read once just before its store.
  const float* residual = nullptr;
  // The calling thread's scratch (KernelPlan::work.scratch_floats,
  // 64-byte aligned); null for kernels that need none.
  float* scratch = nullptr;
};

}  // namespace convjit
