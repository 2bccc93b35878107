#pragma once
// The shape list format of bench/shapes.txt (part of the suite's API, bench/bench_suite.hpp).
#include <convjit/shape.hpp>

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace convjit::bench {

// Reads the shape list format of bench/shapes.txt: one shape per line,
//   name N C H W OC KH KW SH SW PH PW DH DW
// (symmetric padding PH/PW, dilation 1 = dense, NHWC, bias, no activation); '#' starts a
// comment, blank lines are ignored. Throws convjit::Error("shapes", "FILE:LINE: reason") on a
// malformed line or an invalid shape, convjit::Error("shapes", ...) if the file cannot be read.
std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path);
// The same from a stream; `source` names it in error messages.
std::vector<std::pair<std::string, ConvShape>> parse_shapes(std::istream& in,
                                                            const std::string& source);

}  // namespace convjit::bench
