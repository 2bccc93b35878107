#include "core/requantization.hpp"

#include <algorithm>
#include <cmath>

namespace convjit {

float requantization_multiplier(const Quantization& q, std::int64_t output_channel) {
  const float input_times_weight = q.input_scale * q.weight_scale(output_channel);
  return input_times_weight / q.output_scale;
}

float dequantization_multiplier(const Quantization& q, std::int64_t output_channel) {
  return q.input_scale * q.weight_scale(output_channel);
}

float requantization_offset(const Quantization& q, float float_bias) {
  return float_bias / q.output_scale;
}

IntegerRange store_range(const Quantization& q, const Activation& act) {
  IntegerRange range = q.output_range();
  if (act.kind == ActivationKind::relu) range.lo = std::max(range.lo, q.output_zero_point);
  return range;
}

std::int32_t wrap_to_int32(std::int64_t exact_sum) {
  // Since C++20 the conversion is modular, which is what int32 lanes do.
  return static_cast<std::int32_t>(exact_sum);
}

std::int32_t round_half_to_even(float y) {
  const float below = std::floor(y);
  const float fraction = y - below;  // exact: a multiple of y's ulp, below 1
  const auto whole = static_cast<std::int32_t>(below);
  if (fraction > 0.5f) return whole + 1;
  if (fraction < 0.5f) return whole;
  return whole % 2 == 0 ? whole : whole + 1;
}

std::int32_t requantize(std::int32_t acc, float multiplier, float offset, IntegerRange range,
                        std::int32_t zero_point) {
  const float y = std::fma(static_cast<float>(acc), multiplier, offset);
  // The bounds minus the zero point are integers below 2^9 for u8/s8: exact in float.
  const auto lowest = static_cast<float>(static_cast<std::int64_t>(range.lo) - zero_point);
  const auto highest = static_cast<float>(static_cast<std::int64_t>(range.hi) - zero_point);
  return round_half_to_even(std::clamp(y, lowest, highest)) + zero_point;
}

float dequantize(std::int32_t acc, float multiplier, float float_bias) {
  return std::fma(static_cast<float>(acc), multiplier, float_bias);
}

}  // namespace convjit
