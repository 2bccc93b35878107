#include "bench/bench_timer.hpp"

#include "bench/bench_case.hpp"

#include <algorithm>
#include <cmath>
#include <ctime>

namespace convjit::bench {
namespace {

// Long enough for caches, branch predictors and clock frequency to settle.
constexpr double warm_up_seconds = 0.005;
// A repetition whose CPU time is below this share of its wall time was preempted.
constexpr double undisturbed_cpu_share = 0.95;

double quantile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return nan_value;
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const auto hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - static_cast<double>(lo));
}

// Warms the case up and sizes its batches (>= min_batch_seconds, so tiny shapes are timed over
// many calls) and its number of repetitions (>= min_seconds_per_case in all, within bounds).
void calibrate(Case& c, const BenchOptions& o, bool cpu_timer) {
  int calls = 0;
  const Stopwatch sw;
  double elapsed = 0;
  do {
    c.call();
    ++calls;
    elapsed = cpu_timer ? sw.cpu() : sw.wall();
  } while (elapsed < warm_up_seconds);
  const double per_call = std::max(elapsed / calls, 1e-9);
  c.calls_per_rep =
      static_cast<int>(std::clamp(std::ceil(o.min_batch_seconds / per_call), 1.0, 1e7));
  const double batch = per_call * c.calls_per_rep;
  c.target_reps = static_cast<int>(
      std::clamp(std::ceil(o.min_seconds_per_case / batch), static_cast<double>(o.repetitions),
                 static_cast<double>(o.max_repetitions)));
}

void time_batch(Case& c) {
  const Stopwatch sw;
  for (int i = 0; i < c.calls_per_rep; ++i) c.call();
  const double cpu = sw.cpu(), wall = sw.wall();
  c.wall_us.push_back(wall * 1e6 / c.calls_per_rep);
  c.cpu_us.push_back(cpu * 1e6 / c.calls_per_rep);
}

bool wants_another_batch(const Case& c) {
  return c.ok() && static_cast<int>(c.wall_us.size()) < c.target_reps;
}

// One batch of each case per round, so slow drifts (clock, other load) hit every backend alike.
void time_round_robin(std::vector<Case>& cases) {
  for (bool more = true; more;) {
    more = false;
    for (Case& c : cases) {
      if (!wants_another_batch(c)) continue;
      try {
        time_batch(c);
      } catch (const std::exception& e) {
        c.skip_failed_run(e);
      }
      more = more || wants_another_batch(c);
    }
  }
}

double undisturbed_share(const Case& c) {
  int quiet = 0;
  for (std::size_t i = 0; i < c.wall_us.size(); ++i)
    quiet += c.cpu_us[i] >= undisturbed_cpu_share * c.wall_us[i];
  return static_cast<double>(quiet) / static_cast<double>(c.wall_us.size());
}

void summarize_repetitions(Case& c, bool cpu_timer) {
  c.stats = summarize(cpu_timer ? c.cpu_us : c.wall_us);
  c.median_wall_us = summarize(c.wall_us).median_us;
  c.median_cpu_us = summarize(c.cpu_us).median_us;
  c.undisturbed = undisturbed_share(c);
}

}  // namespace

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

bool use_cpu_timer(const BenchOptions& o) {
  return o.timer == Timer::cpu || (o.timer == Timer::automatic && o.threads == 1);
}

Stats summarize(std::vector<double> samples) {
  Stats st;
  if (samples.empty()) return st;
  std::sort(samples.begin(), samples.end());
  st.min_us = samples.front();
  st.max_us = samples.back();
  st.median_us = quantile(samples, 0.5);
  st.p25_us = quantile(samples, 0.25);
  st.p75_us = quantile(samples, 0.75);
  return st;
}

void time_cases(std::vector<Case>& cases, const BenchOptions& o) {
  const bool cpu_timer = use_cpu_timer(o);
  for (Case& c : cases) {
    if (!c.ok()) continue;
    try {
      calibrate(c, o, cpu_timer);
    } catch (const std::exception& e) {
      c.skip_failed_run(e);
    }
  }
  time_round_robin(cases);
  for (Case& c : cases)
    if (c.ok() && !c.wall_us.empty()) summarize_repetitions(c, cpu_timer);
}

}  // namespace convjit::bench
