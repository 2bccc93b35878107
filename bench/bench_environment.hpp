#pragma once
// The environment probe: what the suite reports about the machine and the libraries before it
// measures anything (CPU model, measured FMA peaks, load, backends and baseline versions).
#include "bench/baseline.hpp"
#include "bench/bench_suite.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace convjit::bench {

struct Environment {
  std::string cpu;
  unsigned logical_cpus = 0;
  double peak_avx2 = 0;
  double peak_avx512 = 0;
  double peak_vnni = 0;  // GOP/s of zmm vpdpbusd: what 8-bit shapes are a multiple of
  std::string load_average;
  std::vector<std::string> convjit_available;
  std::vector<std::pair<std::string, std::string>> baselines;  // name, version
};

// Takes ~0.15 s: the FMA peaks are measured, not looked up.
Environment probe_environment(const std::vector<std::unique_ptr<Baseline>>& baselines);

// %peak is of the widest vectors the measured code may use: AVX-512 only with --isa native on a
// CPU that has it.
bool peak_is_avx512(const Environment& env, const BenchOptions& o);
// That peak for o.threads threads, in GFLOP/s.
double peak_gflops(const Environment& env, const BenchOptions& o);
// The peak a shape's rate is a multiple of: the fp32 one above, or for 8-bit shapes the VNNI
// peak (0, unknown, without AVX512-VNNI or with --isa avx2), in GOP/s.
double peak_for(const Environment& env, const BenchOptions& o, const ConvShape& shape);

}  // namespace convjit::bench
