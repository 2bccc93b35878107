#include "bench/shapes_file.hpp"

#include <convjit/convjit.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <istream>
#include <sstream>

namespace convjit::bench {
namespace {

constexpr std::size_t required_fields = 13;  // after the name
constexpr std::size_t optional_fields = 2;   // G, COUNT
constexpr std::array<const char*, required_fields + optional_fields> field_names = {
    "N", "C", "H", "W", "OC", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW", "G", "COUNT"};
constexpr const char* format_text = "'name N C H W OC KH KW SH SW PH PW DH DW [G [COUNT]]'";

// Positions in the parsed fields.
constexpr std::size_t groups_field = 13, count_field = 14;

bool parse_int(const std::string& text, std::int64_t& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last;
}

// The whitespace-separated words of the line before any '#'.
std::vector<std::string> words_of(std::string line) {
  if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string word; in >> word;) words.push_back(word);
  return words;
}

// The numbers after the name; the optional ones default to 1. `where` ("FILE:LINE: ") starts
// every error message.
std::array<std::int64_t, required_fields + optional_fields> parse_fields(
    const std::vector<std::string>& words, const std::string& where) {
  const std::size_t numbers = words.size() - 1;
  if (numbers < required_fields || numbers > required_fields + optional_fields)
    throw Error("shapes", where + "expected 14 to 16 fields " + format_text + ", got " +
                              std::to_string(words.size()));
  std::array<std::int64_t, required_fields + optional_fields> v{};
  v[groups_field] = v[count_field] = 1;
  for (std::size_t i = 0; i < numbers; ++i)
    if (!parse_int(words[i + 1], v[i]))
      throw Error("shapes", where + "field " + field_names[i] + " is not an integer: '" +
                                words[i + 1] + "'");
  // The shape's own validation (resolve()) reports bad groups; the count is ours.
  if (v[count_field] < 1)
    throw Error("shapes", where + "field COUNT must be at least 1, got " +
                              std::to_string(v[count_field]));
  return v;
}

ConvSpec spec_of(const std::array<std::int64_t, required_fields + optional_fields>& v) {
  ConvSpec spec;
  spec.n = v[0], spec.c = v[1], spec.h = v[2], spec.w = v[3], spec.oc = v[4];
  spec.kh = v[5], spec.kw = v[6], spec.sh = v[7], spec.sw = v[8];
  spec.padding = PaddingMode::explicit_pads;
  spec.pad_top = spec.pad_bottom = v[9];
  spec.pad_left = spec.pad_right = v[10];
  spec.dh = v[11], spec.dw = v[12];
  spec.groups = v[groups_field];
  return spec;
}

// `where_name` starts error messages (the path as given); `source` labels the entries.
std::vector<ShapeEntry> parse(std::istream& in, const std::string& where_name,
                              const std::string& source) {
  std::vector<ShapeEntry> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = where_name + ":" + std::to_string(line_no) + ": ";
    const std::vector<std::string> words = words_of(line);
    if (words.empty()) continue;
    const auto fields = parse_fields(words, where);
    try {
      out.push_back({words[0], spec_of(fields).resolve(), fields[count_field], source});
    } catch (const Error& e) {
      throw Error("shapes", where + words[0] + ": " + e.field() + ": " + e.reason());
    }
  }
  return out;
}

std::vector<std::pair<std::string, ConvShape>> named_shapes(
    const std::vector<ShapeEntry>& entries) {
  std::vector<std::pair<std::string, ConvShape>> out;
  out.reserve(entries.size());
  for (const ShapeEntry& e : entries) out.emplace_back(e.name, e.shape);
  return out;
}

}  // namespace

std::vector<ShapeEntry> parse_shape_entries(std::istream& in, const std::string& source) {
  return parse(in, source, source);
}

std::vector<ShapeEntry> load_shape_entries(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("shapes", "cannot open '" + path + "'");
  return parse(in, path, std::filesystem::path(path).stem().string());
}

std::vector<std::pair<std::string, ConvShape>> parse_shapes(std::istream& in,
                                                            const std::string& source) {
  return named_shapes(parse_shape_entries(in, source));
}

std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path) {
  return named_shapes(load_shape_entries(path));
}

}  // namespace convjit::bench
