#pragma once
// WorkUnits: how a kernel's work is shared out, stated by its planner so that the runtime
// splits it without asking which algorithm made it. One call of the entry point computes the
// units [unit_begin, unit_end) of one image (direct: output rows; Winograd: blocks of tiles)
// for the channel tiles [tile_begin, tile_end) (direct: groups × channel tiles; Winograd: one,
// every channel). A thread needs `scratch_floats` of its own scratch. Whether run() stages NCHW
// tensors for NHWC code is KernelPlan::stages_nchw().
#include <cstdint>

namespace convjit {

struct WorkUnits {
  std::int64_t units = 0;          // per image
  std::int64_t channel_tiles = 1;  // per image; 1: the kernel does not split channels
  const char* unit = "row";        // what one unit is, for describe() and errors
  std::int64_t scratch_floats = 0; // per thread, 64-byte aligned; 0: none
  // Units per call when run() calls band by band (0: whole images). A direct NHWC kernel sweeps
  // its units once per channel tile within a call; a band of rows per call, every channel tile
  // in each, keeps the band's input rows in L2 from one channel tile to the next. Threads keep
  // contiguous shares and cut them at the same band boundaries.
  std::int64_t band_units = 0;
};

}  // namespace convjit
