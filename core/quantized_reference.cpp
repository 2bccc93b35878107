#include "core/quantized_reference.hpp"

#include <convjit/error.hpp>

#include "core/reference.hpp"
#include "core/requantization.hpp"
#include "core/tensor_strides.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace convjit {
namespace {

// An 8-bit element as an integer, whichever its type.
std::int32_t integer_at(const void* data, DataType type, std::int64_t index) {
  return type == DataType::u8 ? static_cast<const std::uint8_t*>(data)[index]
                              : static_cast<const std::int8_t*>(data)[index];
}

void refuse_what_the_reference_does_not_do(const ConvShape& s, const Quantization& q) {
  const bool quantized_relu = s.act.kind == ActivationKind::relu &&
                              (q.output_type == DataType::u8 || q.output_type == DataType::s8);
  if (s.act.kind != ActivationKind::none && !quantized_relu)
    throw Error("act", "8-bit convolutions clamp in the quantized domain (Quantization::clamp, "
                       "or relu with u8/s8 output), not with an fp32 activation");
  if (s.add_residual)
    throw Error("add", "the 8-bit reference has no residual yet");
}

bool uses_bias(const ConvShape& s, QuantizedBias bias) { return s.bias && bias.data; }

void check_operand_types(const ConvShape& s, const Quantization& q, QuantizedWeights weights,
                         QuantizedBias bias) {
  if (weights.type != q.weight_type)
    throw Error("weight_type", "the weights are " + std::string(to_string(weights.type)) +
                                   " but the quantization says " +
                                   std::string(to_string(q.weight_type)));
  if (uses_bias(s, bias) && bias.type != q.bias_type)
    throw Error("bias_type", "the bias is " + std::string(to_string(bias.type)) +
                                 " but the quantization says " + std::string(to_string(q.bias_type)));
}

float float_bias_term(const Quantization& q, float bias, std::int64_t oc) {
  const bool requantized = q.output_type != DataType::f32;
  const float term = requantized ? requantization_offset(q, bias) : bias;
  if (!std::isfinite(bias) || !std::isfinite(term))
    throw Error("bias", "bias[" + std::to_string(oc) + "] = " + std::to_string(bias) +
                            (requantized ? " divided by output_scale" : "") +
                            " is not a finite float");
  return term;
}

}  // namespace

void check_quantized_operands(const ConvShape& s, const Quantization& q, QuantizedWeights weights,
                              QuantizedBias bias) {
  refuse_what_the_reference_does_not_do(s, q);
  q.validate(s.oc);
  check_operand_types(s, q, weights, bias);
}

OutputChannel output_channel(const ConvShape& s, const Quantization& q, QuantizedBias bias,
                             std::int64_t oc) {
  OutputChannel channel;
  if (q.output_type == DataType::f32) channel.multiplier = dequantization_multiplier(q, oc);
  if (q.output_type == DataType::u8 || q.output_type == DataType::s8)
    channel.multiplier = requantization_multiplier(q, oc);
  if (!uses_bias(s, bias)) return channel;
  if (bias.type == DataType::s32)
    channel.integer_bias = static_cast<const std::int32_t*>(bias.data)[oc];
  else
    channel.offset = float_bias_term(q, static_cast<const float*>(bias.data)[oc], oc);
  return channel;
}

namespace {

std::vector<OutputChannel> output_channels(const ConvShape& s, const Quantization& q,
                                           QuantizedBias bias) {
  std::vector<OutputChannel> channels;
  channels.reserve(static_cast<std::size_t>(s.oc));
  for (std::int64_t oc = 0; oc < s.oc; ++oc) channels.push_back(output_channel(s, q, bias, oc));
  return channels;
}

// Σ (x − x_zp)·(w − w_zp[oc]) over the in-bounds taps, exact in 64 bits.
std::int64_t exact_sum(const ConvShape& s, const Quantization& q, const void* src,
                       const TensorStrides& in, QuantizedWeights weights, std::int64_t oh,
                       std::int64_t ow, std::int64_t oc) {
  const std::int64_t icg = s.ic_per_group();
  const std::int64_t group = oc / s.oc_per_group();
  const std::int32_t weight_zero_point = q.weight_zero_point(oc);
  std::int64_t sum = 0;
  for_each_tap_in_bounds(s, oh, ow, [&](std::int64_t y, std::int64_t x, std::int64_t ih,
                                        std::int64_t iw) {
    for (std::int64_t i = 0; i < icg; ++i) {
      const std::int64_t input =
          integer_at(src, q.input_type, in.at(group * icg + i, ih, iw)) - q.input_zero_point;
      const std::int64_t weight =
          integer_at(weights.data, weights.type, user_weight_index(s, oc, i, y, x)) -
          weight_zero_point;
      sum += input * weight;
    }
  });
  return sum;
}

void store(const ConvShape& s, const Quantization& q, const OutputChannel& channel,
           std::int32_t acc, void* dst, std::int64_t at) {
  switch (q.output_type) {
    case DataType::s32: static_cast<std::int32_t*>(dst)[at] = acc; return;
    case DataType::f32:
      static_cast<float*>(dst)[at] = dequantize(acc, channel.multiplier, channel.offset);
      return;
    case DataType::u8:
      static_cast<std::uint8_t*>(dst)[at] = static_cast<std::uint8_t>(requantize(
          acc, channel.multiplier, channel.offset, store_range(q, s.act), q.output_zero_point));
      return;
    case DataType::s8:
      static_cast<std::int8_t*>(dst)[at] = static_cast<std::int8_t>(requantize(
          acc, channel.multiplier, channel.offset, store_range(q, s.act), q.output_zero_point));
      return;
  }
}

void conv_rows(const ConvShape& s, const Quantization& q, const void* src,
               QuantizedWeights weights, const std::vector<OutputChannel>& channels, void* dst,
               std::int64_t row_begin, std::int64_t row_end) {
  const TensorStrides in = src_strides(s);
  const TensorStrides out = dst_strides(s);
  for (std::int64_t oh = row_begin; oh < row_end; ++oh)
    for (std::int64_t ow = 0; ow < s.out_w; ++ow)
      for (std::int64_t oc = 0; oc < s.oc; ++oc) {
        const OutputChannel& channel = channels[static_cast<std::size_t>(oc)];
        const std::int32_t acc =
            wrap_to_int32(exact_sum(s, q, src, in, weights, oh, ow, oc) + channel.integer_bias);
        store(s, q, channel, acc, dst, out.at(oc, oh, ow));
      }
}

}  // namespace

void quantized_reference_conv_rows(const ConvShape& s, const Quantization& q,
                                   const void* src_image, QuantizedWeights weights,
                                   QuantizedBias bias, void* dst_image, std::int64_t row_begin,
                                   std::int64_t row_end) {
  check_quantized_operands(s, q, weights, bias);
  conv_rows(s, q, src_image, weights, output_channels(s, q, bias), dst_image, row_begin, row_end);
}

void quantized_reference_conv(const ConvShape& s, const Quantization& q, const void* src,
                              QuantizedWeights weights, QuantizedBias bias, void* dst) {
  check_quantized_operands(s, q, weights, bias);
  const std::vector<OutputChannel> channels = output_channels(s, q, bias);
  // ConvShape counts elements (it says floats, its first type): bytes depend on the type.
  const auto src_image_bytes = s.src_image_floats() * static_cast<std::int64_t>(bytes_of(q.input_type));
  const auto dst_image_bytes = s.dst_image_floats() * static_cast<std::int64_t>(bytes_of(q.output_type));
  for (std::int64_t b = 0; b < s.n; ++b)
    conv_rows(s, q, static_cast<const std::byte*>(src) + b * src_image_bytes, weights, channels,
              static_cast<std::byte*>(dst) + b * dst_image_bytes, 0, s.out_h);
}

}  // namespace convjit
