#pragma once
// PackedLayout: where every weight and bias value of a plan lies in PackedWeights. The one
// definition of the packed format: the plan's sizes, the schedule's weight strides (tile
// geometry, the Winograd schedule), the packing loops and the format hash all read it, so a
// kernel cannot address weights differently from how they were packed.
//
// Adding a kind (the next one: 8-bit weights in groups of four input channels) means one
// PackedKind, say oc_vectors_s8x4 `[g][oc_block][kh][kw][icg/4][lanes][4]` bytes, and two
// fields every float kind sets to 1: `element_bytes` and `input_interleave` (4). weight_offset()
// then places input channel i at (i / 4)·input_stride + lane·4 + i % 4, the input channels
// are rounded up to four with zeros, and the per-channel scales become a part after the bias.
// format() hashes every field by a structured binding that stops compiling when a field is
// added and not listed, so the new fields reach the hash without anyone remembering them.
#include <convjit/shape.hpp>

#include <cstdint>

namespace convjit {

struct KernelPlan;

enum class PackedKind : std::uint8_t {
  oc_vectors,     // [g][oc_block][kh][kw][icg][lanes]
  depthwise,      // [c_block][kh][kw][lanes]
  width_vectors,  // OIHW as the caller gives it (weights are broadcast, never loaded as vectors)
  winograd,       // U = G g Gᵀ as [e][oc_block][c][lanes], e = row·alpha + column
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

  // Element strides of the weights, in floats. An axis the kind does not have has stride 0.
  std::int64_t group_stride = 0, block_stride = 0, row_stride = 0, column_stride = 0,
               input_stride = 0;
  // The bias is [groups][blocks][lanes]: whole vectors, zero past the channels.
  std::int64_t bias_group_stride = 0;

  // Floats: the weights, then the bias.
  std::int64_t weight_floats = 0, bias_floats = 0;

  // Offset of weight (output channel o of group g, input channel i, tap row, tap column).
  std::int64_t weight_offset(std::int64_t g, std::int64_t o, std::int64_t i, std::int64_t row,
                             std::int64_t column) const {
    return g * group_stride + o / lanes * block_stride + row * row_stride +
           column * column_stride + i * input_stride + o % lanes;
  }
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
