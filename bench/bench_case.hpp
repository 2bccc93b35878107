#pragma once
// One (shape, backend) case of the suite, from preparation through timing to the report, and
// the cases of one shape.
#include "bench/baseline.hpp"
#include "bench/bench_timer.hpp"

#include <convjit/convjit.hpp>

#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace convjit::bench {

struct Case {
  std::string backend;
  std::string status = "ok";  // ok | skipped | mismatch
  std::string reason;
  std::string impl;  // what ran, when known (kernel name, oneDNN implementation)
  // How the backend computes: the error bound its output is held to, and the report's note
  // that GFLOP/s count direct-convolution FLOPs whatever the algorithm.
  Algorithm algorithm = Algorithm::direct;
  double compile_us = nan_value;
  double pack_us = nan_value;
  double max_abs_err = nan_value;
  std::function<void()> call;
  std::vector<float> dst;
  // Keep-alives for `call`.
  std::shared_ptr<const Kernel> kernel;
  PackedWeights packed;
  std::unique_ptr<PreparedConv> prepared;
  // Timing: per-call wall and thread-CPU time of each repetition.
  int calls_per_rep = 1;
  int target_reps = 0;
  std::vector<double> wall_us, cpu_us;
  Stats stats;  // over the chosen timer
  double median_wall_us = nan_value, median_cpu_us = nan_value;
  double undisturbed = nan_value;  // fraction of repetitions with cpu >= 95% of wall

  bool ok() const { return status == "ok"; }
  void skip(std::string why) {
    status = "skipped";
    reason = std::move(why);
    call = nullptr;
  }
  void skip_failed_run(const std::exception& e) {
    skip(std::string("failed while running: ") + e.what());
  }
};

struct ShapeResult {
  std::string name;
  ConvShape shape;
  std::vector<Case> cases;
  // From the shapes file (ShapeEntry): the totals per source weight each layer by its count.
  std::int64_t count = 1;
  std::string source;
  const Case* find(const std::string& backend) const {
    for (const Case& c : cases)
      if (c.backend == backend && c.ok()) return &c;
    return nullptr;
  }
};

}  // namespace convjit::bench
