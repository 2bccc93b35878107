#pragma once
// The exact 8-bit reference convolution: plain loops in exact integers, then the store of
// requantization.hpp. It is the oracle every 8-bit kernel must equal bit for bit (not within a
// tolerance), and the arithmetic it follows is written there. No kernel uses it yet.
//
// Tensors are indexed as the fp32 reference indexes them (reference.hpp): NHWC or NCHW per the
// shape's layout, NHWC pixels src_stride / dst_stride elements apart, groups, batch. Weights
// are in the fp32 reference's order, user_weight_index(): HWIO for nhwc, OIHW for nchw, with
// I = c / groups. Padding is a real zero, the input's zero point: a padded tap adds nothing.
#include <convjit/quantization.hpp>
#include <convjit/shape.hpp>

#include <cstddef>
#include <cstdint>

namespace convjit {

// The weights, of either 8-bit type; the reference checks it against Quantization::weight_type.
struct QuantizedWeights {
  QuantizedWeights(const std::int8_t* s8) : type(DataType::s8), data(s8) {}    // NOLINT: implicit
  QuantizedWeights(const std::uint8_t* u8) : type(DataType::u8), data(u8) {}  // NOLINT: implicit
  DataType type;
  const void* data;
};

// An optional bias of oc values, s32 (added to the accumulator) or f32 (added in the real
// domain); the reference checks it against Quantization::bias_type.
struct QuantizedBias {
  QuantizedBias(std::nullptr_t = nullptr) {}                                    // NOLINT: implicit
  QuantizedBias(const std::int32_t* s32) : type(DataType::s32), data(s32) {}    // NOLINT: implicit
  QuantizedBias(const float* f32) : type(DataType::f32), data(f32) {}           // NOLINT: implicit
  DataType type = DataType::s32;
  const void* data = nullptr;
};

// What the store needs of one output channel, made once per packing (by the reference, once
// per call).
struct OutputChannel {
  std::int32_t integer_bias = 0;  // an s32 bias, added to the accumulator
  float multiplier = 0.0f;        // requantization_multiplier, or dequantization_multiplier for f32
  float offset = 0.0f;            // a float bias, as the output type adds it
};
// Throws convjit::Error("bias", ...) when a float bias (divided by output_scale for u8/s8
// output) is not finite. Arguments checked by check_quantized_operands.
OutputChannel output_channel(const ConvShape& shape, const Quantization& quantization,
                             QuantizedBias bias, std::int64_t output_channel);

// The checks below (the reference's and every kernel's packing): throws as they say.
void check_quantized_operands(const ConvShape& shape, const Quantization& quantization,
                              QuantizedWeights weights, QuantizedBias bias);

// One image (src_image and dst_image point at image n's first element), output rows
// [row_begin, row_end). src holds Quantization::input_type elements and dst receives
// Quantization::output_type elements. The bias is used when the shape has one (bias=1) and it
// is given; otherwise the bias is zero.
void quantized_reference_conv_rows(const ConvShape& shape, const Quantization& quantization,
                                   const void* src_image, QuantizedWeights weights,
                                   QuantizedBias bias, void* dst_image, std::int64_t row_begin,
                                   std::int64_t row_end);

// The whole batch.
void quantized_reference_conv(const ConvShape& shape, const Quantization& quantization,
                              const void* src, QuantizedWeights weights, QuantizedBias bias,
                              void* dst);

// Both throw convjit::Error naming the field when the quantization does not validate for the
// shape's output channels, the weights or bias are not of the type it names, a float bias or
// its offset (bias / output_scale) is not finite, or the shape asks for what the 8-bit
// reference does not do yet: an fp32 activation (`act`; clamp in the quantized domain with
// Quantization::clamp instead) or a residual (`add`).

}  // namespace convjit
