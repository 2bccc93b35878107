#pragma once
// The reference convolution: plain loops, double accumulation, the oracle of every test.
// Weights in the user's layout: HWIO for nhwc, OIHW for nchw (I = c / groups).
#include <convjit/shape.hpp>

#include <cstdint>

namespace convjit {

// One image (src_image, dst_image point at image n's data), output rows [row_begin, row_end).
// Pixels are the shape's src_stride / dst_stride apart. With add_residual, residual_image
// (laid out like dst_image, possibly dst_image itself) is added before the activation.
void reference_conv_rows(const ConvShape& shape, const float* src_image, const float* weights,
                         const float* bias, float* dst_image, std::int64_t row_begin,
                         std::int64_t row_end, const float* residual_image = nullptr);

// The whole batch. bias may be nullptr (zeros); residual is needed when the shape adds one.
void reference_conv(const ConvShape& shape, const float* src, const float* weights,
                    const float* bias, float* dst, const float* residual = nullptr);

float apply_activation(const Activation& act, float value);

// Index of weight (o, i, y, x) in the user's layout, o over all output channels.
inline std::int64_t user_weight_index(const ConvShape& s, std::int64_t o, std::int64_t i,
                                      std::int64_t y, std::int64_t x) {
  const std::int64_t icg = s.ic_per_group();
  return s.layout == Layout::nhwc ? ((y * s.kw + x) * icg + i) * s.oc + o
                                  : ((o * icg + i) * s.kh + y) * s.kw + x;
}

}  // namespace convjit
