#include "bench/bench_environment.hpp"

#include "bench/fma_peak.hpp"

#include <convjit/convjit.hpp>

#include <exception>
#include <fstream>
#include <thread>

namespace convjit::bench {
namespace {

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  }
  return "unknown CPU";
}

// The 1-minute load average, as the kernel prints it.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one;
}

// A baseline whose version query fails is still benchmarked; the reason takes the version's place.
std::string version_of(const Baseline& b) {
  try {
    return b.version();
  } catch (const std::exception& e) {
    return std::string("version unavailable: ") + e.what();
  }
}

}  // namespace

Environment probe_environment(const std::vector<std::unique_ptr<Baseline>>& baselines) {
  Environment env;
  env.cpu = cpu_model();
  env.logical_cpus = std::thread::hardware_concurrency();
  env.load_average = load_average();
  env.peak_avx2 = measure_fma_peak_gflops(0.1);
  env.peak_avx512 = measure_avx512_fma_peak_gflops(0.05);
  env.peak_vnni = measure_vnni_peak_gops(0.05);
  for (Backend b : available_backends()) env.convjit_available.emplace_back(to_string(b));
  for (const auto& b : baselines) env.baselines.emplace_back(b->name(), version_of(*b));
  return env;
}

bool peak_is_avx512(const Environment& env, const BenchOptions& o) {
  return !o.same_isa && env.peak_avx512 > 0;
}

double peak_gflops(const Environment& env, const BenchOptions& o) {
  return (peak_is_avx512(env, o) ? env.peak_avx512 : env.peak_avx2) * o.threads;
}

double peak_for(const Environment& env, const BenchOptions& o, const ConvShape& shape) {
  if (!shape.quantized()) return peak_gflops(env, o);
  return o.same_isa ? 0.0 : env.peak_vnni * o.threads;
}

}  // namespace convjit::bench
