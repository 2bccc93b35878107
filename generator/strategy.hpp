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

// How a direct kernel multiplies and adds: the data type's dimension of a plan, from the
// shape's types and the instruction set.
enum class Product : std::uint8_t {
  fma,            // fp32: vfmadd231ps (fmla)
  // 8-bit channel vectors: a broadcast group of four input bytes (a quad) against packed weights.
  dot_quads,      // AVX512-VNNI (or AVX-VNNI on ymm): vpdpbusd sums a quad's four u8·s8
                  // products into each lane
  pair_quads,     // AVX2 without VNNI: the quad's two byte pairs widened to int16 (vpshufb), vpmaddwd against
                  // int16 weight pairs, vpaddd: exact, no int16 saturation on the way
  // 8-bit depthwise: each lane's byte widened to 32 bits, times an int16 weight in the low half
  // of a lane whose high half is zero.
  widened,        // AVX512-VNNI or AVX-VNNI: vpdpwssd
  widened_pairs,  // AVX2 without VNNI: vpmaddwd, then vpaddd
};

std::string_view to_string(Product product);

}  // namespace convjit
