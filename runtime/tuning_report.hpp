#pragma once
// TuningReport: what tuning at first use tried for one kernel and why the winner won, kept
// with the kernel for describe(), `convjit plan --tune` and the CONVJIT_VERBOSE line.
#include <convjit/jit.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace convjit {

struct TunedCandidate {
  std::string name;             // the plan's kernel name
  std::string family;           // e.g. "avx512 ymm32 winograd_f4"
  std::string why;              // why it was a candidate
  double estimated_cycles = 0;  // the cost model's, per image
  double generation_us = 0;
  double median_us = -1;        // per call (thread CPU time; wall clock for a team); < 0: not timed
  bool shared_weights = false;  // ran on an earlier candidate's packed weights (same format)
  int calls = 0;                // timed calls (after one warm-up call)
  std::string rejected;         // non-empty: its results disagreed with the pick's, or it failed
};

struct TuningReport {
  Tuning mode = Tuning::off;
  std::vector<TunedCandidate> candidates;  // in rank order; [0] is the cost model's pick
  std::size_t winner = 0;
  std::string why;                         // why the winner won
  double tuning_us = 0;                    // wall time of the whole tuning, generation included
  bool from_cache = false;                 // the winner came from CONVJIT_CACHE_DIR, untimed
  int threads = 1;                         // the team candidates were timed with (wall clock above 1)

  std::string describe() const;            // what `convjit plan --tune` prints
};

}  // namespace convjit
