#pragma once
// PackedLayout: where every weight and bias value of a plan lies in PackedWeights. The one
// definition of the packed format: the plan's sizes, the schedule's weight strides (tile
// geometry, the Winograd schedule), the packing loops and the format hash all read it, so a
// kernel cannot address weights differently from how they were packed.
//
// 8-bit weights (oc_vectors_s8x4) are bytes, four input channels to each 32-bit lane so that
// one vpdpbusd (or sdot) sums them: `element_bytes` 1 and `input_interleave` 4, which every
// float kind sets to 4 and 1. Their channel parameters follow the bias as further parts of
// [groups][blocks][lanes] 32-bit values (QuantizedPart), so a kernel addresses each from its
// channel tile's bias pointer. format() hashes every field by a structured binding that stops
// compiling when a field is added and not listed, so new fields reach the hash.
#include <convjit/shape.hpp>

#include <cstdint>

namespace convjit {

struct KernelPlan;

enum class PackedKind : std::uint8_t {
  oc_vectors,     // [g][oc_block][kh][kw][icg][lanes]
  depthwise,      // [c_block][kh][kw][lanes]
  width_vectors,  // OIHW as the caller gives it (weights are broadcast, never loaded as vectors)
  winograd,       // U = G g Gᵀ as [e][oc_block][c][lanes], e = row·alpha + column
  oc_vectors_s8x4,  // [g][oc_block][kh][kw][ceil(icg/4)][lanes][4] bytes, zero past icg
  oc_vectors_s16x2,  // AVX2 8-bit: [g][oc_block][kh][kw][ceil(icg/4)·2][lanes][2] int16, each
                     // quad of input channels as two pairs (Product::pair_quads)
  depthwise_s32,    // 8-bit depthwise: [c_block][kh][kw][lanes] s8 weights as int16 in the low
                    // half of each 32-bit lane (vpdpwssd's), the high half zero
};

// The 32-bit channel parameters of an 8-bit layout, each a part of [groups][blocks][lanes]
// after the weights, in this order. The input zero point is compensated in them: the bias
// part holds bias − zp·Σ w over every tap, and a tap a tile drops at a border (it lies in the
// padding, whose value is the zero point) adds its tap_compensation part back: zp·Σ_ic w.
enum QuantizedPart : int {
  bias_part,            // int32: the integer bias minus the zero point's sum over every tap
  multiplier_part,      // float: requantization (or dequantization) multiplier
  offset_part,          // float: a float bias as the store adds it (requantization_offset)
  zero_point_part,      // int32: the output zero point
  lowest_part,          // float: the lowest output minus the zero point (store_range)
  highest_part,         // float: the highest output minus the zero point
  first_tap_part,       // int32, one per tap (row · kw + column): zp · Σ_ic w of that tap
};

struct PackedLayout {
  PackedKind kind = PackedKind::oc_vectors;

  // Dimensions. A vector holds `lanes` consecutive output channels of one group.
  int lanes = 1;                    // 1: one output channel per block (OIHW)
  std::int64_t groups = 1;          // stored one after another (depthwise: all in one)
  std::int64_t channels = 0;        // output channels per group; lanes past them are zero
  std::int64_t blocks = 0;          // vectors of `lanes` output channels per group
  std::int64_t input_channels = 0;  // per group, summed into each output channel
  std::int64_t rows = 0, columns = 0;  // kernel taps, or Winograd's alpha × alpha elements
  int winograd_m = 0;               // U = G g Gᵀ of F(m×m, 3×3); 0: the taps as given
  bool bias = false;                // the bias part holds the caller's bias, else zeros
  int element_bytes = 4;            // of one weight: 4 (float) or 1 (8-bit)
  int input_interleave = 1;         // input channels side by side in a lane (8-bit: 4)
  int channel_parts = 1;            // 32-bit values per channel after the weights (bias: 1)

  // Element strides of the weights, in elements (floats, or bytes of 8-bit weights; the input
  // stride counts groups of input_interleave channels). An axis the kind does not have has
  // stride 0.
  std::int64_t group_stride = 0, block_stride = 0, row_stride = 0, column_stride = 0,
               input_stride = 0;
  // The bias (and each further channel part) is [groups][blocks][lanes]: whole vectors, zero
  // past the channels.
  std::int64_t bias_group_stride = 0;

  // Floats (32-bit words): the weights, then the channel parts, bias first.
  std::int64_t weight_floats = 0, bias_floats = 0;

  // Offset of weight (output channel o of group g, input channel i, tap row, tap column).
  std::int64_t weight_offset(std::int64_t g, std::int64_t o, std::int64_t i, std::int64_t row,
                             std::int64_t column) const {
    return g * group_stride + o / lanes * block_stride + row * row_stride +
           column * column_stride + i / input_interleave * input_stride +
           o % lanes * input_interleave + i % input_interleave;
  }
  // Floats from one channel part to the next.
  std::int64_t part_floats() const { return bias_floats / channel_parts; }
  // Offset of output channel o of group g's bias from the start of the bias part.
  std::int64_t bias_offset(std::int64_t g, std::int64_t o) const { return g * bias_group_stride + o; }
  std::int64_t total_floats() const { return weight_floats + bias_floats; }

  // Equal for layouts that pack identically; nothing else (batch, input size, padding,
  // stride, dilation, activation, instruction set) enters it.
  std::uint64_t format() const;
  bool operator==(const PackedLayout&) const = default;
};

// The layout of the plan's strategy, vector width and channel blocks (oc_blocks, and for
// Winograd winograd.m, already set).
PackedLayout make_packed_layout(const KernelPlan& plan);

// From the caller's layout (HWIO for NHWC, OIHW for NCHW) into plan.packed: writes
// weight_floats weights then bias_floats bias values to out. bias may be nullptr (zeros).
// Padding lanes are zero, so tail blocks compute zeros.
void pack_for_plan(const KernelPlan& plan, const float* weights, const float* bias, float* out);

}  // namespace convjit
