#pragma once
// TileGeometry: the byte strides every emitter uses to address inputs, packed weights,
// bias and outputs under a plan. Derived from the plan alone, so the Xbyak and LLVM
// emitters walk memory identically; the weight and bias strides are the plan's PackedLayout's.
#include "generator/plan.hpp"

#include <cstdint>
#include <vector>

namespace convjit {

struct TileGeometry {
  // Reduction (window) strides, in bytes.
  std::int64_t src_kh = 0, src_kw = 0, src_ic = 0;
  std::int64_t wei_kh = 0, wei_kw = 0, wei_ic = 0;
  std::int64_t reduction_ic = 1;   // input-channel steps per tap (1 for depthwise; 8-bit:
                                   // whole groups of four channels)
  int tail_channels = 0;           // 8-bit: channels of a last, partial group of four (0: none)

  // Tile strides: per output column.
  std::int64_t src_column = 0;     // per output column
  std::int64_t dst_column = 0;
  // Per channel block (oc/depthwise) or per output channel (width) inside a tile.
  std::int64_t wei_block = 0, bias_block = 0, dst_block = 0, src_block = 0;
  // From one channel part (PackedLayout::channel_parts: the bias, then 8-bit parameters) to
  // the next.
  std::int64_t channel_part = 0;

  // Rows.
  std::int64_t src_row = 0;        // one input row
  std::int64_t dst_row = 0;        // one output row

  // Outer loops: per group and per oc tile step of one block.
  std::int64_t src_group = 0, dst_group = 0, wei_group = 0, bias_group = 0;
  int groups_looped = 1;           // depthwise folds groups into channel blocks

  // Byte offset from the start of input row `oh*sh - pad_top` for output column ow, tap kw.
  std::int64_t input_column_offset(const ConvShape& s, std::int64_t ow, std::int64_t kw) const {
    return input_column(s, ow, kw) * src_column / s.sw;
  }
};

TileGeometry make_tile_geometry(const KernelPlan& plan);

// What a tile of `width` output columns holds: output pixels (oc vectors, depthwise) or
// vectors of `lanes` output columns (width vectors).
int tile_columns(const KernelPlan& plan, std::int64_t width);

// Bit i set for lanes 0..n-1 of a vector of `lanes`.
inline std::uint32_t first_lanes(std::int64_t n, int lanes) {
  return n >= lanes ? (1u << lanes) - 1u : n <= 0 ? 0u : ((1u << n) - 1u);
}

// Width vectors: the lanes of vector `vector` of a tile starting at output column ow_first
// whose output exists and whose tap at kernel column kw is in bounds. The other lanes are
// never read: masked loads and gathers leave them zero.
std::uint32_t width_lane_mask(const KernelPlan& plan, std::int64_t ow_first, std::int64_t width,
                              int vector, std::int64_t kw);

// Width vectors: the lanes of vector `vector` that hold outputs of a tile `width` wide.
inline std::uint32_t width_store_mask(const KernelPlan& plan, std::int64_t width, int vector) {
  return first_lanes(width - vector * plan.lanes, plan.lanes);
}

// Channel tiles per looped group, and over all groups: the units KernelCallArgs'
// tile_begin/tile_end count (KernelSchedule numbers them).
std::int64_t channel_tiles_per_group(const KernelPlan& plan);
std::int64_t channel_tile_count(const KernelPlan& plan);

}  // namespace convjit
