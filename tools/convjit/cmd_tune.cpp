// convjit tune --shapes FILE [SPEC...] [--mode fast|full] [--backend B]: tuning ahead of time.
// Each shape is tuned as its first get() would tune it; with CONVJIT_CACHE_DIR set the
// winners are stored there, so the application's first use builds them without timing.
#include "tools/convjit/cli.hpp"

#include "bench/shapes_file.hpp"
#include "runtime/kernel_state.hpp"

#include <iostream>

namespace convjit::cli {

int cmd_tune(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "tune", {"--shapes", "--mode", "--backend"}, {});
  std::vector<std::pair<std::string, ConvShape>> shapes;
  for (const std::string& text : parsed.positional) shapes.push_back({text, parse_shape(text)});
  if (parsed.has("--shapes"))
    for (auto& entry : bench::load_shapes_file(parsed.value("--shapes"))) shapes.push_back(std::move(entry));
  if (shapes.empty()) throw Error("tune", "needs --shapes FILE or a SPEC (see convjit tune --help)");
  const Tuning mode = parse_tuning(parsed.value("--mode", "fast"));
  if (mode == Tuning::off || mode == Tuning::automatic)
    throw Error("--mode", "tune times kernels: fast or full");
  Jit jit(JitOptions{.backend = parse_backend(parsed.value("--backend", "auto")), .threads = 1,
                     .tune = mode});
  std::vector<std::vector<std::string>> rows{
      {"shape", "winner", "kind", "timed", "tuning_ms", "vs_pick", "why"}};
  double total_ms = 0;
  for (const auto& [name, shape] : shapes) {
    const auto kernel = jit.compile(shape);
    const auto& report = kernel->state().tuning;
    if (!report) {
      rows.push_back({name, kernel->name(), "-", "0", format_number(kernel->generation_us() / 1000, 3),
                      "-", "the " + std::string(kernel->backend()) + " backend is not tuned"});
      continue;
    }
    const TunedCandidate& won = report->candidates.at(report->winner);
    const double pick_us = report->candidates.front().median_us;
    std::size_t timed = 0;
    for (const TunedCandidate& c : report->candidates) timed += c.median_us >= 0;
    total_ms += report->tuning_us / 1000;
    rows.push_back({name, won.name, won.family, std::to_string(timed),
                    format_number(report->tuning_us / 1000, 3),
                    won.median_us > 0 && pick_us > 0 ? format_number(pick_us / won.median_us, 3) + "x" : "-",
                    report->why});
  }
  print_table(std::cout, rows, "lllrrrl");
  std::cout << "\n" << shapes.size() << " shape(s), " << format_number(total_ms, 4) << " ms of tuning ("
            << to_string(mode) << ")";
  if (const char* dir = std::getenv("CONVJIT_CACHE_DIR"); dir && *dir)
    std::cout << "; winners stored under " << dir;
  else
    std::cout << "; set CONVJIT_CACHE_DIR to keep the winners for later processes";
  std::cout << "\n";
  return kExitOk;
}

}  // namespace convjit::cli
