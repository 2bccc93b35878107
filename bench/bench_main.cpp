// convjit_bench_driver: the bench suite without the command-line tool around it.
//   convjit_bench_driver [SPEC...] [--shapes FILE] [--backend B,...] [--threads N] [--json]
//                        [--json-env] [--min-seconds S] [--timer wall|cpu|auto] [--no-verify]
// Without SPEC or --shapes it runs bench/shapes.txt. Bad arguments: one line, exit 2.
#include "bench/bench_suite.hpp"

#include <convjit/convjit.hpp>

#include <cstdlib>
#include <iostream>
#include <string>

#ifndef CONVJIT_DEFAULT_SHAPES
#define CONVJIT_DEFAULT_SHAPES "bench/shapes.txt"
#endif

namespace {

int usage_error(const std::string& message) {
  std::cerr << "convjit_bench_driver: " << message << "\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  namespace cb = convjit::bench;
  cb::BenchOptions options;
  bool have_shapes = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw convjit::Error(arg, "needs a value");
        return argv[++i];
      };
      if (arg == "--shapes") {
        auto shapes = cb::load_shape_entries(value());
        options.shapes.insert(options.shapes.end(), shapes.begin(), shapes.end());
        have_shapes = true;
      } else if (arg == "--backend" || arg == "--backends") {
        options.backends = cb::parse_backend_list(value());
      } else if (arg == "--threads") {
        const std::string v = value();
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (*end != '\0' || n < 1) throw convjit::Error("threads", "expected a positive integer, got '" + v + "'");
        options.threads = static_cast<int>(n);
      } else if (arg == "--min-seconds") {
        const std::string v = value();
        char* end = nullptr;
        const double s = std::strtod(v.c_str(), &end);
        if (*end != '\0' || !(s >= 0)) throw convjit::Error("min-seconds", "expected seconds, got '" + v + "'");
        options.min_seconds_per_case = s;
      } else if (arg == "--timer") {
        const std::string v = value();
        if (v == "wall") options.timer = cb::Timer::wall;
        else if (v == "cpu") options.timer = cb::Timer::cpu;
        else if (v == "auto") options.timer = cb::Timer::automatic;
        else throw convjit::Error("timer", "expected wall, cpu or auto, got '" + v + "'");
      } else if (arg == "--json") {
        options.json = true;
      } else if (arg == "--json-env") {
        options.json = true;
        options.json_environment = true;
      } else if (arg == "--no-verify") {
        options.verify = false;
      } else if (arg == "-h" || arg == "--help") {
        std::cout << "usage: convjit_bench_driver [SPEC...] [--shapes FILE] [--backend B,...]"
                     " [--threads N] [--json] [--json-env] [--min-seconds S] [--timer wall|cpu|auto]"
                     " [--no-verify]\n";
        return 0;
      } else if (!arg.empty() && arg[0] == '-') {
        throw convjit::Error(arg, "unknown option");
      } else {
        options.shapes.push_back({arg, convjit::ConvSpec::parse(arg).resolve()});
        have_shapes = true;
      }
    }
    if (!have_shapes) options.shapes = cb::load_shape_entries(CONVJIT_DEFAULT_SHAPES);
    return cb::run_bench(options, std::cout);
  } catch (const convjit::Error& e) {
    return usage_error(e.what());
  }
}
