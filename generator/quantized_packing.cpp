#include "generator/quantized_packing.hpp"

#include <convjit/error.hpp>

#include "core/reference.hpp"
#include "core/requantization.hpp"
#include "generator/plan.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace convjit {
namespace {

void check_kernel_types(const ConvShape& s, const Quantization& q) {
  if (q.input_type != s.src_type)
    throw Error("input_type", "is " + std::string(to_string(q.input_type)) +
                                  " but the kernel was compiled for src=" +
                                  std::string(to_string(s.src_type)));
  if (q.output_type != s.dst_type)
    throw Error("output_type", "is " + std::string(to_string(q.output_type)) +
                                   " but the kernel was compiled for dst=" +
                                   std::string(to_string(s.dst_type)));
  if (q.weight_type != DataType::s8)
    throw Error("weight_type", "the kernels take s8 weights; u8 weights are not built yet");
  for (std::int32_t zero_point : q.weight_zero_points)
    if (zero_point != 0)
      throw Error("weight_zero_points", "the kernels take weight zero point 0; " +
                                            std::to_string(zero_point) + " is not built yet");
}

void put(float* at, std::int32_t value) { std::memcpy(at, &value, sizeof value); }

// The zero point the kernel sums against: channel-vector kernels read s8 input with its sign
// bits flipped, as x + 128 in u8, so its zero point moves by 128 too; depthwise kernels
// sign-extend it.
std::int64_t summed_zero_point(const KernelPlan& plan, const Quantization& q) {
  // Channel vectors (quads) read s8 input with flipped sign bits; depthwise sign-extends it.
  const bool flipped = plan.shape.src_type == DataType::s8 && plan.strategy == Strategy::oc_vectors;
  return q.input_zero_point + (flipped ? 128 : 0);
}

}  // namespace

QuantizedBias typed_bias(const Quantization& q, const void* bias) {
  if (!bias) return nullptr;
  if (q.bias_type == DataType::f32) return static_cast<const float*>(bias);
  return static_cast<const std::int32_t*>(bias);
}

void pack_quantized_for_plan(const KernelPlan& plan, const Quantization& q,
                             const std::int8_t* weights, QuantizedBias bias, float* out) {
  const PackedLayout& l = plan.packed;
  const ConvShape& s = plan.shape;
  check_kernel_types(s, q);
  check_quantized_operands(s, q, weights, bias);
  std::fill(out, out + l.total_floats(), 0.0f);
  // oc_vectors_s8x4 holds the weights as bytes; depthwise_s32 as the low 16 bits of a 32-bit
  // lane whose high 16 are zero, so vpdpwssd's second product (the input's upper half, its
  // sign for s8 input, times 0) adds nothing.
  // oc_vectors_s16x2 as int16.
  auto store_weight = [&](std::int64_t at, std::int8_t w) {
    if (l.element_bytes == 1) reinterpret_cast<std::int8_t*>(out)[at] = w;
    else if (l.element_bytes == 2) reinterpret_cast<std::int16_t*>(out)[at] = w;
    else put(out + at, static_cast<std::uint16_t>(static_cast<std::int16_t>(w)));
  };
  auto part = [&](int p, std::int64_t g, std::int64_t o) {
    return out + l.weight_floats + p * l.part_floats() + l.bias_offset(g, o);
  };
  const std::int64_t zero_point = summed_zero_point(plan, q);
  const IntegerRange range = q.output_type == DataType::u8 || q.output_type == DataType::s8
                                 ? store_range(q, s.act)
                                 : IntegerRange{};
  for (std::int64_t g = 0; g < l.groups; ++g)
    for (std::int64_t o = 0; o < l.channels; ++o) {
      const std::int64_t user_o = g * l.channels + o;
      std::int64_t every_tap = 0;
      for (std::int64_t y = 0; y < l.rows; ++y)
        for (std::int64_t x = 0; x < l.columns; ++x) {
          std::int64_t tap = 0;
          for (std::int64_t i = 0; i < l.input_channels; ++i) {
            const std::int8_t w = weights[user_weight_index(s, user_o, i, y, x)];
            store_weight(l.weight_offset(g, o, i, y, x), w);
            tap += w;
          }
          put(part(first_tap_part + static_cast<int>(y * l.columns + x), g, o),
              wrap_to_int32(zero_point * tap));
          every_tap += tap;
        }
      const OutputChannel channel = output_channel(s, q, bias, user_o);
      put(part(bias_part, g, o), wrap_to_int32(channel.integer_bias - zero_point * every_tap));
      *part(multiplier_part, g, o) = channel.multiplier;
      *part(offset_part, g, o) = channel.offset;
      put(part(zero_point_part, g, o), q.output_zero_point);
      *part(lowest_part, g, o) = static_cast<float>(static_cast<std::int64_t>(range.lo) - q.output_zero_point);
      *part(highest_part, g, o) = static_cast<float>(static_cast<std::int64_t>(range.hi) - q.output_zero_point);
    }
}

}  // namespace convjit
