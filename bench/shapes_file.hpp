#pragma once
// The shape list format of bench/shapes.txt, bench/shapes_vgg.txt and bench/networks/*.txt
// (part of the suite's API, bench/bench_suite.hpp). The bench, the micro-benchmarks and the
// test suites all read shapes files through this one parser.
#include "bench/shape_entry.hpp"

#include <convjit/shape.hpp>

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace convjit::bench {

// One shape per line:
//   name N C H W OC KH KW SH SW PH PW DH DW [G [COUNT]]
// symmetric padding PH/PW, dilation 1 = dense, NHWC, bias, no activation; G = groups
// (default 1; G = C = OC is depthwise), COUNT = occurrences of the layer in its network
// (default 1, at least 1). '#' starts a comment, blank lines are ignored. Throws
// convjit::Error("shapes", "FILE:LINE: reason") on a malformed line or an invalid shape,
// convjit::Error("shapes", ...) if the file cannot be read. Entries carry the file's stem as
// their source.
std::vector<ShapeEntry> load_shape_entries(const std::string& path);
// The same from a stream; `source` names it in error messages and is the entries' source.
std::vector<ShapeEntry> parse_shape_entries(std::istream& in, const std::string& source);

// (name, shape) views of the above, for callers that need neither count nor source.
std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path);
std::vector<std::pair<std::string, ConvShape>> parse_shapes(std::istream& in,
                                                            const std::string& source);

}  // namespace convjit::bench
