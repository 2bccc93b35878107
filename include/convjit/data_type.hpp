#pragma once
// The element types a convolution's tensors may hold: fp32, and the 8-bit and 32-bit integers
// of quantized inference (u8/s8 activations and weights, s32 accumulators).
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace convjit {

enum class DataType : std::uint8_t { f32, u8, s8, s32 };

// "f32", "u8", "s8", "s32": as spec strings and error messages spell them.
std::string_view to_string(DataType type);

bool is_integer(DataType type);

// Bytes of one element.
std::size_t bytes_of(DataType type);

// The closed range of integer values, for the integer types and for a fused clamp.
struct IntegerRange {
  std::int32_t lo = 0;
  std::int32_t hi = 0;

  bool contains(std::int64_t value) const { return lo <= value && value <= hi; }
  bool operator==(const IntegerRange&) const = default;
};

// Every value the type holds. Throws convjit::Error naming `field` for f32, which has no
// integer range: the caller's field is what was given the wrong type.
IntegerRange range_of(DataType type, const char* field = "data_type");

}  // namespace convjit
