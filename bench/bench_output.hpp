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

// `peak` below is the GFLOP/s %peak is of (peak_gflops()); 0 when unknown.

void print_environment_text(const Environment& env, const BenchOptions& o,
                            const std::vector<std::string>& backends, std::ostream& out);
// The {"environment": {...}} line, without its newline.
std::string environment_json(const Environment& env, const BenchOptions& o);

// `index` of `total` numbers the shape in its heading.
void print_shape_text(const ShapeResult& r, std::size_t index, std::size_t total, double peak,
                      std::ostream& out);
void print_shape_json(const ShapeResult& r, const BenchOptions& o, double peak,
                      std::ostream& out);

// Geometric means per backend over the shapes it ran, and of xbyak's speed-up over the others.
void print_summary_text(const std::vector<ShapeResult>& results,
                        const std::vector<std::string>& backends, double peak,
                        std::ostream& out);

}  // namespace convjit::bench
