#pragma once
// Timing and statistics of the suite: the wall clock and the thread's CPU time, the
// round-robin timing of a shape's cases, medians and quartiles.
#include "bench/bench_suite.hpp"

#include <chrono>
#include <limits>
#include <vector>

namespace convjit::bench {

struct Case;

// A time or statistic that was not measured; printed as "-" in text and null in JSON.
inline constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0);
double thread_cpu_seconds();

// Wall and thread-CPU time of one stretch of work.
struct Stopwatch {
  Clock::time_point wall0 = Clock::now();
  double cpu0 = thread_cpu_seconds();
  double wall() const { return seconds_since(wall0); }
  double cpu() const { return thread_cpu_seconds() - cpu0; }
};

// BenchOptions::timer with `automatic` resolved (see Timer).
bool use_cpu_timer(const BenchOptions& o);

struct Stats {
  double median_us = nan_value, min_us = nan_value, max_us = nan_value;
  double p25_us = nan_value, p75_us = nan_value;
};

Stats summarize(std::vector<double> samples);

// Times every case that is ok(): warm-up and calibration of the batch size and repetition
// count, then interleaved repetitions, then the statistics (Case's timing fields). A case
// whose call throws is skipped.
void time_cases(std::vector<Case>& cases, const BenchOptions& o);

}  // namespace convjit::bench
