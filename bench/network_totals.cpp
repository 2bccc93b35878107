#include "bench/network_totals.hpp"

#include "bench/bench_format.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <ostream>

namespace convjit::bench {
namespace {

// A row or a comparison column: one time per layer, NaN where it did not run.
struct Series {
  std::string label;
  std::function<double(const ShapeResult&)> median_us;
};

double median_us_of(const ShapeResult& r, const std::string& backend) {
  const Case* c = r.find(backend);
  return c ? c->stats.median_us : nan_value;
}

Series backend_series(const std::string& backend) {
  return {backend, [backend](const ShapeResult& r) { return median_us_of(r, backend); }};
}

// The faster of oneDNN's direct and Winograd convolutions per layer, where either ran: what a
// user who tries both gets. std::fmin ignores the NaN of the one that did not run.
Series onednn_best_series() {
  return {"onednn_best", [](const ShapeResult& r) {
            return std::fmin(median_us_of(r, "onednn"), median_us_of(r, "onednn_winograd"));
          }};
}

bool has(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

struct Total {
  double us = 0;
  double flops = 0;
  std::int64_t layers = 0;  // counts summed, of the layers that ran
};

Total total_of(const NetworkTotals& n, const Series& s) {
  Total t;
  for (const ShapeResult* r : n.layers) {
    const double us = s.median_us(*r);
    if (!std::isfinite(us)) continue;
    t.us += us * static_cast<double>(r->count);
    t.flops += r->shape.flops() * static_cast<double>(r->count);
    t.layers += r->count;
  }
  return t;
}

// total(other) / total(row) over the layers both ran; "*" marks a ratio over fewer layers than
// the network has. "-" when they share no layer or are the same series.
std::string ratio_cell(const NetworkTotals& n, const Series& row, const Series& other) {
  if (row.label == other.label) return "-";
  double row_us = 0, other_us = 0;
  std::int64_t layers = 0;
  for (const ShapeResult* r : n.layers) {
    const double a = row.median_us(*r), b = other.median_us(*r);
    if (!std::isfinite(a) || !std::isfinite(b)) continue;
    row_us += a * static_cast<double>(r->count);
    other_us += b * static_cast<double>(r->count);
    layers += r->count;
  }
  if (!layers) return "-";
  return fixed(other_us / row_us, 2) + "x" + (layers < n.layer_count() ? "*" : " ");
}

void print_table(const NetworkTotals& n, const std::vector<Series>& rows,
                 const std::vector<Series>& versus, double peak, std::ostream& out) {
  out << "\n  " << n.source << ": " << n.layer_count() << " conv layers (" << n.layers.size()
      << " distinct shapes), " << fixed(n.flops() * 1e-9, 2) << " GFLOP\n    " << std::left
      << std::setw(16) << "backend" << std::right << std::setw(11) << "total_ms"
      << std::setw(13) << "eff.GFLOP/s" << std::setw(8) << "x peak" << std::setw(9)
      << "layers";
  for (const Series& v : versus) out << std::setw(16) << ("vs " + v.label);
  out << "\n";
  for (const Series& row : rows) {
    const Total t = total_of(n, row);
    out << "    " << std::left << std::setw(16) << row.label << std::right;
    if (!t.layers) {
      out << "not measured\n";
      continue;
    }
    const double gflops = t.flops / (t.us * 1e3);
    out << std::setw(11) << fixed(t.us * 1e-3, 3) << std::setw(13) << fixed(gflops, 2)
        << std::setw(8) << (peak > 0 ? fixed(gflops / peak, 2) + "x" : std::string("-"))
        << std::setw(9) << (std::to_string(t.layers) + "/" + std::to_string(n.layer_count()));
    for (const Series& v : versus) out << std::setw(16) << ratio_cell(n, row, v);
    out << "\n";
  }
}

// Per comparison column, the layers where `row` does worst against it: the lowest ratios of
// its median to the row's (below 1: the row is slower there), with both times and the count.
void print_slowest_layers(const NetworkTotals& n, const Series& row, const std::vector<Series>& versus,
                          std::ostream& out) {
  constexpr std::size_t kShown = 5;
  for (const Series& v : versus) {
    if (v.label == row.label) continue;
    std::vector<std::pair<double, const ShapeResult*>> ratios;
    for (const ShapeResult* r : n.layers) {
      const double a = row.median_us(*r), b = v.median_us(*r);
      if (std::isfinite(a) && std::isfinite(b) && a > 0) ratios.emplace_back(b / a, r);
    }
    if (ratios.empty()) continue;
    std::sort(ratios.begin(), ratios.end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    out << "    " << row.label << "'s slowest layers against " << v.label << " (" << v.label
        << " / " << row.label << "):\n";
    for (std::size_t i = 0; i < std::min(kShown, ratios.size()); ++i) {
      const ShapeResult& r = *ratios[i].second;
      out << "      " << std::left << std::setw(26) << r.name << std::right << std::setw(7)
          << fixed(ratios[i].first, 2) << "x  " << fixed(row.median_us(r), 1) << " vs "
          << fixed(v.median_us(r), 1) << " us" << (r.count > 1 ? "  (x" + std::to_string(r.count) + ")" : "")
          << "  " << r.shape.to_string() << "\n";
    }
  }
}

}  // namespace

std::int64_t NetworkTotals::layer_count() const {
  std::int64_t sum = 0;
  for (const ShapeResult* r : layers) sum += r->count;
  return sum;
}

double NetworkTotals::flops() const {
  double sum = 0;
  for (const ShapeResult* r : layers) sum += r->shape.flops() * static_cast<double>(r->count);
  return sum;
}

std::vector<NetworkTotals> network_totals(const std::vector<ShapeResult>& results) {
  std::vector<NetworkTotals> out;
  for (const ShapeResult& r : results) {
    if (r.source.empty()) continue;
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const NetworkTotals& n) { return n.source == r.source; });
    if (it == out.end()) it = out.insert(out.end(), NetworkTotals{r.source, {}});
    it->layers.push_back(&r);
  }
  std::erase_if(out, [](const NetworkTotals& n) { return n.layers.size() < 2; });
  return out;
}

void print_network_totals(const std::vector<ShapeResult>& results,
                          const std::vector<std::string>& backends, double peak,
                          std::ostream& out) {
  const std::vector<NetworkTotals> totals = network_totals(results);
  if (totals.empty()) return;
  out << "\n  totals per shapes file: each layer's median x its COUNT, summed; eff.GFLOP/s ="
         " direct-convolution FLOPs / total\n"
         "  (Winograd does fewer multiplications, so it can pass 1x the FMA peak); layers ="
         " the layers a backend ran;\n"
         "  vs X = X's total / this backend's over the layers both ran (> 1: this backend"
         " faster; * = not all layers);\n"
         "  onednn_best = per layer the faster of onednn and onednn_winograd, where"
         " onednn_winograd ran a layer;\n"
         "  then xbyak's (else llvm's) five slowest layers against each of them\n";
  for (const NetworkTotals& n : totals) {
    std::vector<Series> rows, versus;
    for (const std::string& b : backends) rows.push_back(backend_series(b));
    for (const char* b : {"onednn", "xnnpack"})
      if (has(backends, b)) versus.push_back(backend_series(b));
    // Only where it differs from onednn: Winograd ran somewhere in this network.
    if (has(backends, "onednn") && total_of(n, backend_series("onednn_winograd")).layers) {
      rows.push_back(onednn_best_series());
      versus.insert(versus.begin() + 1, onednn_best_series());
    }
    print_table(n, rows, versus, peak, out);
    // convjit's generated code against the field, layer by layer.
    for (const char* mine : {"xbyak", "llvm"})
      if (has(backends, mine)) {
        print_slowest_layers(n, backend_series(mine), versus, out);
        break;
      }
  }
}

}  // namespace convjit::bench
