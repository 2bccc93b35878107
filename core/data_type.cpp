#include <convjit/data_type.hpp>
#include <convjit/error.hpp>

#include <limits>
#include <string>

namespace convjit {

std::string_view to_string(DataType type) {
  switch (type) {
    case DataType::f32: return "f32";
    case DataType::u8: return "u8";
    case DataType::s8: return "s8";
    case DataType::s32: return "s32";
  }
  return "?";
}

bool is_integer(DataType type) { return type != DataType::f32; }

std::size_t bytes_of(DataType type) {
  return type == DataType::u8 || type == DataType::s8 ? 1 : 4;
}

IntegerRange range_of(DataType type, const char* field) {
  switch (type) {
    case DataType::u8: return {0, 255};
    case DataType::s8: return {-128, 127};
    case DataType::s32:
      return {std::numeric_limits<std::int32_t>::min(), std::numeric_limits<std::int32_t>::max()};
    case DataType::f32: break;
  }
  throw Error(field, std::string(to_string(type)) + " is not an integer type");
}

}  // namespace convjit
