// convjit bench [SPEC...] [--shapes FILE [--layout nhwc|nchw] [--src u8|s8]] [--backend B,...] [--threads N]
//               [--json] [--json-env] [--min-seconds S] [--no-verify] [--isa avx2|native]
// Parses the arguments into bench::BenchOptions and runs the suite (bench/bench_suite.hpp).
#include "tools/convjit/cli.hpp"

#include "bench/bench_suite.hpp"

#include <cmath>
#include <cstdlib>
#include <iostream>

namespace convjit::cli {

int cmd_bench(const std::vector<std::string>& args) {
  const ParsedArgs parsed =
      parse_args(args, "bench", {"--shapes", "--layout", "--src", "--backend", "--threads", "--min-seconds", "--isa"},
                 {"--json", "--json-env", "--no-verify"});
  bench::BenchOptions options;
  // SPEC arguments first, in the order given, then the shapes file.
  for (const std::string& text : parsed.positional)
    options.shapes.push_back({text, parse_shape(text)});
  if (parsed.has("--shapes")) {
    auto from_file = bench::load_shape_entries(parsed.value("--shapes"));
    // Shapes files list NHWC layers; --layout nchw runs the same layers on NCHW tensors (the
    // layout PyTorch hands a module), where the planner may stage them for NHWC code.
    if (parsed.has("--layout")) {
      const std::string layout = parsed.value("--layout");
      if (layout != "nhwc" && layout != "nchw")
        throw Error("--layout", "expected nhwc or nchw, got '" + layout + "'");
      for (bench::ShapeEntry& entry : from_file) {
        ConvSpec spec = entry.shape.spec();
        spec.layout = layout == "nchw" ? Layout::nchw : Layout::nhwc;
        entry.shape = spec.resolve();
      }
    }
    // --src u8|s8: the same layers in 8 bits (u8 or s8 in and out, s8 weights), as a quantized
    // network runs them.
    if (parsed.has("--src")) {
      const std::string type = parsed.value("--src");
      if (type != "u8" && type != "s8") throw Error("--src", "expected u8 or s8, got '" + type + "'");
      for (bench::ShapeEntry& entry : from_file) {
        ConvSpec spec = entry.shape.spec();
        spec.src_type = spec.dst_type = type == "u8" ? DataType::u8 : DataType::s8;
        entry.shape = spec.resolve();
      }
    }
    options.shapes.insert(options.shapes.end(), from_file.begin(), from_file.end());
  }
  if (parsed.has("--layout") && !parsed.has("--shapes"))
    throw Error("--layout", "applies to --shapes FILE (a SPEC says layout= itself)");
  if (parsed.has("--src") && !parsed.has("--shapes"))
    throw Error("--src", "applies to --shapes FILE (a SPEC says src= itself)");
  if (options.shapes.empty())
    throw Error("bench", "needs a SPEC or --shapes FILE (e.g. --shapes bench/shapes.txt)");
  if (parsed.has("--backend")) options.backends = bench::parse_backend_list(parsed.value("--backend"));
  if (parsed.has("--threads"))
    options.threads = static_cast<int>(parse_integer("--threads", parsed.value("--threads"), 1, 4096));
  if (parsed.has("--min-seconds")) {
    const std::string v = parsed.value("--min-seconds");
    char* end = nullptr;
    const double seconds = std::strtod(v.c_str(), &end);
    if (*end != '\0' || !std::isfinite(seconds) || seconds < 0)
      throw Error("--min-seconds", "expected a non-negative number of seconds, got '" + v + "'");
    options.min_seconds_per_case = seconds;
  }
  options.json = parsed.flag("--json") || parsed.flag("--json-env");
  options.json_environment = parsed.flag("--json-env");
  options.verify = !parsed.flag("--no-verify");
  if (parsed.has("--isa")) {
    const std::string isa = parsed.value("--isa");
    if (isa != "avx2" && isa != "native")
      throw Error("--isa", "expected avx2 (convjit and the baselines at AVX2) or native, got '" + isa + "'");
    options.same_isa = isa == "avx2";
  }
  return bench::run_bench(options, std::cout);
}

}  // namespace convjit::cli
