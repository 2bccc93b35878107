#include "generator/packed_layout.hpp"

#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "generator/winograd_transform.hpp"

#include <algorithm>
#include <vector>

namespace convjit {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// Every field, by a structured binding: a field added to PackedLayout and not named here is a
// compile error, so the hash cannot miss part of the layout.
std::uint64_t hash_fields(const PackedLayout& layout) {
  const auto& [kind, lanes, groups, channels, blocks, input_channels, rows, columns, winograd_m,
               bias, element_bytes, input_interleave, channel_parts, group_stride, block_stride,
               row_stride, column_stride, input_stride, bias_group_stride, weight_floats,
               bias_floats] = layout;
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::uint64_t v :
       {std::uint64_t{1} + static_cast<std::uint64_t>(kind), static_cast<std::uint64_t>(lanes),
        static_cast<std::uint64_t>(groups), static_cast<std::uint64_t>(channels),
        static_cast<std::uint64_t>(blocks), static_cast<std::uint64_t>(input_channels),
        static_cast<std::uint64_t>(rows), static_cast<std::uint64_t>(columns),
        static_cast<std::uint64_t>(winograd_m), static_cast<std::uint64_t>(bias),
        static_cast<std::uint64_t>(element_bytes), static_cast<std::uint64_t>(input_interleave),
        static_cast<std::uint64_t>(channel_parts),
        static_cast<std::uint64_t>(group_stride), static_cast<std::uint64_t>(block_stride),
        static_cast<std::uint64_t>(row_stride), static_cast<std::uint64_t>(column_stride),
        static_cast<std::uint64_t>(input_stride), static_cast<std::uint64_t>(bias_group_stride),
        static_cast<std::uint64_t>(weight_floats), static_cast<std::uint64_t>(bias_floats)})
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

// U = G g Gᵀ of the 3x3 kernel g from input channel i to output channel o, in double so it
// is rounded once, when stored.
void winograd_taps(const ConvShape& s, const WinogradTransform& t, const float* weights,
                   std::int64_t o, std::int64_t i, std::vector<double>& u) {
  const int a = t.alpha;
  double gg[8 * 3];  // alpha <= 8
  for (int r = 0; r < a; ++r)  // G g
    for (int x = 0; x < 3; ++x) {
      double v = 0;
      for (int y = 0; y < 3; ++y) v += t.g_at(r, y) * weights[user_weight_index(s, o, i, y, x)];
      gg[r * 3 + x] = v;
    }
  for (int r = 0; r < a; ++r)  // (G g) Gᵀ
    for (int c = 0; c < a; ++c) {
      double v = 0;
      for (int x = 0; x < 3; ++x) v += gg[r * 3 + x] * t.g_at(c, x);
      u[static_cast<std::size_t>(r * a + c)] = v;
    }
}

}  // namespace

std::uint64_t PackedLayout::format() const { return hash_fields(*this); }

PackedLayout make_packed_layout(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  PackedLayout l;
  l.bias = s.bias;
  l.blocks = p.oc_blocks;
  l.rows = s.kh;
  l.columns = s.kw;
  switch (p.strategy) {
    case Strategy::oc_vectors:
      l.kind = p.product == Product::dot_quads    ? PackedKind::oc_vectors_s8x4
               : p.product == Product::pair_quads ? PackedKind::oc_vectors_s16x2
                                                  : PackedKind::oc_vectors;
      l.lanes = p.lanes;
      l.groups = s.groups;
      l.channels = s.oc_per_group();
      l.input_channels = s.ic_per_group();
      if (s.quantized()) {
        const bool pairs = p.product == Product::pair_quads;
        l.element_bytes = pairs ? 2 : 1;
        l.input_interleave = pairs ? 2 : 4;
        l.channel_parts = first_tap_part + static_cast<int>(s.kh * s.kw);
      }
      l.input_stride = l.lanes * l.input_interleave;
      // 8-bit input channels in whole quads (four), zero past icg.
      l.column_stride = (s.quantized() ? ceil_div(l.input_channels, 4) * 4 : l.input_channels) /
                        l.input_interleave * l.input_stride;
      l.row_stride = l.columns * l.column_stride;
      l.block_stride = l.rows * l.row_stride;
      l.group_stride = l.blocks * l.block_stride;
      l.bias_group_stride = l.blocks * l.lanes;
      break;
    case Strategy::depthwise:  // channel c reads input channel c only: no input axis
      // 8-bit: the s8 weights widened to int32 lanes, as the input is when loaded.
      l.kind = s.quantized() ? PackedKind::depthwise_s32 : PackedKind::depthwise;
      if (s.quantized()) l.channel_parts = first_tap_part + static_cast<int>(s.kh * s.kw);
      l.lanes = p.lanes;
      l.channels = s.c;
      l.input_channels = 1;
      l.column_stride = l.lanes;
      l.row_stride = l.columns * l.column_stride;
      l.block_stride = l.rows * l.row_stride;
      break;
    case Strategy::width_vectors:  // OIHW: a block is one output channel
      l.kind = PackedKind::width_vectors;
      l.lanes = 1;
      l.groups = s.groups;
      l.channels = s.oc_per_group();
      l.input_channels = s.ic_per_group();
      l.column_stride = 1;
      l.row_stride = l.columns;
      l.input_stride = l.rows * l.row_stride;
      l.block_stride = l.input_channels * l.input_stride;
      l.group_stride = l.blocks * l.block_stride;
      l.bias_group_stride = l.blocks;
      break;
    case Strategy::winograd:  // one GEMM per element e reads U[e] as [oc_block][c][lanes]
      l.kind = PackedKind::winograd;
      l.lanes = p.lanes;
      l.channels = s.oc;
      l.input_channels = s.c;
      l.winograd_m = p.winograd.m;
      l.rows = l.columns = p.winograd.alpha;
      l.input_stride = l.lanes;
      l.block_stride = l.input_channels * l.input_stride;
      l.column_stride = l.blocks * l.block_stride;
      l.row_stride = l.columns * l.column_stride;
      break;
  }
  const std::int64_t interleaved = s.quantized() && p.strategy == Strategy::oc_vectors
                                       ? ceil_div(l.input_channels, 4) * 4
                                       : l.input_channels;
  const std::int64_t weight_bytes =
      l.groups * l.blocks * l.rows * l.columns * interleaved * l.lanes * l.element_bytes;
  l.weight_floats = ceil_div(weight_bytes, 4);
  l.bias_floats = l.channel_parts * l.groups * l.blocks * l.lanes;
  return l;
}

void pack_for_plan(const KernelPlan& plan, const float* weights, const float* bias, float* out) {
  const PackedLayout& l = plan.packed;
  const ConvShape& s = plan.shape;
  std::fill(out, out + l.total_floats(), 0.0f);
  const WinogradTransform* transform = l.winograd_m ? &winograd_transform(l.winograd_m) : nullptr;
  std::vector<double> taps(static_cast<std::size_t>(l.rows * l.columns));
  for (std::int64_t g = 0; g < l.groups; ++g)
    for (std::int64_t o = 0; o < l.channels; ++o)
      for (std::int64_t i = 0; i < l.input_channels; ++i) {
        const std::int64_t user_o = g * l.channels + o;
        if (transform) {
          winograd_taps(s, *transform, weights, user_o, i, taps);
        } else {
          for (std::int64_t y = 0; y < l.rows; ++y)
            for (std::int64_t x = 0; x < l.columns; ++x)
              taps[static_cast<std::size_t>(y * l.columns + x)] =
                  weights[user_weight_index(s, user_o, i, y, x)];
        }
        for (std::int64_t y = 0; y < l.rows; ++y)
          for (std::int64_t x = 0; x < l.columns; ++x)
            out[l.weight_offset(g, o, i, y, x)] =
                static_cast<float>(taps[static_cast<std::size_t>(y * l.columns + x)]);
      }
  if (!bias || !l.bias) return;
  float* b = out + l.weight_floats;
  for (std::int64_t g = 0; g < l.groups; ++g)
    for (std::int64_t o = 0; o < l.channels; ++o) b[l.bias_offset(g, o)] = bias[g * l.channels + o];
}

}  // namespace convjit
