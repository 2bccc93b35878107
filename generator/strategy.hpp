#pragma once
// Strategy: how a kernel maps a convolution onto vector registers, chosen per shape by the
// planner.
#include <cstdint>
#include <string_view>

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
  // NHWC 3x3 stride 1: Winograd F(m×m, 3×3) — tiles transformed, multiplied per transformed
  // element as a batched GEMM over channels, transformed back (KernelPlan::winograd).
  winograd,
};

std::string_view to_string(Strategy strategy);

}  // namespace convjit
