#pragma once
// The backends a run measures: convjit's own and the baselines, by name (the public lists and
// parse_backend_list are declared in bench_suite.hpp).
#include "bench/bench_suite.hpp"

#include <string>
#include <vector>

namespace convjit::bench {

// xbyak, llvm, generic or reference: compiled by convjit rather than prepared by a baseline.
bool is_convjit_backend(const std::string& name);

// BenchOptions::backends checked and without duplicates, or the default set when it is empty.
// Throws convjit::Error("backend", ...) on an unknown name.
std::vector<std::string> resolve_backends(const BenchOptions& o);

}  // namespace convjit::bench
