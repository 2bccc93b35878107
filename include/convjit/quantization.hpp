#pragma once
// Quantization: what the integers of an 8-bit convolution stand for. Every quantized tensor
// follows the affine scheme of ONNX, PyTorch, oneDNN and XNNPACK, real = scale · (q − zero
// point). These are data, not code: one compiled kernel serves every layer of its shape, and
// the numbers arrive with the weights.
#include <convjit/data_type.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace convjit {

struct Quantization {
  // The input (activations): u8 or s8, one scale and zero point for the whole tensor.
  DataType input_type = DataType::u8;
  float input_scale = 1.0f;
  std::int32_t input_zero_point = 0;

  // The weights: s8 with zero point 0 (PyTorch, oneDNN), or u8 or s8 with a zero point (ONNX
  // allows both). Scales and zero points hold one value for the whole tensor or one per
  // output channel, independently of each other.
  DataType weight_type = DataType::s8;
  std::vector<float> weight_scales = {1.0f};
  std::vector<std::int32_t> weight_zero_points = {0};

  // The output: u8 or s8, requantized with output_scale and output_zero_point; s32, the raw
  // accumulators; or f32, dequantized real values. s32 and f32 use neither output_scale nor
  // output_zero_point, and validate() refuses values other than 1 and 0 there rather than
  // ignore what the caller may have meant.
  DataType output_type = DataType::u8;
  float output_scale = 1.0f;
  std::int32_t output_zero_point = 0;

  // How a bias is given. s32 (ONNX QLinearConv): quantized with scale
  // input_scale · weight_scales[oc] and zero point 0, so it is added to the accumulator.
  // f32 (PyTorch): real values, added after the accumulator is scaled; not with s32 output,
  // which has no real domain to add them in.
  DataType bias_type = DataType::s32;

  // A clamp fused into the store, in the output's quantized domain: ReLU is
  // [output_zero_point, 255] for u8 output. u8 and s8 outputs only: s32 output is the raw
  // accumulator and f32 output has no quantized domain.
  std::optional<IntegerRange> clamp;

  // The scale and zero point of an output channel's weights, per channel or shared.
  float weight_scale(std::int64_t output_channel) const;
  std::int32_t weight_zero_point(std::int64_t output_channel) const;

  // The values a u8 or s8 output may take: its type's range, narrowed by the clamp.
  IntegerRange output_range() const;

  // Throws convjit::Error naming the offending field (the member's name) unless these
  // parameters describe a layer with `output_channels` output channels: scales positive and
  // finite, zero points in their type's range, per-channel vectors of one or
  // `output_channels` values, types each field allows, and an output multiplier
  // input_scale · weight_scale / output_scale that is a positive finite float.
  void validate(std::int64_t output_channels) const;
};

}  // namespace convjit
