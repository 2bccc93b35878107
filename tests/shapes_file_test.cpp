// The shapes-file format (bench/shapes_file.hpp): the optional groups and count columns, the
// errors for bad lines, and the shipped lists (bench/shapes.txt, shapes_vgg.txt, networks/).
#define BOOST_TEST_MODULE shapes_file
#include <boost/test/unit_test.hpp>

#include "bench/shapes_file.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <filesystem>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace convjit;
using convjit::bench::ShapeEntry;

namespace {

std::vector<ShapeEntry> parse(const std::string& text) {
  std::istringstream in(text);
  return bench::parse_shape_entries(in, "test.txt");
}

// The message of the convjit::Error("shapes", ...) that parsing `text` throws; "" if none.
std::string parse_error(const std::string& text) {
  try {
    parse(text);
  } catch (const Error& e) {
    BOOST_TEST(e.field() == "shapes");
    return e.reason();
  }
  return "";
}

// bench/ of the source tree: the shapes file the suites read lives there.
std::filesystem::path bench_dir() {
  return std::filesystem::path(testing::shapes_file_path()).parent_path();
}

std::int64_t total_count(const std::vector<ShapeEntry>& entries) {
  return std::accumulate(entries.begin(), entries.end(), std::int64_t{0},
                         [](std::int64_t sum, const ShapeEntry& e) { return sum + e.count; });
}

double weighted_flops(const std::vector<ShapeEntry>& entries) {
  double sum = 0;
  for (const ShapeEntry& e : entries) sum += e.shape.flops() * static_cast<double>(e.count);
  return sum;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(columns)

BOOST_AUTO_TEST_CASE(groups_and_count_default_to_one) {
  const auto entries = parse("plain 1 16 8 8 32 3 3 1 1 1 1 1 1\n");
  BOOST_REQUIRE(entries.size() == 1u);
  BOOST_TEST(entries[0].name == "plain");
  BOOST_TEST(entries[0].shape.groups == 1);
  BOOST_TEST(entries[0].count == 1);
  BOOST_TEST(entries[0].source == "test.txt");
}

BOOST_AUTO_TEST_CASE(groups_column_describes_grouped_and_depthwise_layers) {
  const auto entries = parse(
      "grouped   1 32 14 14 64 3 3 1 1 1 1 1 1 4\n"
      "depthwise 1 96 112 112 96 3 3 2 2 1 1 1 1 96\n");
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[0].shape.groups == 4);
  BOOST_TEST(entries[0].shape.ic_per_group() == 8);
  BOOST_TEST(!entries[0].shape.is_depthwise());
  BOOST_TEST(entries[1].shape.is_depthwise());
  BOOST_TEST(entries[1].shape.out_h == 56);
  BOOST_TEST(entries[1].shape.weight_elems() == 3 * 3 * 1 * 96);
  BOOST_TEST(entries[1].shape.to_string().find(",g=96") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(count_column_is_kept_per_entry) {
  const auto entries = parse(
      "once  1 64 56 56 64 1 1 1 1 0 0 1 1 1 1\n"
      "three 1 64 56 56 64 3 3 1 1 1 1 1 1 1 3   # a comment after the count\n");
  BOOST_REQUIRE(entries.size() == 2u);
  BOOST_TEST(entries[0].count == 1);
  BOOST_TEST(entries[1].count == 3);
  BOOST_TEST(total_count(entries) == 4);
}

BOOST_AUTO_TEST_CASE(pair_view_keeps_name_and_shape) {
  std::istringstream in("dw 1 8 8 8 8 3 3 1 1 1 1 1 1 8 2\n");
  const auto named = bench::parse_shapes(in, "test.txt");
  BOOST_REQUIRE(named.size() == 1u);
  BOOST_TEST(named[0].first == "dw");
  BOOST_TEST(named[0].second.groups == 8);
}

BOOST_AUTO_TEST_CASE(file_entries_carry_the_file_stem_as_source) {
  const auto entries = bench::load_shape_entries((bench_dir() / "networks" / "vgg16.txt").string());
  BOOST_REQUIRE(!entries.empty());
  for (const ShapeEntry& e : entries) BOOST_TEST(e.source == "vgg16");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bad_lines)

BOOST_AUTO_TEST_CASE(too_few_and_too_many_fields_name_the_format) {
  const std::string few = parse_error("ok 1 1 8 8 1 3 3 1 1 0 0 1 1\nshort 1 1 8 8 1 3\n");
  BOOST_TEST(few.find("test.txt:2: ") == 0u, few);
  BOOST_TEST(few.find("[G [COUNT]]") != std::string::npos, few);
  BOOST_TEST(few.find("got 7") != std::string::npos, few);
  const std::string many = parse_error("long 1 1 8 8 1 3 3 1 1 0 0 1 1 1 1 5\n");
  BOOST_TEST(many.find("test.txt:1: expected 14 to 16 fields") == 0u, many);
  BOOST_TEST(many.find("got 17") != std::string::npos, many);
}

BOOST_AUTO_TEST_CASE(non_integer_groups_or_count_name_the_column) {
  const std::string g = parse_error("x 1 8 8 8 8 3 3 1 1 1 1 1 1 dw\n");
  BOOST_TEST(g == "test.txt:1: field G is not an integer: 'dw'", g);
  const std::string count = parse_error("x 1 8 8 8 8 3 3 1 1 1 1 1 1 1 2.5\n");
  BOOST_TEST(count == "test.txt:1: field COUNT is not an integer: '2.5'", count);
}

BOOST_AUTO_TEST_CASE(count_below_one_is_refused) {
  const std::string zero = parse_error("\n# c\nx 1 8 8 8 8 3 3 1 1 1 1 1 1 1 0\n");
  BOOST_TEST(zero == "test.txt:3: field COUNT must be at least 1, got 0", zero);
  BOOST_TEST(!parse_error("x 1 8 8 8 8 3 3 1 1 1 1 1 1 1 -2\n").empty());
}

BOOST_AUTO_TEST_CASE(groups_that_do_not_divide_the_channels_are_refused_by_the_shape) {
  const std::string e = parse_error("odd 1 12 8 8 16 3 3 1 1 1 1 1 1 8\n");
  BOOST_TEST(e.find("test.txt:1: odd: g: ") == 0u, e);
  const std::string zero = parse_error("none 1 8 8 8 8 3 3 1 1 1 1 1 1 0\n");
  BOOST_TEST(zero.find("test.txt:1: none: g: ") == 0u, zero);
}

BOOST_AUTO_TEST_CASE(missing_file_is_an_error) {
  BOOST_CHECK_THROW(bench::load_shape_entries((bench_dir() / "no_such_shapes.txt").string()),
                    Error);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shipped_lists)

BOOST_AUTO_TEST_CASE(bench_shapes_stay_small_and_ungrouped) {
  // The suites iterate over this file: it keeps the format's first 14 columns and no layer
  // as big as the VGG ones.
  for (const ShapeEntry& e : bench::load_shape_entries(testing::shapes_file_path())) {
    BOOST_TEST(e.count == 1, e.name);
    BOOST_TEST(e.shape.flops() < 1e9, e.name);
  }
}

BOOST_AUTO_TEST_CASE(vgg_file_holds_3x3_stride_1_layers_from_64_to_512_channels) {
  const auto entries = bench::load_shape_entries((bench_dir() / "shapes_vgg.txt").string());
  BOOST_REQUIRE(entries.size() >= 5u);
  std::set<std::int64_t> sizes;
  for (const ShapeEntry& e : entries) {
    BOOST_TEST((e.shape.kh == 3 && e.shape.kw == 3 && e.shape.sh == 1 && e.shape.sw == 1), e.name);
    BOOST_TEST((e.shape.c >= 64 && e.shape.oc <= 512), e.name);
    BOOST_TEST(e.shape.out_h == e.shape.h, e.name);
    sizes.insert(e.shape.h);
  }
  BOOST_TEST(*sizes.begin() == 14);
  BOOST_TEST(*sizes.rbegin() == 224);
}

// Layer counts and FLOPs of torchvision's architectures at 224x224 (convolutions only).
BOOST_AUTO_TEST_CASE(network_files_list_every_conv_layer) {
  struct Expected {
    const char* file;
    std::int64_t layers;
    double gflop;
  };
  for (const Expected& x : {Expected{"resnet50.txt", 53, 8.17}, Expected{"mobilenet_v2.txt", 52, 0.60},
                            Expected{"vgg16.txt", 13, 30.69}, Expected{"efficientnet_b0.txt", 81, 0.77},
                            Expected{"regnet_y_400mf.txt", 85, 0.80}, Expected{"googlenet.txt", 57, 2.99}}) {
    const auto entries = bench::load_shape_entries((bench_dir() / "networks" / x.file).string());
    BOOST_TEST(total_count(entries) == x.layers, x.file);
    BOOST_TEST(weighted_flops(entries) * 1e-9 == x.gflop, boost::test_tools::tolerance(0.01));
    std::set<std::string> names;
    for (const ShapeEntry& e : entries) {
      BOOST_TEST(names.insert(e.name).second, x.file << ": duplicate name " << e.name);
      BOOST_TEST(e.shape.n == 1, e.name);
    }
  }
}

BOOST_AUTO_TEST_CASE(mobilenet_v2_lists_its_depthwise_layers_once_per_shape) {
  const auto entries =
      bench::load_shape_entries((bench_dir() / "networks" / "mobilenet_v2.txt").string());
  std::int64_t depthwise = 0;
  for (const ShapeEntry& e : entries)
    if (e.shape.is_depthwise()) depthwise += e.count;
  BOOST_TEST(depthwise == 17);  // one per inverted-residual block
}

BOOST_AUTO_TEST_SUITE_END()
