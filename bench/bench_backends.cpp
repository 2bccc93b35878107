#include "bench/bench_backends.hpp"

#include "bench/baseline.hpp"
#include "bench/bench_format.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <array>

namespace convjit::bench {
namespace {

constexpr std::array<const char*, 4> convjit_backend_names = {"xbyak", "llvm", "generic",
                                                              "reference"};

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

void add_once(std::vector<std::string>& names, const std::string& name) {
  if (!contains(names, name)) names.push_back(name);
}

// The items of a comma-separated list, empty ones included (so that they can be refused).
std::vector<std::string> split_at_commas(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    items.push_back(
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return items;
    start = comma + 1;
  }
}

// What "auto" means: the backend the host application would get.
std::string automatic_backend_name() {
  return std::string(to_string(resolve_backend(Backend::automatic)));
}

}  // namespace

bool is_convjit_backend(const std::string& name) {
  return std::find(convjit_backend_names.begin(), convjit_backend_names.end(), name) !=
         convjit_backend_names.end();
}

const std::vector<std::string>& known_backend_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v(convjit_backend_names.begin(), convjit_backend_names.end());
    for (const auto& b : known_baseline_names()) v.push_back(b);
    return v;
  }();
  return names;
}

std::vector<std::string> default_backend_names() {
  std::vector<std::string> out;
  const auto available = available_backends();
  for (Backend b : {Backend::xbyak, Backend::llvm, Backend::generic, Backend::reference})
    if (std::find(available.begin(), available.end(), b) != available.end())
      out.emplace_back(to_string(b));
  for (const auto& b : known_baseline_names())
    if (baseline_missing_reason(b).empty()) out.push_back(b);
  return out;
}

std::vector<std::string> parse_backend_list(const std::string& text) {
  std::vector<std::string> out;
  for (const std::string& name : split_at_commas(text)) {
    if (name.empty()) throw Error("backend", "empty backend name in '" + text + "'");
    if (name == "all") {
      if (text != "all") throw Error("backend", "'all' cannot be combined with other backends");
      return {};
    }
    if (name == "auto") {
      add_once(out, automatic_backend_name());
    } else if (!contains(known_backend_names(), name)) {
      throw Error("backend", "unknown backend '" + name + "' (expected all, auto, " +
                                 join(known_backend_names(), ", ") + ")");
    } else {
      add_once(out, name);
    }
  }
  return out;
}

std::vector<std::string> resolve_backends(const BenchOptions& o) {
  if (o.backends.empty()) return default_backend_names();
  std::vector<std::string> out;
  for (const std::string& b : o.backends) {
    if (!contains(known_backend_names(), b))
      throw Error("backend", "unknown backend '" + b + "' (expected " +
                                 join(known_backend_names(), ", ") + ")");
    add_once(out, b);
  }
  return out;
}

}  // namespace convjit::bench
