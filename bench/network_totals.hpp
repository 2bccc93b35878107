#pragma once
// The text report's totals per shapes file: a network file (bench/networks/*.txt) lists each
// distinct conv layer once with how many times it occurs, so the network's convolution time
// per backend is the sum of the layers' medians weighted by those counts.
#include "bench/bench_case.hpp"

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace convjit::bench {

// The measured layers of one source (ShapeEntry::source) in the order they were listed.
struct NetworkTotals {
  std::string source;
  std::vector<const ShapeResult*> layers;

  // Layers of the network: the counts summed.
  std::int64_t layer_count() const;
  // Direct-convolution FLOPs of the whole network (each layer's times its count).
  double flops() const;
};

// One NetworkTotals per source of more than one entry (a lone SPEC has no total), in the order
// the sources first appear.
std::vector<NetworkTotals> network_totals(const std::vector<ShapeResult>& results);

// Per source, per backend: total ms, effective GFLOP/s and multiple of `peak` (0: unknown),
// the layers it ran, and the ratios of the oneDNN and XNNPACK totals to its own over the
// layers both ran (> 1: this backend is faster). Where onednn_winograd ran some layer of the
// network, a row and a column take the faster of onednn and it per layer ("onednn_best").
// Then xbyak's (else llvm's) five slowest layers against each of those columns.
void print_network_totals(const std::vector<ShapeResult>& results,
                          const std::vector<std::string>& backends, double peak,
                          std::ostream& out);

}  // namespace convjit::bench
