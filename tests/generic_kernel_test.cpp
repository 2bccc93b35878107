// The generic backend against the reference oracle (core/reference.hpp), judged by the one
// tolerance rule (core/tolerance.hpp): random shapes over every strategy, the benchmark
// shapes in both layouts, hand-picked corners, and the courses' worked example to the exact
// printed values.
//
// Every run puts src (read-only) and dst in GuardedBuffers flush against an inaccessible
// page, so a read or write one float past the end faults at once; random and corner shapes
// run a second time flush against the leading guard, for accesses before the start. dst
// starts as NaN, so an output the kernel never writes fails. Each run is repeated on two
// threads, which must give the same bits as one, and the bits must not depend on which guard
// the buffers sit against.
//
// CONVJIT_TEST_SEED (an unsigned integer) replaces the seed of the random shapes and data.
#define BOOST_TEST_MODULE generic_kernel
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

std::uint64_t test_seed() {
  if (const char* env = std::getenv("CONVJIT_TEST_SEED"); env && *env)
    return std::strtoull(env, nullptr, 10);
  return 20240611u;
}

const JitTarget kGeneric{Backend::generic};

Jit& generic_jit() {
  static Jit jit(kGeneric.options());
  return jit;
}

const char* side_name(GuardSide side) {
  return side == GuardSide::trailing ? "flush against the trailing guard"
                                     : "flush against the leading guard";
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size_bytes()) == 0;
}

// The worst error of a case's runs, as a fraction of each shape's tolerance (reported, never
// asserted: the assertion is error <= tolerance, per run).
struct WorstError {
  double fraction = 0;
  void note(const Comparison& c) { fraction = std::max(fraction, c.max_error / c.tolerance); }
};

// Runs the generic kernel for the shape on random data (from seed), with src and dst flush
// against each of `sides` in turn, and checks that
//   - on one thread, every output is within tolerance of the reference;
//   - on two threads, the output has the same bits as on one;
//   - the output has the same bits whichever guard the buffers sit against.
void check_generic_kernel(const ConvShape& shape, std::uint64_t seed,
                          std::initializer_list<GuardSide> sides, WorstError& worst) {
  const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), 3 * seed);
  const auto weights = random_floats(static_cast<std::size_t>(shape.weight_elems()), 3 * seed + 1);
  const auto bias = random_floats(static_cast<std::size_t>(shape.oc), 3 * seed + 2);
  const float* bias_or_null = shape.bias ? bias.data() : nullptr;
  const auto dst_elems = static_cast<std::size_t>(shape.dst_elems());
  std::vector<float> expected(dst_elems);
  reference_conv(shape, src.data(), weights.data(), bias_or_null, expected.data());

  const auto kernel = generic_jit().compile(shape);
  BOOST_TEST_REQUIRE(kernel->backend() == "generic");
  const PackedWeights packed = kernel->pack_weights(weights.data(), bias_or_null);
  const std::string_view strategy = to_string(kernel_plan(*kernel).strategy);

  std::vector<float> first_side;
  for (GuardSide side : sides) {
    BOOST_TEST_CONTEXT(shape.to_string() << ", seed " << seed << ", strategy " << strategy
                                         << ", buffers " << side_name(side)) {
      GuardedBuffer in(src.size(), side);
      in.assign(src.data(), src.size());
      in.make_read_only();
      GuardedBuffer one(dst_elems, side), two(dst_elems, side);
      one.fill(std::numeric_limits<float>::quiet_NaN());
      two.fill(std::numeric_limits<float>::quiet_NaN());

      kernel->run(in.data(), packed, one.data(), 1);
      const Comparison c = compare_outputs(shape, one.data(), expected.data(), dst_elems);
      worst.note(c);
      BOOST_TEST(c.ok(), "max |error| " << c.max_error << " > tolerance " << c.tolerance
                                        << " at dst[" << c.worst_index << "]: expected "
                                        << c.expected << ", got " << c.actual);

      // Two threads split the (image, row) work; each output is computed the same way.
      kernel->run(in.data(), packed, two.data(), 2);
      BOOST_TEST(same_bits(one.span(), two.span()), "2 threads are not bit-identical to 1 thread");

      if (side == *sides.begin()) {
        first_side.assign(one.data(), one.data() + dst_elems);
      } else {
        BOOST_TEST(same_bits(first_side, one.span()),
                   "the output depends on where the buffers sit");
      }
    }
  }
}

// 800 shapes of at most 4 MFLOP from the shared generator (every padding kind, groups,
// depthwise, both layouts, bias, activations), up to 40 channels, 40 pixels a side, 7 taps a
// side, batches of 3; every tenth one single-channel NHWC, which the planner gives the
// width-vector strategy (the rest of that strategy comes from NCHW). Sizes are drawn
// log-uniformly, so small shapes dominate: 800 of them cost about what 400 uniformly drawn
// ones did.
constexpr int kRandomShapes = 800;
const std::vector<ConvShape>& random_generic_shapes() {
  static const std::vector<ConvShape> shapes = [] {
    RandomShapeLimits limits;
    limits.max_batch = 3;
    limits.max_spatial = 40;
    limits.max_channels = 40;
    limits.max_kernel = 7;
    limits.max_stride = 4;
    limits.max_dilation = 4;
    limits.max_flops = 4e6;
    RandomShapeLimits single_channel = limits;
    single_channel.max_channels = 1;
    single_channel.layout = Layout::nhwc;
    std::mt19937_64 rng(test_seed());
    std::vector<ConvShape> out;
    for (int i = 0; i < kRandomShapes; ++i)
      out.push_back(random_shape(rng, i % 10 == 9 ? single_channel : limits));
    return out;
  }();
  return shapes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_shapes)

BOOST_AUTO_TEST_CASE(the_draw_reaches_every_strategy_channel_tails_and_groups) {
  std::map<std::string, int> strategies;
  int tail_blocks = 0, grouped = 0, nchw = 0, batched = 0, padded_rows = 0, nhwc_width = 0;
  for (const ConvShape& shape : random_generic_shapes()) {
    const KernelPlan plan = make_direct_plan(shape, generic_jit().isa());
    ++strategies[std::string(to_string(plan.strategy))];
    if (plan.strategy != Strategy::width_vectors && plan.oc_tail_lanes < plan.lanes) ++tail_blocks;
    if (plan.strategy == Strategy::width_vectors && shape.layout == Layout::nhwc) ++nhwc_width;
    if (shape.groups > 1 && !shape.is_depthwise()) ++grouped;
    if (shape.layout == Layout::nchw) ++nchw;
    if (shape.n > 1) ++batched;
    if (plan.rows.size() > 1) ++padded_rows;
  }
  for (const auto& [name, count] : strategies)
    BOOST_TEST_MESSAGE(name << ": " << count << " shapes");
  BOOST_TEST_MESSAGE("tail blocks " << tail_blocks << ", grouped " << grouped << ", nchw " << nchw
                                    << ", nhwc width vectors " << nhwc_width << ", batched "
                                    << batched << ", padded rows " << padded_rows);
  BOOST_TEST(strategies["oc_vectors"] >= 50);
  BOOST_TEST(strategies["depthwise"] >= 20);
  BOOST_TEST(strategies["width_vectors"] >= 50);
  BOOST_TEST(tail_blocks >= 50);
  BOOST_TEST(grouped >= 20);
}

BOOST_AUTO_TEST_CASE(eight_hundred_shapes_match_the_reference_against_either_guard_and_on_two_threads) {
  const std::uint64_t seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed << " (override with CONVJIT_TEST_SEED)");
  WorstError worst;
  const auto& shapes = random_generic_shapes();
  for (std::size_t i = 0; i < shapes.size(); ++i)
    check_generic_kernel(shapes[i], seed + i, {GuardSide::trailing, GuardSide::leading}, worst);
  BOOST_TEST_MESSAGE("worst error " << worst.fraction << " of the tolerance");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(benchmark_shapes)

// bench/shapes.txt as listed (NHWC) and in NCHW; against the trailing guard only, since the
// largest of them take seconds each.
BOOST_AUTO_TEST_CASE(every_benchmark_shape_matches_the_reference_in_both_layouts) {
  const auto shapes = load_shapes_file(shapes_file_path());
  BOOST_TEST_REQUIRE(shapes.size() >= 10u, shapes_file_path() << " lists too few shapes");
  WorstError worst;
  std::uint64_t seed = test_seed() + 100000;
  for (const auto& [name, shape] : shapes)
    for (Layout layout : {Layout::nhwc, Layout::nchw}) {
      BOOST_TEST_CONTEXT(name) {
        check_generic_kernel(with_layout(shape, layout), seed++, {GuardSide::trailing}, worst);
      }
    }
  BOOST_TEST_MESSAGE(2 * shapes.size() << " benchmark shapes; worst error " << worst.fraction
                                       << " of the tolerance");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(corner_shapes)

// Tails of every width, padding wider than the kernel, single pixels, the largest strides and
// dilations, tiles the planner makes as wide or tall as it can.
BOOST_AUTO_TEST_CASE(tails_wide_padding_single_pixels_and_extreme_strides_match_the_reference) {
  WorstError worst;
  std::uint64_t seed = test_seed() + 200000;
  for (const char* spec : {
           "c=1,h=8,w=8,oc=1,k=3",
           "c=1,h=8,w=8,oc=1,k=3,p=same",
           "c=1,h=8,w=8,oc=1,k=3,s=2",
           "c=1,h=28,w=28,oc=1,k=3,p=1,s=3",
           "c=1,h=1,w=1,oc=1,k=1",
           "c=1,h=1,w=1,oc=3,k=1,layout=nchw",
           "c=3,h=1,w=1,oc=17,k=1",
           "c=1,h=1,w=1,oc=1,k=7,p=3,act=relu",
           "c=5,h=9,w=9,oc=9,k=3,pt=9,pb=0,pl=0,pr=9",
           "c=5,h=9,w=9,oc=9,k=3,pt=9,pb=0,pl=0,pr=9,layout=nchw",
           "c=16,h=3,w=3,oc=16,k=3,pt=5,pb=5,pl=5,pr=5,g=16",
           "c=7,h=40,w=40,oc=7,k=7,s=4,d=4,p=same,g=7",
           "c=9,h=13,w=37,oc=9,kh=1,kw=7,d=3,p=same_lower,g=9,act=clamp:-0.25:0.5",
           "c=1,h=40,w=40,oc=1,k=5,sw=4,sh=1,p=same",
           "c=1,h=40,w=40,oc=1,k=5,sw=3,dw=2,pl=1,pr=7",
           "c=2,h=17,w=33,oc=4,k=3,sw=2,p=same,g=2,layout=nchw",
           "c=40,h=5,w=40,oc=40,k=1",
           "c=40,h=5,w=40,oc=40,k=1,layout=nchw",
           "c=8,h=20,w=20,oc=1,k=3,p=1",
           "c=1,h=20,w=20,oc=8,k=3,p=1",
           "c=33,h=6,w=6,oc=33,k=3,p=1,g=11",
           "c=12,h=12,w=12,oc=24,k=3,p=1,g=4,n=3,bias=0",
           "c=64,h=9,w=9,oc=64,k=3,p=1,g=64",
           "c=3,h=31,w=31,oc=64,k=7,s=2,p=3",
       }) {
    BOOST_TEST_CONTEXT(spec) {
      check_generic_kernel(ConvSpec::parse(spec).resolve(), seed++,
                           {GuardSide::trailing, GuardSide::leading}, worst);
    }
  }
  BOOST_TEST_MESSAGE("corner shapes: worst error " << worst.fraction << " of the tolerance");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(course_examples)

// 3×3 input 0..8, kernel [[0,1],[2,3]], no bias → [[19,25],[37,43]], exactly, in both layouts.
BOOST_AUTO_TEST_CASE(three_by_three_ramp_with_two_by_two_kernel_gives_19_25_37_43) {
  for (const char* spec : {"c=1,h=3,w=3,oc=1,k=2,bias=0", "c=1,h=3,w=3,oc=1,k=2,bias=0,layout=nchw"}) {
    BOOST_TEST_CONTEXT(spec) {
      const ConvShape shape = ConvSpec::parse(spec).resolve();
      const auto kernel = generic_jit().compile(shape);
      const std::vector<float> src{0, 1, 2, 3, 4, 5, 6, 7, 8};
      const std::vector<float> weights{0, 1, 2, 3};
      std::vector<float> dst(4, -1.0f);
      kernel->run(src.data(), kernel->pack_weights(weights.data(), nullptr), dst.data());
      BOOST_TEST(dst == (std::vector<float>{19, 25, 37, 43}), boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
