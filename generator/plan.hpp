#pragma once
// KernelPlan: everything about a kernel decided before a single instruction is emitted.
// Pure data: both emitters (Xbyak, LLVM) and the generic AOT kernel consume it, so the
// backends cannot drift apart, and planner tests run no machine code.
#include <convjit/shape.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace convjit {

enum class Strategy : std::uint8_t {
  // NHWC: a vector holds 8 output channels; each (kh, kw, ic) input value is broadcast and
  // FMA'd against ur_w × oc_tile weight vectors. Groups are an outer loop.
  oc_vectors,
  // NHWC depthwise (g = c = oc): a vector holds 8 channels of input, weights and output;
  // no broadcast at all.
  depthwise,
  // NCHW (and NHWC with c = oc = 1, the same memory): a vector holds 8 neighbouring output
  // columns; each (ic, kh, kw) weight is broadcast against ur_w input vectors.
  width_vectors,
};

std::string_view to_string(Strategy strategy);

inline constexpr int kLanes = 8;      // floats per ymm
inline constexpr int kVectorRegs = 16;

// Output rows whose in-bounds taps are exactly kh in [kh_begin, kh_end).
struct RowSegment {
  std::int64_t oh_begin = 0, oh_end = 0;
  std::int64_t kh_begin = 0, kh_end = 0;
  bool operator==(const RowSegment&) const = default;
};

// A run of `repeat` identical tiles of `width` output columns starting at ow_begin.
// Tiles with repeat > 1 have every tap of every column in bounds (the steady middle of a
// row); border tiles have repeat 1 and drop their out-of-bounds taps at generation time.
struct ColumnTile {
  std::int64_t ow_begin = 0;
  std::int64_t width = 0;   // output columns per tile
  std::int64_t repeat = 1;
  bool operator==(const ColumnTile&) const = default;
};

struct KernelPlan {
  ConvShape shape;
  Strategy strategy = Strategy::oc_vectors;

  // Register tile.
  //  oc_vectors / depthwise: ur_w output pixels × oc_tile channel blocks of 8.
  //  width_vectors: ur_w vectors of 8 output columns × oc_tile output channels.
  int ur_w = 1;
  int oc_tile = 1;

  // Channel blocking (oc_vectors: per group; depthwise: over all channels).
  std::int64_t oc_blocks = 1;   // ceil(channels / 8)
  int oc_tail_lanes = 8;        // valid lanes of the last block (8 when it is full)

  std::vector<RowSegment> rows;       // cover [0, out_h) in order
  std::vector<ColumnTile> columns;    // cover [0, out_w) in order

  // What is unrolled versus kept as a counted loop (decided by the code-size budget).
  bool unroll_rows = false;     // every output row emitted on its own (tiny shapes)
  bool unroll_kh = true;        // kernel rows unrolled inside a tile
  int ic_unroll = 1;            // input channels unrolled per loop step (divides icg or = icg)

  // Packed weight layout (floats), shared by every backend that consumes this plan.
  std::int64_t packed_weight_floats = 0;
  std::int64_t packed_bias_floats = 0;

  std::int64_t estimated_code_bytes = 0;
  std::string name;  // e.g. conv_k3x3_s1_d1_oc_vectors_ur4x3_nhwc

  std::string describe() const;
  // Identifies the packed-weights format: equal for plans that pack identically.
  std::uint64_t packing_format() const;
};

// The planner: a pure function of the shape.
KernelPlan make_plan(const ConvShape& shape);

// Taps in bounds, the arithmetic every emitter shares.
// Input column of output column ow at kernel column kw (may be outside [0, w)).
inline std::int64_t input_column(const ConvShape& s, std::int64_t ow, std::int64_t kw) {
  return ow * s.sw - s.pad_left + kw * s.dw;
}
inline std::int64_t input_row(const ConvShape& s, std::int64_t oh, std::int64_t kh) {
  return oh * s.sh - s.pad_top + kh * s.dh;
}
inline bool column_tap_in_bounds(const ConvShape& s, std::int64_t ow, std::int64_t kw) {
  const std::int64_t iw = input_column(s, ow, kw);
  return iw >= 0 && iw < s.w;
}
inline bool row_tap_in_bounds(const ConvShape& s, std::int64_t oh, std::int64_t kh) {
  const std::int64_t ih = input_row(s, oh, kh);
  return ih >= 0 && ih < s.h;
}

}  // namespace convjit
