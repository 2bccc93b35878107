// The generic backend against the reference oracle: random shapes over every strategy,
// the benchmark shapes, and the courses' worked examples. src and dst sit next to
// inaccessible guard pages, so a read or write past either end of them crashes the test.
#define BOOST_TEST_MODULE generic_kernel
#include <boost/test/unit_test.hpp>

#include <convjit/convjit.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/plan.hpp"
#include "core/reference.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using convjit::ConvShape;
using convjit::ConvSpec;

// count floats flush against an inaccessible page: after the last float (at_end) or before
// the first one (!at_end).
class GuardedFloats {
 public:
  GuardedFloats(std::size_t count, bool at_end) : count_(count) {
    page_ = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(float);
    const std::size_t body = (bytes + page_ - 1) / page_ * page_;
    total_ = body + 2 * page_;
    void* p = ::mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<char*>(p);
    if (::mprotect(base_, page_, PROT_NONE) != 0 ||
        ::mprotect(base_ + page_ + body, page_, PROT_NONE) != 0)
      throw std::runtime_error("mprotect failed");
    data_ = reinterpret_cast<float*>(at_end ? base_ + page_ + body - count * sizeof(float)
                                            : base_ + page_);
  }
  ~GuardedFloats() { ::munmap(base_, total_); }
  GuardedFloats(const GuardedFloats&) = delete;
  GuardedFloats& operator=(const GuardedFloats&) = delete;

  float* data() { return data_; }
  std::size_t size() const { return count_; }

 private:
  std::size_t count_, page_ = 4096, total_ = 0;
  char* base_ = nullptr;
  float* data_ = nullptr;
};

std::vector<float> random_floats(std::size_t count, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = dist(rng);
  return v;
}

// Float accumulation of L products of magnitude <= 1 (plus a bias): the error grows with L.
double tolerance(const ConvShape& s) {
  const double length = static_cast<double>(s.kh * s.kw * s.ic_per_group());
  return 1e-6 + 4.0 * FLT_EPSILON * (length + 1.0);
}

struct Outcome {
  std::int64_t mismatches = 0;
  double worst = 0;
};

// The largest error seen so far as a fraction of its tolerance (reported, not asserted).
double worst_fraction_of_tolerance = 0;

convjit::Jit& generic_jit() {
  static convjit::Jit jit(convjit::JitOptions{.backend = convjit::Backend::generic, .threads = 1});
  return jit;
}

// Runs the generic kernel on one shape against the reference; returns the strategy's name.
std::string check_shape(const ConvShape& shape, std::mt19937& rng, bool both_placements = true) {
  BOOST_TEST_CONTEXT("shape " << shape.to_string()) {
    const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), rng);
    const auto weights = random_floats(static_cast<std::size_t>(shape.weight_elems()), rng);
    const auto bias = random_floats(static_cast<std::size_t>(shape.oc), rng);
    const std::size_t dst_elems = static_cast<std::size_t>(shape.dst_elems());

    std::vector<float> expected(dst_elems);
    convjit::reference_conv(shape, src.data(), weights.data(), shape.bias ? bias.data() : nullptr,
                            expected.data());

    auto kernel = generic_jit().compile(shape);
    BOOST_TEST(kernel->backend() == "generic");
    const convjit::PackedWeights packed =
        kernel->pack_weights(weights.data(), shape.bias ? bias.data() : nullptr);
    const double tol = tolerance(shape);

    std::vector<float> first_result;
    for (bool at_end : {true, false}) {
      if (!at_end && !both_placements) break;
      GuardedFloats in(src.size(), at_end), out(dst_elems, at_end), out2(dst_elems, at_end);
      std::copy(src.begin(), src.end(), in.data());
      std::fill(out.data(), out.data() + dst_elems, std::numeric_limits<float>::quiet_NaN());
      std::fill(out2.data(), out2.data() + dst_elems, std::numeric_limits<float>::quiet_NaN());

      kernel->run(in.data(), packed, out.data(), 1);
      Outcome o;
      std::int64_t first_bad = -1;
      for (std::size_t i = 0; i < dst_elems; ++i) {
        const double err = std::fabs(static_cast<double>(out.data()[i]) - expected[i]);
        if (!(err <= tol)) {
          if (first_bad < 0) first_bad = static_cast<std::int64_t>(i);
          ++o.mismatches;
        }
        if (err > o.worst || std::isnan(err)) o.worst = std::isnan(err) ? INFINITY : err;
      }
      worst_fraction_of_tolerance = std::max(worst_fraction_of_tolerance, o.worst / tol);
      BOOST_TEST(o.mismatches == 0,
                 "generic differs from reference at " << o.mismatches << " of " << dst_elems
                     << " outputs (first at index " << first_bad << ": got "
                     << (first_bad >= 0 ? out.data()[first_bad] : 0.0f) << ", expected "
                     << (first_bad >= 0 ? expected[first_bad] : 0.0f) << "), worst error "
                     << o.worst << ", tolerance " << tol << ", strategy "
                     << convjit::to_string(kernel_plan(*kernel).strategy));

      // Two threads split the (image, row) work; each output is computed identically.
      kernel->run(in.data(), packed, out2.data(), 2);
      BOOST_TEST(std::memcmp(out.data(), out2.data(), dst_elems * sizeof(float)) == 0,
                 "2 threads are not bit-identical to 1 thread");

      // The same kernel, buffers moved: results do not depend on where the data sits.
      if (first_result.empty()) {
        first_result.assign(out.data(), out.data() + dst_elems);
      } else {
        BOOST_TEST(std::memcmp(first_result.data(), out.data(), dst_elems * sizeof(float)) == 0,
                   "results depend on buffer placement");
      }
    }
    return std::string(convjit::to_string(kernel_plan(*kernel).strategy));
  }
  return {};
}

std::int64_t pick(std::mt19937& rng, std::int64_t lo, std::int64_t hi) {
  return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng);
}

// Channels skewed towards small counts (tails and tiny groups), up to 40.
std::int64_t pick_channels(std::mt19937& rng) {
  return pick(rng, 0, 1) ? pick(rng, 1, 9) : pick(rng, 1, 40);
}

ConvSpec random_spec(std::mt19937& rng) {
  ConvSpec sp;
  sp.n = pick(rng, 0, 3) == 0 ? pick(rng, 2, 3) : 1;
  sp.layout = pick(rng, 0, 1) ? convjit::Layout::nhwc : convjit::Layout::nchw;
  const std::int64_t kind = pick(rng, 0, 19);
  if (kind < 5) {  // depthwise
    sp.c = sp.oc = sp.groups = pick(rng, 2, 40);
  } else if (kind < 8) {  // grouped
    sp.groups = pick(rng, 2, 8);
    sp.c = sp.groups * pick(rng, 1, std::max<std::int64_t>(1, 40 / sp.groups));
    sp.oc = sp.groups * pick(rng, 1, std::max<std::int64_t>(1, 40 / sp.groups));
  } else if (kind < 10) {  // single channel (NHWC: the width-vector strategy)
    sp.c = sp.oc = 1;
  } else {
    sp.c = pick_channels(rng);
    sp.oc = pick_channels(rng);
  }
  sp.h = pick(rng, 1, 40);
  sp.w = pick(rng, 1, 40);
  sp.kh = pick(rng, 1, 7);
  sp.kw = pick(rng, 0, 3) == 0 ? sp.kh : pick(rng, 1, 7);
  sp.sh = pick(rng, 0, 1) ? 1 : pick(rng, 1, 4);
  sp.sw = pick(rng, 0, 1) ? 1 : pick(rng, 1, 4);
  sp.dh = pick(rng, 0, 2) ? 1 : pick(rng, 1, 4);
  sp.dw = pick(rng, 0, 2) ? 1 : pick(rng, 1, 4);
  switch (pick(rng, 0, 4)) {
    case 0: sp.padding = convjit::PaddingMode::valid; break;
    case 1: sp.padding = convjit::PaddingMode::same; break;
    case 2: sp.padding = convjit::PaddingMode::same_lower; break;
    case 3:
      sp.padding = convjit::PaddingMode::explicit_pads;
      sp.pad_top = sp.pad_bottom = pick(rng, 0, 3);
      sp.pad_left = sp.pad_right = pick(rng, 0, 3);
      break;
    default:  // asymmetric, sometimes wider than the kernel (whole rows of padding)
      sp.padding = convjit::PaddingMode::explicit_pads;
      sp.pad_top = pick(rng, 0, 8);
      sp.pad_bottom = pick(rng, 0, 8);
      sp.pad_left = pick(rng, 0, 8);
      sp.pad_right = pick(rng, 0, 8);
      break;
  }
  sp.bias = pick(rng, 0, 1) == 1;
  switch (pick(rng, 0, 2)) {
    case 0: sp.act = {}; break;
    case 1: sp.act = {convjit::ActivationKind::relu, 0.0f, 0.0f}; break;
    default: {
      const float lo = std::uniform_real_distribution<float>(-1.5f, 0.0f)(rng);
      const float hi = std::uniform_real_distribution<float>(0.0f, 1.5f)(rng);
      sp.act = {convjit::ActivationKind::clamp, lo, hi};
    }
  }
  return sp;
}

std::uint32_t test_seed() {
  if (const char* env = std::getenv("CONVJIT_TEST_SEED"); env && *env)
    return static_cast<std::uint32_t>(std::strtoul(env, nullptr, 10));
  return 20240611u;
}

ConvShape resolve(const std::string& spec) { return ConvSpec::parse(spec).resolve(); }

}  // namespace

BOOST_AUTO_TEST_CASE(random_shapes_match_reference) {
  const std::uint32_t seed = test_seed();
  BOOST_TEST_MESSAGE("seed " << seed << " (override with CONVJIT_TEST_SEED)");
  std::mt19937 rng(seed);
  constexpr int kShapes = 400;
  constexpr double kMaxFlops = 4e6;
  std::map<std::string, int> strategies;
  int tail_blocks = 0, retries = 0, grouped = 0, nchw = 0, batched = 0, partial_pad_rows = 0;
  for (int done = 0; done < kShapes;) {
    ConvShape shape;
    try {
      shape = random_spec(rng).resolve();
    } catch (const convjit::Error&) {
      ++retries;
      continue;
    }
    if (shape.flops() > kMaxFlops) {
      ++retries;
      continue;
    }
    const std::string strategy = check_shape(shape, rng);
    ++strategies[strategy];
    const convjit::KernelPlan plan = convjit::make_plan(shape);
    if (plan.strategy != convjit::Strategy::width_vectors && plan.oc_tail_lanes < 8) ++tail_blocks;
    if (shape.groups > 1 && !shape.is_depthwise()) ++grouped;
    if (shape.layout == convjit::Layout::nchw) ++nchw;
    if (shape.n > 1) ++batched;
    if (plan.rows.size() > 1) ++partial_pad_rows;
    ++done;
  }
  for (const auto& [name, count] : strategies) BOOST_TEST_MESSAGE(name << ": " << count << " shapes");
  BOOST_TEST_MESSAGE("tail blocks " << tail_blocks << ", grouped " << grouped << ", nchw " << nchw
                                    << ", batched " << batched << ", padded rows "
                                    << partial_pad_rows << ", rejected draws " << retries
                                    << "; worst error " << worst_fraction_of_tolerance
                                    << " of the tolerance");
  BOOST_TEST(strategies["oc_vectors"] >= 50);
  BOOST_TEST(strategies["depthwise"] >= 20);
  BOOST_TEST(strategies["width_vectors"] >= 50);
  BOOST_TEST(tail_blocks >= 50);
  BOOST_TEST(grouped >= 20);
}

// bench/shapes.txt: name N C H W OC KH KW SH SW PH PW DH DW, NHWC as listed and NCHW too.
BOOST_AUTO_TEST_CASE(benchmark_shapes_match_reference) {
  std::ifstream file(CONVJIT_SHAPES_FILE);
  BOOST_TEST_REQUIRE(file.good(), "cannot open " << CONVJIT_SHAPES_FILE);
  std::mt19937 rng(test_seed() + 1);
  std::string line;
  int shapes = 0;
  while (std::getline(file, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream in(line);
    std::string name;
    ConvSpec sp;
    std::int64_t ph = 0, pw = 0;
    if (!(in >> name >> sp.n >> sp.c >> sp.h >> sp.w >> sp.oc >> sp.kh >> sp.kw >> sp.sh >> sp.sw >>
          ph >> pw >> sp.dh >> sp.dw))
      continue;
    sp.padding = convjit::PaddingMode::explicit_pads;
    sp.pad_top = sp.pad_bottom = ph;
    sp.pad_left = sp.pad_right = pw;
    for (convjit::Layout layout : {convjit::Layout::nhwc, convjit::Layout::nchw}) {
      sp.layout = layout;
      BOOST_TEST_CONTEXT(name) { check_shape(sp.resolve(), rng, /*both_placements=*/false); }
      ++shapes;
    }
  }
  BOOST_TEST_MESSAGE(shapes << " benchmark shapes");
  BOOST_TEST(shapes >= 20);
}

// Hand-picked corners: tails of every width, padding wider than the kernel, single pixels,
// the largest strides and dilations, tiles the planner makes as wide or tall as it can.
BOOST_AUTO_TEST_CASE(corner_shapes_match_reference) {
  std::mt19937 rng(test_seed() + 2);
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
    BOOST_TEST_CONTEXT(spec) { check_shape(resolve(spec), rng); }
  }
}

// The courses' worked example, exactly: 3×3 input 0..8, kernel [[0,1],[2,3]] → [[19,25],[37,43]].
BOOST_AUTO_TEST_CASE(worked_example_is_exact) {
  for (const char* spec : {"c=1,h=3,w=3,oc=1,k=2,bias=0", "c=1,h=3,w=3,oc=1,k=2,bias=0,layout=nchw"}) {
    const ConvShape shape = resolve(spec);
    auto kernel = generic_jit().compile(shape);
    const std::vector<float> src{0, 1, 2, 3, 4, 5, 6, 7, 8};
    const std::vector<float> weights{0, 1, 2, 3};
    std::vector<float> dst(4, -1.0f);
    kernel->run(src.data(), kernel->pack_weights(weights.data(), nullptr), dst.data());
    BOOST_TEST(dst == (std::vector<float>{19, 25, 37, 43}), boost::test_tools::per_element());
  }
}
