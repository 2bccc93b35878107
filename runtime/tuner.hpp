#pragma once
// Tuner: tuning at first use. Generates the best-ranked candidate kernels of a shape, times
// each on scratch data of the shape's real sizes (one thread, thread CPU time, the median of
// a few batches after a warm-up call), checks each one's results against the cost model's
// pick, and keeps the fastest; within 3% of the fastest the pick wins, since the model is
// reproducible and timing is not.
#include <convjit/jit.hpp>

#include "generator/backend_session.hpp"
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"
#include "runtime/tuning_report.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace convjit {

struct TunedKernel {
  std::shared_ptr<const KernelPlan> plan;
  std::shared_ptr<const KernelCode> code;
  std::shared_ptr<const TuningReport> report;
};

class Tuner {
 public:
  // Budgets of one shape's tuning: candidates generated, wall time, calls per candidate.
  struct Budget {
    std::size_t candidates = 4;
    double microseconds = 20000;
    int batches = 3;          // timed batches after the warm-up call
    int calls_per_batch = 3;  // at most; fewer when the kernel is slow
  };
  static Budget budget_of(Tuning mode);
  // Ties: a candidate must beat the pick by more than this to replace it.
  static constexpr double kNoise = 0.03;

  // threads, pool: the team the kernels will run with (the Jit's), which times them.
  Tuner(Tuning mode, Backend backend, BackendSession* session, int threads = 1, ThreadPool* pool = nullptr);

  // candidates: ranked, [0] the cost model's pick (plan_candidates). remembered: a winner's
  // kernel name from the tuning cache; when it names one of the candidates, that one is
  // generated alone and nothing is timed.
  TunedKernel tune(const std::vector<PlanCandidate>& candidates,
                   const std::optional<std::string>& remembered = std::nullopt) const;

 private:
  double clock_us() const;

  Tuning mode_;
  Backend backend_;
  BackendSession* session_;
  int threads_;
  ThreadPool* pool_;
};

}  // namespace convjit
