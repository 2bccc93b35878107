#include "core/reference.hpp"

#include "core/tensor_strides.hpp"

#include <algorithm>
#include <cmath>

namespace convjit {
float apply_activation(const Activation& act, float value) {
  switch (act.kind) {
    case ActivationKind::none: return value;
    case ActivationKind::relu: return std::max(value, 0.0f);
    case ActivationKind::clamp: return std::min(std::max(value, act.lo), act.hi);
    default: break;
  }
  // The smooth ones in double, rounded once: the exact function of the kernel's float input.
  const double x = value;
  switch (act.kind) {
    case ActivationKind::leaky_relu: return static_cast<float>(x >= 0 ? x : x * act.alpha);
    case ActivationKind::hardswish: return static_cast<float>(x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0);
    case ActivationKind::silu: return static_cast<float>(x / (1.0 + std::exp(-x)));
    case ActivationKind::sigmoid: return static_cast<float>(1.0 / (1.0 + std::exp(-x)));
    default: break;
  }
  return value;
}

void reference_conv_rows(const ConvShape& s, const float* src, const float* weights,
                         const float* bias, float* dst, std::int64_t row_begin,
                         std::int64_t row_end, const float* residual) {
  const TensorStrides in = src_strides(s);
  const TensorStrides out = dst_strides(s);
  const std::int64_t icg = s.ic_per_group();
  const std::int64_t ocg = s.oc_per_group();
  for (std::int64_t oh = row_begin; oh < row_end; ++oh) {
    for (std::int64_t ow = 0; ow < s.out_w; ++ow) {
      for (std::int64_t o = 0; o < s.oc; ++o) {
        const std::int64_t group = o / ocg;
        double sum = (s.bias && bias) ? bias[o] : 0.0;
        for_each_tap_in_bounds(s, oh, ow, [&](std::int64_t y, std::int64_t x, std::int64_t ih,
                                              std::int64_t iw) {
          for (std::int64_t i = 0; i < icg; ++i) {
            const std::int64_t ic = group * icg + i;
            sum += static_cast<double>(src[in.at(ic, ih, iw)]) *
                   static_cast<double>(weights[user_weight_index(s, o, i, y, x)]);
          }
        });
        const std::int64_t at = out.at(o, oh, ow);
        // The kernels add the residual to the rounded sum, in float.
        float value = static_cast<float>(sum);
        if (s.add_residual && residual) value += residual[at];
        dst[at] = apply_activation(s.act, value);
      }
    }
  }
}

void reference_conv(const ConvShape& s, const float* src, const float* weights, const float* bias,
                    float* dst, const float* residual) {
  const std::int64_t src_image = s.src_image_floats();
  const std::int64_t dst_image = s.dst_image_floats();
  for (std::int64_t b = 0; b < s.n; ++b)
    reference_conv_rows(s, src + b * src_image, weights, bias, dst + b * dst_image, 0, s.out_h,
                        residual ? residual + b * dst_image : nullptr);
}

}  // namespace convjit
