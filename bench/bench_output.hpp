#pragma once
// The suite's report on `out`: in text mode the environment header, a table per shape and the
// summary; in JSON mode the optional environment line and one line per (shape, backend)
// (the format is documented at run_bench in bench_suite.hpp).
#include "bench/bench_case.hpp"
#include "bench/bench_environment.hpp"
#include "bench/bench_suite.hpp"

#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace convjit::bench {

// `peak` below is the GFLOP/s %peak is of (peak_gflops()); 0 when unknown. The environment and
// each shape are flushed as soon as they are printed, so that a long run shows its progress.

void print_environment(const Environment& env, const BenchOptions& o,
                       const std::vector<std::string>& backends, std::ostream& out);
// `number` (from 1) of o.shapes.size() heads the shape's text table.
void print_shape(const ShapeResult& r, std::size_t number, const BenchOptions& o, double peak,
                 std::ostream& out);
// Text mode only: geometric means per backend over the shapes it ran, and of xbyak's speed-up
// over the others.
void print_summary(const std::vector<ShapeResult>& results,
                   const std::vector<std::string>& backends, const BenchOptions& o, double peak,
                   std::ostream& out);

}  // namespace convjit::bench
