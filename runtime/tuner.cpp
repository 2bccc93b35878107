#include "runtime/tuner.hpp"

#include "core/tolerance.hpp"
#include "runtime/backends.hpp"
#include "runtime/kernel_state.hpp"

#include <convjit/error.hpp>

#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <iomanip>
#include <sstream>

namespace convjit {
namespace {

double wall_us_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
}

// Thread CPU time: another worker on the same core slows the wall clock, not this.
double thread_cpu_us() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// U(-1, 1), the data the tolerance rule is derived for; a fixed seed so reruns time the same.
std::vector<float> scratch_floats(std::size_t n, std::uint64_t seed) {
  std::vector<float> out(n);
  std::uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (float& v : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v = static_cast<float>(static_cast<double>(x >> 11) / 4503599627370496.0 - 1.0);
  }
  return out;
}

// The shape's buffers, made once and shared by every candidate.
struct Scratch {
  std::vector<float> src, weights, bias, residual;
  explicit Scratch(const ConvShape& s)
      : src(scratch_floats(static_cast<std::size_t>(s.src_elems()), 1)),
        weights(scratch_floats(static_cast<std::size_t>(s.weight_elems()), 2)),
        bias(scratch_floats(static_cast<std::size_t>(s.oc), 3)),
        residual(s.add_residual ? scratch_floats(static_cast<std::size_t>(s.dst_elems()), 4)
                                : std::vector<float>{}) {}
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

TunedCandidate entry_for(const PlanCandidate& c) {
  TunedCandidate t;
  t.name = c.plan.name;
  t.family = c.family;
  t.why = c.why;
  t.estimated_cycles = c.estimated_cycles;
  return t;
}

// One candidate, generated and (optionally) timed.
struct Trial {
  std::shared_ptr<const KernelPlan> plan;
  std::shared_ptr<const KernelCode> code;
  std::vector<float> dst;
};

}  // namespace

Tuner::Budget Tuner::budget_of(Tuning mode) {
  if (mode == Tuning::full) return {12, 250000, 5, 8};
  return {};
}

Tuner::Tuner(Tuning mode, Backend backend, BackendSession* session, int threads, ThreadPool* pool)
    : mode_(mode), backend_(backend), session_(session), threads_(std::max(threads, 1)), pool_(pool) {}

double Tuner::clock_us() const {
  // One thread: its CPU time, which another process on the core does not inflate. A team: the
  // wall clock, since the other threads' work is the caller's wait.
  if (threads_ == 1) return thread_cpu_us();
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

TunedKernel Tuner::tune(const std::vector<PlanCandidate>& candidates,
                        const std::optional<std::string>& remembered) const {
  if (candidates.empty()) throw Error("tune", "no candidate plans");
  const auto start = std::chrono::steady_clock::now();
  auto report = std::make_shared<TuningReport>();
  report->mode = mode_;
  report->threads = threads_;
  auto generate = [&](const PlanCandidate& c, TunedCandidate& entry) {
    const auto begin = std::chrono::steady_clock::now();
    Trial trial;
    trial.plan = std::make_shared<const KernelPlan>(c.plan);
    trial.code = make_code(*trial.plan, backend_, session_);
    entry.generation_us = wall_us_since(begin);
    return trial;
  };

  if (remembered) {
    for (const PlanCandidate& c : candidates) {
      if (c.plan.name != *remembered) continue;
      report->candidates.push_back(entry_for(c));
      Trial trial = generate(c, report->candidates.back());
      report->from_cache = true;
      report->why = "remembered from the tuning cache (CONVJIT_CACHE_DIR): nothing timed";
      report->tuning_us = wall_us_since(start);
      return {trial.plan, trial.code, report};
    }
  }

  const Budget budget = budget_of(mode_);
  const ConvShape& shape = candidates.front().plan.shape;
  const Scratch scratch(shape);
  std::vector<Trial> trials;
  // Weights packed once per format: candidates of the same PackedLayout (other register tiles,
  // bands, staging, passes) run on an earlier one's, so the budget buys more timed candidates.
  std::vector<PackedWeights> packs;
  double least_trial_us = 0;
  const std::size_t limit = std::min(budget.candidates, candidates.size());
  for (std::size_t i = 0; i < limit; ++i) {
    // The pick is always timed; the others only while the budget lasts, and a candidate is
    // not started when what the pick's least took (generation, packing, two calls) would
    // overrun it.
    if (i > 0 && wall_us_since(start) + least_trial_us > budget.microseconds) break;
    const PlanCandidate& c = candidates[i];
    report->candidates.push_back(entry_for(c));
    TunedCandidate& entry = report->candidates.back();
    Trial trial;
    try {
      trial = generate(c, entry);
      // A kernel of its own, with no CONVJIT_VERBOSE line per timed call.
      auto state = std::make_unique<KernelState>(trial.plan, trial.code, 0.0, 1);
      state->verbose = false;
      const Kernel kernel(std::move(state));
      const auto pack_begin = std::chrono::steady_clock::now();
      const std::uint64_t format = trial.plan->packed.format();
      const auto same = std::find_if(packs.begin(), packs.end(),
                                     [&](const PackedWeights& p) { return p.format() == format; });
      entry.shared_weights = same != packs.end();
      if (!entry.shared_weights) packs.push_back(kernel.pack_weights(scratch.weights.data(), scratch.bias.data()));
      const PackedWeights packed = entry.shared_weights ? *same : packs.back();
      const double pack_us = wall_us_since(pack_begin);
      trial.dst.assign(static_cast<std::size_t>(shape.dst_elems()), 0.0f);
      RunOptions options;
      options.threads = threads_;  // the team the kernel will run with
      if (pool_) options.pool = pool_;
      if (shape.add_residual) options.residual = scratch.residual.data();
      auto call = [&] { kernel.run(scratch.src.data(), packed, trial.dst.data(), options); };
      const double warm_begin = clock_us();
      call();
      const double warm = std::max(clock_us() - warm_begin, 0.01);
      if (i == 0) least_trial_us = entry.generation_us + pack_us + 2 * warm;
      // The rest of the budget, shared among the candidates still to come.
      const double left = std::max(budget.microseconds - wall_us_since(start), 0.0) /
                          static_cast<double>(limit - i);
      int batches = budget.batches, per_batch = budget.calls_per_batch;
      if (warm * batches * per_batch > left) {
        per_batch = std::max(1, static_cast<int>(left / (warm * batches)));
        if (warm * batches > left) batches = std::clamp(static_cast<int>(left / warm), 1, batches);
      }
      std::vector<double> per_call;
      for (int b = 0; b < batches; ++b) {
        const double t0 = clock_us();
        for (int k = 0; k < per_batch; ++k) call();
        per_call.push_back((clock_us() - t0) / per_batch);
      }
      entry.median_us = median(per_call);
      entry.calls = batches * per_batch;
    } catch (const std::exception& e) {
      if (i == 0) throw;  // the pick is what compile() would have built: its errors are the caller's
      entry.rejected = std::string("failed: ") + e.what();
      trials.push_back({});
      continue;
    }
    // Every candidate computes the same convolution: its results must agree with the pick's
    // within both kernels' bounds (Winograd kernels have their own).
    if (i > 0) {
      const std::vector<float>& expected = trials.front().dst;
      const double bound = tolerance(shape, algorithm_of(*trials.front().plan), expected) +
                           tolerance(shape, algorithm_of(*trial.plan), expected);
      const double error = max_abs_error(trial.dst, expected);
      if (!(error <= bound)) {
        std::ostringstream why;
        why << "results differ from the pick's by " << error << " (bound " << bound << ")";
        entry.rejected = why.str();
      }
    }
    trials.push_back(std::move(trial));
  }

  // The fastest agreeing candidate; the pick unless another beats it by more than the noise.
  std::size_t fastest = 0;
  for (std::size_t i = 1; i < report->candidates.size(); ++i) {
    const TunedCandidate& c = report->candidates[i];
    if (c.rejected.empty() && c.median_us >= 0 && c.median_us < report->candidates[fastest].median_us)
      fastest = i;
  }
  const double pick_us = report->candidates[0].median_us, best_us = report->candidates[fastest].median_us;
  std::ostringstream why;
  why << std::fixed << std::setprecision(1);
  if (report->candidates.size() == 1) {
    why << "the cost model's pick: the only candidate timed within the " << budget.microseconds / 1000
        << " ms budget";
  } else if (fastest == 0) {
    why << "the cost model's pick: the fastest of " << report->candidates.size() << " timed";
  } else if (pick_us <= (1.0 + kNoise) * best_us) {
    why << "the cost model's pick: within " << kNoise * 100 << "% of the fastest ("
        << report->candidates[fastest].name << ", " << best_us << " us vs " << pick_us << " us)";
    fastest = 0;
  } else {
    why << "fastest of " << report->candidates.size() << " timed: " << best_us << " us a call vs "
        << pick_us << " us for the cost model's pick (" << std::setprecision(2) << pick_us / best_us
        << "x)";
  }
  report->winner = fastest;
  report->why = why.str();
  if (remembered)
    report->why = "the tuning cache's winner " + *remembered + " is not a candidate; " + report->why;
  report->tuning_us = wall_us_since(start);
  return {trials[fastest].plan, trials[fastest].code, report};
}

std::string TuningReport::describe() const {
  std::ostringstream out;
  out << std::fixed << std::setprecision(1);
  out << "tuning     " << to_string(mode) << (threads > 1 ? ", " + std::to_string(threads) + " threads" : "")
      << ", " << tuning_us << " us"
      << (from_cache ? " (winner from the tuning cache)" : "") << ": " << why << "\n";
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const TunedCandidate& c = candidates[i];
    out << (i == winner ? "  * " : "    ") << std::left << std::setw(26) << c.family << std::right
        << " est " << std::setw(12) << c.estimated_cycles << " cycles";
    if (c.median_us >= 0)
      out << "  measured " << std::setw(10) << c.median_us << " us (" << c.calls << " calls)";
    else
      out << "  not timed";
    out << "  gen " << c.generation_us << " us" << (c.shared_weights ? ", weights shared" : "") << "  "
        << c.name << "  [" << c.why << "]";
    if (!c.rejected.empty()) out << "  REJECTED: " << c.rejected;
    out << "\n";
  }
  return out.str();
}

}  // namespace convjit
