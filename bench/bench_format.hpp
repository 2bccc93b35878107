#pragma once
// Number and string formats shared by the suite's text output, its JSON lines and its messages.
#include <string>
#include <vector>

namespace convjit::bench {

// Fixed-point with `precision` decimals; "-" when v is not finite (not measured).
std::string fixed(double v, int precision);
// Fixed-point with `precision` decimals; null when v is not finite (not measured).
std::string json_number(double v, int precision = 3);
// The text as a quoted JSON string.
std::string json_string(const std::string& s);
std::string join(const std::vector<std::string>& v, const std::string& sep);

}  // namespace convjit::bench
