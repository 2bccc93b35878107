#include "bench/shapes_file.hpp"

#include <convjit/convjit.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <istream>
#include <sstream>

namespace convjit::bench {
namespace {

constexpr std::size_t field_count = 13;  // after the name
constexpr std::array<const char*, field_count> field_names = {
    "N", "C", "H", "W", "OC", "KH", "KW", "SH", "SW", "PH", "PW", "DH", "DW"};

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

// `where` ("FILE:LINE: ") starts every error message.
std::array<std::int64_t, field_count> parse_fields(const std::vector<std::string>& words,
                                                   const std::string& where) {
  if (words.size() != field_count + 1)
    throw Error("shapes", where + "expected 14 fields 'name N C H W OC KH KW SH SW PH PW DH DW'"
                                  ", got " + std::to_string(words.size()));
  std::array<std::int64_t, field_count> v{};
  for (std::size_t i = 0; i < field_count; ++i)
    if (!parse_int(words[i + 1], v[i]))
      throw Error("shapes", where + "field " + field_names[i] + " is not an integer: '" +
                                words[i + 1] + "'");
  return v;
}

ConvSpec spec_of(const std::array<std::int64_t, field_count>& v) {
  ConvSpec spec;
  spec.n = v[0], spec.c = v[1], spec.h = v[2], spec.w = v[3], spec.oc = v[4];
  spec.kh = v[5], spec.kw = v[6], spec.sh = v[7], spec.sw = v[8];
  spec.padding = PaddingMode::explicit_pads;
  spec.pad_top = spec.pad_bottom = v[9];
  spec.pad_left = spec.pad_right = v[10];
  spec.dh = v[11], spec.dw = v[12];
  return spec;
}

}  // namespace

std::vector<std::pair<std::string, ConvShape>> parse_shapes(std::istream& in,
                                                            const std::string& source) {
  std::vector<std::pair<std::string, ConvShape>> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = source + ":" + std::to_string(line_no) + ": ";
    const std::vector<std::string> words = words_of(line);
    if (words.empty()) continue;
    const ConvSpec spec = spec_of(parse_fields(words, where));
    try {
      out.emplace_back(words[0], spec.resolve());
    } catch (const Error& e) {
      throw Error("shapes", where + words[0] + ": " + e.field() + ": " + e.reason());
    }
  }
  return out;
}

std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("shapes", "cannot open '" + path + "'");
  return parse_shapes(in, path);
}

}  // namespace convjit::bench
