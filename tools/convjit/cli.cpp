// Argument parsing, formatting, test data and timing shared by the commands.
#include "tools/convjit/cli.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <random>

namespace convjit::cli {

std::string ParsedArgs::value(std::string_view name, std::string fallback) const {
  auto it = values.find(std::string(name));
  return it == values.end() ? fallback : it->second;
}

ParsedArgs parse_args(const std::vector<std::string>& args, std::string_view command,
                      const std::vector<std::string_view>& value_options,
                      const std::vector<std::string_view>& flag_options) {
  auto contains = [](const std::vector<std::string_view>& list, std::string_view name) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  ParsedArgs parsed;
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (options_done || arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      options_done = true;
      continue;
    }
    std::string name = arg;
    std::string value;
    bool inline_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
      inline_value = true;
    }
    if (contains(value_options, name)) {
      if (!inline_value) {
        if (i + 1 >= args.size()) throw Error(name, "needs a value");
        value = args[++i];
      }
      if (value.empty()) throw Error(name, "has an empty value");
      if (!parsed.values.emplace(name, value).second) throw Error(name, "given more than once");
    } else if (contains(flag_options, name)) {
      if (inline_value) throw Error(name, "takes no value");
      parsed.flags.insert(name);
    } else {
      throw Error(name, "unknown option for 'convjit " + std::string(command) +
                            "' (see convjit " + std::string(command) + " --help)");
    }
  }
  return parsed;
}

std::int64_t parse_integer(std::string_view field, std::string_view text, std::int64_t min,
                           std::int64_t max) {
  std::int64_t value = 0;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  if (text.empty() || ec == std::errc::invalid_argument || ptr != last)
    throw Error(std::string(field), "expected an integer, got '" + std::string(text) + "'");
  if (ec == std::errc::result_out_of_range || value < min || value > max)
    throw Error(std::string(field), "must be in [" + std::to_string(min) + ", " +
                                        std::to_string(max) + "], got " + std::string(text));
  return value;
}

std::vector<std::string> split_list(std::string_view field, std::string_view text, char sep) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    std::string_view item = text.substr(start, end == std::string_view::npos ? end : end - start);
    if (item.empty())
      throw Error(std::string(field), "has an empty item in '" + std::string(text) + "'");
    items.emplace_back(item);
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return items;
}

std::vector<Backend> parse_backend_list(std::string_view text) {
  std::vector<Backend> out;
  for (const std::string& name : split_list("--backend", text)) {
    const Backend b = parse_backend(name);
    if (std::find(out.begin(), out.end(), b) != out.end())
      throw Error("--backend", "'" + name + "' listed more than once");
    out.push_back(b);
  }
  return out;
}

ConvShape parse_shape(std::string_view spec_text) { return ConvSpec::parse(spec_text).resolve(); }


std::string format_number(double value, int digits) {
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : (value > 0 ? "inf" : "-inf");
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", value == 0 ? 0.0 : value);  // no "-0"
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*g", digits, value);
  return buf;
}

std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return value < 0 ? "-" + out : out;
}

std::string format_us(double us) {
  char buf[32];
  if (us >= 100) std::snprintf(buf, sizeof buf, "%.0f", us);
  else if (us >= 10) std::snprintf(buf, sizeof buf, "%.1f", us);
  else if (us >= 1) std::snprintf(buf, sizeof buf, "%.2f", us);
  else std::snprintf(buf, sizeof buf, "%.3g", us);
  return buf;
}

void print_table(std::ostream& out, const std::vector<std::vector<std::string>>& rows,
                 std::string_view align, std::string_view indent) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    if (row.size() > width.size()) width.resize(row.size(), 0);
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  auto emit = [&](const std::vector<std::string>& row) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool right = i < align.size() && align[i] == 'r';
      const std::string pad(width[i] - row[i].size(), ' ');
      if (i) line += "  ";
      line += right ? pad + row[i] : (i + 1 == row.size() ? row[i] : row[i] + pad);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << "\n";
  };
  for (std::size_t r = 0; r < rows.size(); ++r) {
    emit(rows[r]);
    if (r == 0) {
      std::size_t total = 0;
      for (std::size_t i = 0; i < width.size(); ++i) total += width[i] + (i ? 2 : 0);
      out << indent << std::string(total, '-') << "\n";
    }
  }
}

std::vector<float> random_floats(std::size_t count, std::uint64_t seed, float lo, float hi) {
  std::mt19937_64 engine(seed);
  std::vector<float> out(count);
  for (float& v : out) {
    const double unit = static_cast<double>(engine() >> 11) * 0x1.0p-53;  // [0, 1)
    v = static_cast<float>(lo + (hi - lo) * unit);
  }
  return out;
}

double median_us(const std::function<void()>& fn, double budget_s, int max_samples) {
  using clock = std::chrono::steady_clock;
  auto time_one = [&] {
    const auto start = clock::now();
    fn();
    return std::chrono::duration<double, std::micro>(clock::now() - start).count();
  };
  const double first = time_one();  // warm-up (code and data into the caches)
  if (first >= budget_s * 1e6) return first;
  std::vector<double> samples;
  double total = 0;
  while (static_cast<int>(samples.size()) < max_samples &&
         (samples.size() < 3 || total < budget_s * 1e6)) {
    samples.push_back(time_one());
    total += samples.back();
  }
  std::sort(samples.begin(), samples.end());
  const std::size_t n = samples.size();
  return n % 2 ? samples[n / 2] : 0.5 * (samples[n / 2 - 1] + samples[n / 2]);
}

}  // namespace convjit::cli
