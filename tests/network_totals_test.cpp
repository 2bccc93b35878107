// The bench's totals per shapes file (bench/network_totals.hpp): layers grouped by source,
// medians weighted by COUNT, the ratios to oneDNN (direct, Winograd's best) and XNNPACK.
#define BOOST_TEST_MODULE network_totals
#include <boost/test/unit_test.hpp>

#include "bench/network_totals.hpp"

#include <convjit/convjit.hpp>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace convjit;
using namespace convjit::bench;

namespace {

// A median per backend; NaN: the backend could not run the layer (n/a).
using Medians = std::vector<std::pair<std::string, double>>;
constexpr double na = std::numeric_limits<double>::quiet_NaN();

// Cases are move-only (they own kernels): built in place.
void add_layer(std::vector<ShapeResult>& results, const std::string& name, std::int64_t count,
               const std::string& source, const Medians& medians) {
  ShapeResult& r = results.emplace_back();
  r.name = name;
  r.shape = ConvSpec::parse("c=16,h=8,w=8,oc=16,k=3,p=1").resolve();
  r.count = count;
  r.source = source;
  for (const auto& [backend, median_us] : medians) {
    Case& c = r.cases.emplace_back();
    c.backend = backend;
    if (std::isnan(median_us))
      c.skip("n/a: no implementation");
    else
      c.stats.median_us = median_us;
  }
}

// The line of `backend` in `report`'s table ("" if none).
std::string row_of(const std::string& report, const std::string& backend) {
  std::istringstream in(report);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("    " + backend + " ", 0) == 0) return line;
  return "";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(sources_of_more_than_one_entry_get_a_total) {
  std::vector<ShapeResult> results;
  add_layer(results, "spec", 1, "", {{"xbyak", 1}});
  add_layer(results, "a", 3, "net", {{"xbyak", 10}});
  add_layer(results, "lone", 1, "other", {{"xbyak", 1}});
  add_layer(results, "b", 2, "net", {{"xbyak", 5}});
  const auto totals = network_totals(results);
  BOOST_REQUIRE(totals.size() == 1u);
  BOOST_TEST(totals[0].source == "net");
  BOOST_TEST(totals[0].layers.size() == 2u);
  BOOST_TEST(totals[0].layer_count() == 5);
  BOOST_TEST(totals[0].flops() == 5 * results[1].shape.flops());
}

BOOST_AUTO_TEST_CASE(totals_weight_medians_by_count_and_compare_with_the_libraries) {
  // a: 3 x {xbyak 10, onednn 30, winograd 20, xnnpack 40}; b: 2 x {xbyak 5, onednn 10,
  // winograd n/a, xnnpack 10}.
  std::vector<ShapeResult> results;
  add_layer(results, "a", 3, "net",
            {{"xbyak", 10}, {"onednn", 30}, {"onednn_winograd", 20}, {"xnnpack", 40}});
  add_layer(results, "b", 2, "net",
            {{"xbyak", 5}, {"onednn", 10}, {"onednn_winograd", na}, {"xnnpack", 10}});
  std::ostringstream out;
  print_network_totals(results, {"xbyak", "onednn", "onednn_winograd", "xnnpack"}, 0, out);
  const std::string report = out.str();
  BOOST_TEST(contains(report, "net: 5 conv layers (2 distinct shapes)"), report);
  // xbyak: 3*10 + 2*5 = 40 us; onednn 110 us; onednn_best 3*20 + 2*10 = 80 us; xnnpack 140 us.
  const std::string xbyak = row_of(report, "xbyak");
  BOOST_TEST(contains(xbyak, "0.040"), xbyak);
  BOOST_TEST(contains(xbyak, "5/5"), xbyak);
  BOOST_TEST(contains(xbyak, "2.75x "), xbyak);  // vs onednn
  BOOST_TEST(contains(xbyak, "2.00x "), xbyak);  // vs onednn_best
  BOOST_TEST(contains(xbyak, "3.50x "), xbyak);  // vs xnnpack
  // Winograd ran 3 of the 5 layers: its ratios are over those, and marked.
  const std::string winograd = row_of(report, "onednn_winograd");
  BOOST_TEST(contains(winograd, "3/5"), winograd);
  BOOST_TEST(contains(winograd, "1.50x*"), winograd);  // onednn 90 / winograd 60 on layer a
  const std::string best = row_of(report, "onednn_best");
  BOOST_TEST(contains(best, "0.080"), best);
  BOOST_TEST(contains(best, "5/5"), best);
}

BOOST_AUTO_TEST_CASE(no_onednn_best_where_winograd_ran_no_layer) {
  std::vector<ShapeResult> results;
  add_layer(results, "a", 1, "net", {{"xbyak", 1}, {"onednn", 2}, {"onednn_winograd", na}});
  add_layer(results, "b", 1, "net", {{"xbyak", 1}, {"onednn", 2}, {"onednn_winograd", na}});
  std::ostringstream out;
  print_network_totals(results, {"xbyak", "onednn", "onednn_winograd"}, 0, out);
  BOOST_TEST(row_of(out.str(), "onednn_best").empty(), out.str());
  BOOST_TEST(contains(row_of(out.str(), "onednn_winograd"), "not measured"), out.str());
}

BOOST_AUTO_TEST_CASE(no_total_without_a_shapes_file) {
  std::vector<ShapeResult> results;
  add_layer(results, "spec", 1, "", {{"xbyak", 1}});
  add_layer(results, "spec2", 1, "", {{"xbyak", 2}});
  std::ostringstream out;
  print_network_totals(results, {"xbyak"}, 0, out);
  BOOST_TEST(out.str().empty());
}

BOOST_AUTO_TEST_CASE(xbyaks_slowest_layers_against_each_library_come_first) {
  // onednn / xbyak per layer: fast 4.00, slow 0.50, even 1.00; xnnpack / xbyak: 2, 3, 1.5.
  std::vector<ShapeResult> results;
  add_layer(results, "fast", 1, "net", {{"xbyak", 10}, {"onednn", 40}, {"xnnpack", 20}});
  add_layer(results, "slow", 2, "net", {{"xbyak", 20}, {"onednn", 10}, {"xnnpack", 60}});
  add_layer(results, "even", 1, "net", {{"xbyak", 10}, {"onednn", 10}, {"xnnpack", 15}});
  std::ostringstream out;
  print_network_totals(results, {"xbyak", "onednn", "xnnpack"}, 0, out);
  const std::string report = out.str();
  const auto against_onednn = report.find("xbyak's slowest layers against onednn");
  const auto against_xnnpack = report.find("xbyak's slowest layers against xnnpack");
  BOOST_REQUIRE(against_onednn != std::string::npos);
  BOOST_REQUIRE(against_xnnpack != std::string::npos);
  const std::string onednn_part = report.substr(against_onednn, against_xnnpack - against_onednn);
  auto line_of = [](const std::string& part, const char* layer) { return part.find("\n      " + std::string(layer)); };
  BOOST_TEST(line_of(onednn_part, "slow") < line_of(onednn_part, "even"), onednn_part);
  BOOST_TEST(line_of(onednn_part, "even") < line_of(onednn_part, "fast"), onednn_part);
  BOOST_TEST(contains(onednn_part, "0.50x  20.0 vs 10.0 us  (x2)"), onednn_part);
  const std::string xnnpack_part = report.substr(against_xnnpack);
  BOOST_TEST(line_of(xnnpack_part, "even") < line_of(xnnpack_part, "fast"), xnnpack_part);
  BOOST_TEST(line_of(xnnpack_part, "fast") < line_of(xnnpack_part, "slow"), xnnpack_part);
  BOOST_TEST(line_of(xnnpack_part, "slow") != std::string::npos, xnnpack_part);
}
