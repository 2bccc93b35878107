#include <convjit/error.hpp>
#include <convjit/quantization.hpp>

#include "core/requantization.hpp"

#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <string>

namespace convjit {
namespace {

std::string name_of(DataType type) { return std::string(to_string(type)); }

void require_one_of(DataType type, std::initializer_list<DataType> allowed, const char* field) {
  for (DataType a : allowed)
    if (type == a) return;
  std::string names;
  for (DataType a : allowed) names += (names.empty() ? "" : ", ") + name_of(a);
  throw Error(field, name_of(type) + " is not allowed here (expected " + names + ")");
}

void require_positive_finite(float scale, const std::string& field) {
  if (!std::isfinite(scale) || !(scale > 0.0f))
    throw Error(field, "a scale must be a positive finite number, not " + std::to_string(scale));
}

void require_in_range(std::int64_t zero_point, DataType type, const std::string& field) {
  const IntegerRange range = range_of(type, field.c_str());
  if (!range.contains(zero_point))
    throw Error(field, std::to_string(zero_point) + " is outside " + name_of(type) + "'s range [" +
                           std::to_string(range.lo) + ", " + std::to_string(range.hi) + "]");
}

// One value for the whole tensor, or one per output channel.
template <typename T>
void require_per_tensor_or_channel(const std::vector<T>& values, std::int64_t output_channels,
                                   const char* field) {
  const auto count = static_cast<std::int64_t>(values.size());
  if (count != 1 && count != output_channels)
    throw Error(field, "holds " + std::to_string(count) + " values; expected 1 or one per output "
                       "channel (" + std::to_string(output_channels) + ")");
}

std::string indexed(const char* field, std::size_t i) {
  return std::string(field) + "[" + std::to_string(i) + "]";
}

void validate_input(const Quantization& q) {
  require_one_of(q.input_type, {DataType::u8, DataType::s8}, "input_type");
  require_positive_finite(q.input_scale, "input_scale");
  require_in_range(q.input_zero_point, q.input_type, "input_zero_point");
}

void validate_weights(const Quantization& q, std::int64_t output_channels) {
  require_one_of(q.weight_type, {DataType::s8, DataType::u8}, "weight_type");
  require_per_tensor_or_channel(q.weight_scales, output_channels, "weight_scales");
  require_per_tensor_or_channel(q.weight_zero_points, output_channels, "weight_zero_points");
  for (std::size_t i = 0; i < q.weight_scales.size(); ++i)
    require_positive_finite(q.weight_scales[i], indexed("weight_scales", i));
  for (std::size_t i = 0; i < q.weight_zero_points.size(); ++i)
    require_in_range(q.weight_zero_points[i], q.weight_type, indexed("weight_zero_points", i));
}

bool requantizes(const Quantization& q) {
  return q.output_type == DataType::u8 || q.output_type == DataType::s8;
}

void validate_unused_output_parameters(const Quantization& q) {
  const std::string why = " has no output scale or zero point: leave them at 1 and 0";
  if (q.output_scale != 1.0f) throw Error("output_scale", name_of(q.output_type) + " output" + why);
  if (q.output_zero_point != 0)
    throw Error("output_zero_point", name_of(q.output_type) + " output" + why);
}

void validate_output(const Quantization& q) {
  if (requantizes(q)) {
    require_positive_finite(q.output_scale, "output_scale");
    require_in_range(q.output_zero_point, q.output_type, "output_zero_point");
  } else {
    validate_unused_output_parameters(q);
  }
}

// The per-channel constants a kernel precomputes must themselves be usable floats: a product
// or quotient of valid scales can still overflow to infinity or underflow to zero.
void validate_multipliers(const Quantization& q, std::int64_t output_channels) {
  if (q.output_type == DataType::s32) return;  // the raw accumulator is never scaled
  const std::int64_t channels = q.weight_scales.size() == 1 ? 1 : output_channels;
  for (std::int64_t oc = 0; oc < channels; ++oc) {
    const float m = requantizes(q) ? requantization_multiplier(q, oc)
                                   : dequantization_multiplier(q, oc);
    if (!std::isfinite(m) || !(m > 0.0f))
      throw Error(requantizes(q) ? "output_scale" : "weight_scales",
                  "input_scale · weight_scales[" + std::to_string(oc) + "]" +
                      (requantizes(q) ? " / output_scale" : "") + " is " + std::to_string(m) +
                      ", not a positive finite float");
  }
}

void validate_bias_type(const Quantization& q) {
  require_one_of(q.bias_type, {DataType::s32, DataType::f32}, "bias_type");
  if (q.bias_type == DataType::f32 && q.output_type == DataType::s32)
    throw Error("bias_type", "an f32 bias is added in the real domain, which s32 output (the raw "
                             "accumulator) does not reach: give the bias as s32");
}

void validate_clamp(const Quantization& q) {
  if (!q.clamp) return;
  if (!requantizes(q))
    throw Error("clamp", "a quantized-domain clamp needs u8 or s8 output, not " +
                             name_of(q.output_type));
  const IntegerRange type = range_of(q.output_type, "output_type");
  if (!type.contains(q.clamp->lo) || !type.contains(q.clamp->hi) || q.clamp->lo > q.clamp->hi)
    throw Error("clamp", "[" + std::to_string(q.clamp->lo) + ", " + std::to_string(q.clamp->hi) +
                             "] is not an ordered range inside " + name_of(q.output_type) + "'s");
}

}  // namespace

float Quantization::weight_scale(std::int64_t output_channel) const {
  return weight_scales.size() == 1 ? weight_scales.front()
                                   : weight_scales[static_cast<std::size_t>(output_channel)];
}

std::int32_t Quantization::weight_zero_point(std::int64_t output_channel) const {
  return weight_zero_points.size() == 1
             ? weight_zero_points.front()
             : weight_zero_points[static_cast<std::size_t>(output_channel)];
}

IntegerRange Quantization::output_range() const {
  const IntegerRange type = range_of(output_type, "output_type");
  if (!clamp) return type;
  return {std::max(type.lo, clamp->lo), std::min(type.hi, clamp->hi)};
}

void Quantization::validate(std::int64_t output_channels) const {
  if (output_channels < 1)
    throw Error("output_channels", "must be positive, not " + std::to_string(output_channels));
  validate_input(*this);
  validate_weights(*this, output_channels);
  validate_output(*this);
  validate_multipliers(*this, output_channels);
  validate_bias_type(*this);
  validate_clamp(*this);
}

}  // namespace convjit
