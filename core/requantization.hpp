#pragma once
// From an int32 accumulator to an output element: the arithmetic every 8-bit kernel must
// reproduce bit for bit, whatever its instruction set or backend. The reference
// (quantized_reference.hpp) is built from these functions, so they are the contract.
//
// The accumulator of output channel oc is
//     acc = Σ (x − input_zero_point) · (w − weight_zero_point[oc])  over the in-bounds taps
//           (+ the int32 bias)
// wrapped to int32 (two's complement). Any kernel that reorders or splits that sum in int32
// lanes (zero-point compensation precomputed from the weights, vpdpbusd, sdot) lands on the
// same value modulo 2^32, so wrapping is the one definition all of them share. Real layers stay
// far from it: a 3×3×512 u8×s8 layer reaches at most 4608 · 255 · 128 ≈ 1.5e8 < 2^31.
//
// The output, per output channel oc, in float (never double) and in exactly this order:
//     multiplier[oc] = (input_scale · weight_scales[oc]) / output_scale    once per channel
//     offset[oc]     = float_bias[oc] / output_scale   (0 without a float bias)   once
//     y              = fma(float(acc), multiplier[oc], offset[oc])          per element
//     q              = round_half_to_even(clamp(y, lo − zp, hi − zp)) + zp
// where [lo, hi] is Quantization::output_range() and zp the output zero point. Why this form:
// - It is what a SIMD store does with one float per channel precomputed at packing:
//   cvtdq2ps, one vfmadd (fmla on AArch64, llvm.fma in IR), min/max, cvtps2dq, add the zero
//   point, pack. The products and quotients of the scales are rounded once each when the
//   constants are made, never again per element.
// - float(acc) rounds to nearest even, as cvtdq2ps does; it is exact up to |acc| = 2^24.
// - The fma rounds once. Without a float bias the offset is +0 and fma(a, m, +0) rounds like
//   a · m, so a kernel without bias may multiply instead.
// - Clamping before rounding gives the same integers as rounding and then saturating (rounding
//   is monotone and keeps the integer bounds), and it stays defined where y does not fit
//   int32, where cvtps2dq returns 0x80000000. A kernel that saturates after cvtps2dq must
//   therefore clamp to the int32 range first.
// - Round half to even is cvtps2dq's (and fcvtns's) rounding under the default rounding mode.
//   The reference does not read the floating-point environment: it rounds ties to even
//   whatever mode a caller has set.
// f32 output (dequantized) is y = fma(float(acc), input_scale · weight_scales[oc],
// float_bias[oc]), the product rounded once per channel, the fma once per element.
//
// How the frameworks round, and why matching them is ±1 in the last quantized step:
// - ONNX's reference QLinearConv (onnx/reference/ops/op_qlinear_conv.py) forms the multiplier
//   in float32 in the same order, but multiplies the int32 accumulator by it in float64 (NumPy
//   promotes int32 × float32 to float64), adds the zero point, clips, and rounds half to even
//   (np.round). Where float32 and float64 round y to different sides of a half, outputs differ
//   by 1. Its int32 bias is added to the accumulator, as here. The conformance cases
//   (onnx/backend/test/case/node/qlinearconv.py) hold outputs of that reference, so a check
//   against them allows the same ±1 next to a half.
// - PyTorch's fbgemm path (the x86 and fbgemm engines) adds a float bias in the accumulator's
//   domain, (float(acc) + bias / (input_scale · weight_scale)) · multiplier, rounding twice,
//   then lrintf (half to even under the default mode); its oneDNN path rounds in oneDNN's own
//   order. Each differs from the fma above in the last bit of y now and then, which moves a
//   rounding at a half by 1.
// So convjit equals itself bit for bit on every ISA and backend, and is within ±1 quantized
// step of ONNX and PyTorch (the target: equal in ≥ 99.9% of elements, never more than
// 1 apart); a real value of y far from a half rounds the same everywhere.
#include <convjit/quantization.hpp>
#include <convjit/spec.hpp>

#include <cstdint>

namespace convjit {

// (input_scale · weight_scales[oc]) / output_scale, in float: the u8/s8 output's multiplier.
float requantization_multiplier(const Quantization& q, std::int64_t output_channel);

// input_scale · weight_scales[oc], in float: the f32 output's multiplier.
float dequantization_multiplier(const Quantization& q, std::int64_t output_channel);

// float_bias / output_scale, in float: a float bias as the u8/s8 output's offset.
float requantization_offset(const Quantization& q, float float_bias);

// The range a u8/s8 store clamps to: Quantization::output_range(), with a ReLU (the shape's
// act=relu) raising its floor to the output zero point, where the real value is 0.
IntegerRange store_range(const Quantization& q, const Activation& act);

// acc + bias in two's complement: the accumulator as int32 lanes compute it.
std::int32_t wrap_to_int32(std::int64_t exact_sum);

// Round half to even without consulting the floating-point environment. y must be finite and
// below 2^31 in magnitude (the store clamps it first).
std::int32_t round_half_to_even(float y);

// The u8/s8 output value of an accumulator, by the formula above.
std::int32_t requantize(std::int32_t acc, float multiplier, float offset, IntegerRange range,
                        std::int32_t zero_point);

// The f32 output value of an accumulator: fma(float(acc), multiplier, float_bias).
float dequantize(std::int32_t acc, float multiplier, float float_bias);

}  // namespace convjit
