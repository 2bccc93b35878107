#include "bench/bench_format.hpp"

#include "bench/bench_suite.hpp"

#include <cmath>
#include <cstdio>
#include <iomanip>
#include <sstream>

namespace convjit::bench {
namespace {

std::string fixed_point(double v, int precision) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

}  // namespace

std::string fixed(double v, int precision) {
  return std::isfinite(v) ? fixed_point(v, precision) : "-";
}

std::string json_number(double v, int precision) {
  return std::isfinite(v) ? fixed_point(v, precision) : "null";
}

// Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "\"" + std::string&&.
std::string json_string(const std::string& s) {
  std::string out = "\"";
  out += json_escape(s);
  out += '"';
  return out;
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out;
}

}  // namespace convjit::bench
