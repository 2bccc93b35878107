// run() of staged (NCHW tensors, NHWC code), banded (a band of rows per call) and
// channel-pass (the reduction in passes over blocks of input channels) direct kernels, both
// JIT backends: they match the reference on odd shapes at every thread count,
// in batches, with residuals (staged too) and strided pixels, give the same bits for every
// thread count and pool, and allocate nothing after a thread's first call.
#define BOOST_TEST_MODULE staged_banded_run
#include <boost/test/unit_test.hpp>

#include "core/cpu_features.hpp"
#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "runtime/backends.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

using namespace convjit;

namespace {

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

// A small band budget, so that small shapes have bands; set before any plan is made.
const int band_budget_set = ::setenv("CONVJIT_BAND_BYTES", "24576", 1);

// Runs the shares of a team on the calling thread, last share first: the shares of one phase
// must not depend on each other's order.
class BackwardsPool final : public ThreadPool {
 public:
  int threads() const override { return 3; }
  void parallel_for(std::int64_t count, Task task, void* context) override {
    for (std::int64_t t = count - 1; t >= 0; --t) task(context, t);
  }
};

std::shared_ptr<const Kernel> kernel_of(const KernelPlan& plan, Backend backend) {
  static const auto llvm_session = make_backend_session(Backend::llvm);
  return make_kernel(std::make_shared<const KernelPlan>(plan),
                     make_code(plan, backend, backend == Backend::llvm ? llvm_session.get() : nullptr), 0, 1);
}

struct Data {
  std::vector<float> src, weights, bias, residual, expected;
};

Data data_for(const ConvShape& s) {
  Data d;
  d.src = testing::random_floats(static_cast<std::size_t>(s.src_elems()), 1);
  d.weights = testing::random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
  d.bias = testing::random_floats(static_cast<std::size_t>(s.oc), 3);
  d.residual = testing::random_floats(static_cast<std::size_t>(s.dst_elems()), 4);
  // The gaps between strided output pixels keep what dst held: the residual, run in place.
  d.expected = s.add_residual ? d.residual : std::vector<float>(static_cast<std::size_t>(s.dst_elems()));
  reference_conv(s, d.src.data(), d.weights.data(), d.bias.data(), d.expected.data(),
                 s.add_residual ? d.residual.data() : nullptr);
  return d;
}

// The kernels under test for a shape: staged for NCHW shapes, banded where a band fits, in
// input-channel passes where they fit.
std::vector<KernelPlan> plans_for(const ConvShape& s, Isa isa) {
  std::vector<KernelPlan> plans;
  const bool nchw = s.layout == Layout::nchw;
  plans.push_back(make_direct_plan(s, isa, {nchw, true}));
  if (nchw) plans.push_back(make_direct_plan(s, isa, {true, false}));
  KernelPlan passes = make_direct_plan(s, isa, {nchw, false, true});
  if (passes.ic_passes > 1) plans.push_back(std::move(passes));
  return plans;
}

std::vector<Isa> isas() {
  std::vector<Isa> list{Isa::avx2};
  if (cpu_has_avx512()) list.push_back(Isa::avx512);
  return list;
}

const char* const kShapes[] = {
    "n=3,c=13,h=11,w=9,oc=21,k=3,p=1,layout=nchw",
    "n=2,c=7,h=17,w=10,oc=19,k=5,s=2,p=2,layout=nchw,act=relu",
    "n=2,c=24,h=9,w=13,oc=24,g=24,k=3,p=1,layout=nchw",
    "n=2,c=6,h=21,w=11,oc=40,k=3,p=1,layout=nchw,add=1",
    "n=3,c=8,h=23,w=11,oc=40,k=3,p=1",
    "n=2,c=5,h=19,w=7,oc=33,kh=3,kw=2,sh=2,p=1,add=1,act=clamp:-0.5:0.5",
    "n=2,c=6,h=25,w=9,oc=40,k=3,p=1,src_stride=9,dst_stride=43,add=1",
    // Input-channel passes: many inputs, several channel tiles, a partial last block.
    "n=2,c=96,h=13,w=11,oc=37,k=3,p=1,act=silu",
    "n=2,c=96,h=13,w=11,oc=101,k=3,p=1,act=silu",
    "n=2,c=256,h=9,w=7,oc=200,k=1,act=relu",
    "n=2,c=128,h=15,w=9,oc=112,g=2,k=3,s=2,p=1,layout=nchw,act=leaky_relu",
    "n=2,c=192,h=11,w=13,oc=99,k=1,src_stride=200,dst_stride=101,act=clamp:-0.5:0.5",
};

}  // namespace

BOOST_AUTO_TEST_SUITE(staged_and_banded_kernels)

BOOST_AUTO_TEST_CASE(match_the_reference_at_every_thread_count_with_the_same_bits) {
  BOOST_REQUIRE(band_budget_set == 0);
  bool banded_seen = false, staged_seen = false, passes_seen = false;
  for (const char* spec : kShapes)
    for (const Isa isa : isas())
      for (const KernelPlan& plan : plans_for(shape_of(spec), isa))
        for (const Backend backend : {Backend::xbyak, Backend::llvm}) {
          const ConvShape& s = plan.shape;
          banded_seen |= plan.work.band_units > 0;
          staged_seen |= plan.stages_nchw();
          passes_seen |= plan.ic_passes > 1;
          const Data d = data_for(s);
          const auto kernel = kernel_of(plan, backend);
          const PackedWeights packed = kernel->pack_weights(d.weights.data(), d.bias.data());
          BackwardsPool pool;
          std::vector<float> first;
          for (int threads = 0; threads <= 3; ++threads) {  // 0: the pool's three
            BOOST_TEST_CONTEXT(spec << " " << plan.name << " " << to_string(backend) << " threads "
                                    << threads) {
              // In place for a residual: dst starts as the residual.
              std::vector<float> dst = s.add_residual ? d.residual : std::vector<float>(d.expected.size());
              RunOptions options;
              options.threads = threads;
              options.batch = s.n;
              if (threads == 0) options.pool = &pool;
              if (s.add_residual) options.residual = dst.data();
              kernel->run(d.src.data(), packed, dst.data(), options);
              const testing::Comparison cmp = testing::compare_outputs(
                  s, dst.data(), d.expected.data(), dst.size(), kernel->algorithm());
              BOOST_TEST(cmp.ok(), "error " << cmp.max_error << " > " << cmp.tolerance);
              if (first.empty()) first = dst;
              else BOOST_TEST((dst == first), "bits differ from the first run");
            }
          }
        }
  BOOST_TEST(banded_seen);
  BOOST_TEST(staged_seen);
  BOOST_TEST(passes_seen);
}

BOOST_AUTO_TEST_CASE(a_separate_residual_is_staged_like_dst) {
  const ConvShape s = shape_of("n=2,c=6,h=21,w=11,oc=40,k=3,p=1,layout=nchw,add=1");
  const KernelPlan plan = make_direct_plan(s, Isa::avx2, {true, true});
  BOOST_REQUIRE(plan.stages_nchw());
  const Data d = data_for(s);
  const auto kernel = kernel_of(plan, Backend::xbyak);
  std::vector<float> dst(d.expected.size());
  RunOptions options;
  options.residual = d.residual.data();
  options.threads = 2;
  kernel->run(d.src.data(), kernel->pack_weights(d.weights.data(), d.bias.data()), dst.data(), options);
  BOOST_TEST(testing::compare_outputs(s, dst.data(), d.expected.data(), dst.size(), kernel->algorithm()).ok());
}

BOOST_AUTO_TEST_CASE(run_allocates_nothing_after_a_threads_first_call) {
  for (const char* spec : {"n=2,c=6,h=21,w=11,oc=40,k=3,p=1,layout=nchw,add=1", "n=3,c=8,h=23,w=11,oc=40,k=3,p=1"}) {
    const ConvShape s = shape_of(spec);
    const KernelPlan plan = make_direct_plan(s, Isa::avx2, {s.layout == Layout::nchw, true});
    BOOST_REQUIRE(plan.work.band_units > 0);
    const Data d = data_for(s);
    const auto kernel = kernel_of(plan, Backend::xbyak);
    const PackedWeights packed = kernel->pack_weights(d.weights.data(), d.bias.data());
    std::vector<float> dst = d.residual;
    RunOptions options;
    if (s.add_residual) options.residual = dst.data();
    for (int threads = 1; threads <= 3; ++threads) {
      options.threads = threads;
      kernel->run(d.src.data(), packed, dst.data(), options);  // first calls: buffers grow
      const long before = testing::allocations.load();
      kernel->run(d.src.data(), packed, dst.data(), options);
      BOOST_TEST(testing::allocations.load() - before == 0, spec << " allocated in run() at threads " << threads);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
