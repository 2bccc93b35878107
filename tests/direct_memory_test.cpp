// The planner's memory variants of a direct kernel, as data (no code runs): NCHW shapes
// staged for NHWC code between run()'s transposes, bands of output rows sized from L2, and
// passes over blocks of input channels whose slice of the input stays in L2.
#define BOOST_TEST_MODULE direct_memory
#include <boost/test/unit_test.hpp>

#include "core/environment.hpp"
#include "generator/kernel_schedule.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"
#include "generator/tile_geometry.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

using namespace convjit;

namespace {

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

// CONVJIT_BAND_BYTES for one scope, then as it was.
class BandBytes {
 public:
  explicit BandBytes(const char* value) {
    if (const char* old = std::getenv("CONVJIT_BAND_BYTES")) previous_ = old;
    ::setenv("CONVJIT_BAND_BYTES", value, 1);
  }
  ~BandBytes() {
    if (previous_) ::setenv("CONVJIT_BAND_BYTES", previous_->c_str(), 1);
    else ::unsetenv("CONVJIT_BAND_BYTES");
  }

 private:
  std::optional<std::string> previous_;
};

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(staging)

BOOST_AUTO_TEST_CASE(a_staged_nchw_plan_computes_nhwc_with_channel_vectors) {
  const ConvShape s = shape_of("c=16,h=20,w=20,oc=24,k=3,p=1,layout=nchw");
  const KernelPlan staged = make_direct_plan(s, Isa::avx2, {true, false});
  BOOST_TEST((staged.shape == s));  // the tensors stay NCHW
  BOOST_TEST((staged.kernel_layout == Layout::nhwc));
  BOOST_TEST(staged.stages_nchw());
  BOOST_TEST(to_string(staged.strategy) == "oc_vectors");
  BOOST_TEST(has(staged.name, "_nchw_staged_"));
  BOOST_TEST(has(staged.describe(), "staging    nchw"));
  const KernelPlan plain = make_direct_plan(s, Isa::avx2);
  BOOST_TEST(!plain.stages_nchw());
  BOOST_TEST(to_string(plain.strategy) == "width_vectors");
}

BOOST_AUTO_TEST_CASE(staging_is_priced_by_the_bytes_it_transposes) {
  const ConvShape s = shape_of("c=16,h=20,w=20,oc=24,k=3,p=1,layout=nchw");
  const ConvShape nhwc = testing::with_layout(s, Layout::nhwc);
  const KernelPlan staged = make_direct_plan(s, Isa::avx2, {true, false});
  const KernelPlan computed = make_direct_plan(nhwc, Isa::avx2);
  BOOST_TEST(staged.estimated_cycles == computed.estimated_cycles + nchw_staging_cycles(s),
             boost::test_tools::tolerance(1e-12));
  BOOST_TEST(nchw_staging_cycles(s) == 1.5 * (16 * 20 * 20 + 24 * 20 * 20));
  // A residual is staged too.
  BOOST_TEST(nchw_staging_cycles(testing::with_residual(s)) == 1.5 * (16 * 20 * 20 + 2 * 24 * 20 * 20));
}

BOOST_AUTO_TEST_CASE(the_cost_model_stages_strided_nchw_layers_whose_width_vectors_gather) {
  const KernelPlan p = make_plan(shape_of("c=128,h=56,w=56,oc=128,k=3,s=2,p=1,layout=nchw"), Isa::avx2);
  BOOST_TEST(p.stages_nchw());
  BOOST_TEST(has(p.algorithm_choice, "staged nhwc"), p.algorithm_choice);
}

BOOST_AUTO_TEST_CASE(only_nchw_shapes_on_x86_whose_nhwc_kernel_has_channel_vectors_are_staged) {
  auto stages = [](const char* spec, Isa isa) {
    const auto variants = direct_memory_variants(shape_of(spec), isa);
    return std::any_of(variants.begin(), variants.end(), [](DirectMemory m) { return m.staged; });
  };
  BOOST_TEST(stages("c=8,h=9,w=9,oc=8,k=3,layout=nchw", Isa::avx2));
  BOOST_TEST(stages("c=8,h=9,w=9,oc=8,k=3,g=8,layout=nchw", Isa::avx512));  // depthwise
  BOOST_TEST(!stages("c=8,h=9,w=9,oc=8,k=3", Isa::avx2));                   // already NHWC
  BOOST_TEST(!stages("c=1,h=9,w=9,oc=1,k=3,layout=nchw", Isa::avx2));        // the same memory
  BOOST_TEST(!stages("c=8,h=9,w=9,oc=8,k=3,layout=nchw", Isa::neon));        // no run() there
  BOOST_TEST(testing::error_field([] {
               make_direct_plan(shape_of("c=8,h=9,w=9,oc=8,k=3"), Isa::avx2, {true, false});
             }) == "layout");
}

BOOST_AUTO_TEST_CASE(candidates_offer_nchw_shapes_staged_and_not_as_families_of_their_own) {
  const ConvShape s = shape_of("c=32,h=30,w=30,oc=48,k=3,s=2,p=1,layout=nchw");
  const Isa isas[] = {Isa::avx2};
  const auto list = plan_candidates(s, Isa::avx2, isas);
  bool staged = false, plain = false;
  for (const PlanCandidate& c : list) {
    BOOST_TEST(has(c.family, " staged") == c.plan.stages_nchw(), c.plan.name);
    (c.plan.stages_nchw() ? staged : plain) = true;
  }
  BOOST_TEST(staged);
  BOOST_TEST(plain);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(bands)

BOOST_AUTO_TEST_CASE(a_band_keeps_its_input_and_output_rows_and_the_weights_within_the_budget) {
  const BandBytes budget("65536");
  const ConvShape s = shape_of("c=16,h=40,w=32,oc=64,k=3,p=1");
  const KernelPlan p = make_direct_plan(s, Isa::avx2, {false, true});
  BOOST_REQUIRE(p.work.band_units > 0);
  BOOST_TEST(p.work.band_units < s.out_h);
  const std::int64_t rows = p.work.band_units;
  const std::int64_t in_rows = (rows - 1) * s.sh + s.kh;
  const std::int64_t bytes = 4 * (in_rows * s.w * s.c + rows * s.out_w * s.oc + p.packed.weight_floats);
  BOOST_TEST(bytes <= 65536);
  // One more row would not fit.
  BOOST_TEST(bytes + 4 * (s.sh * s.w * s.c + s.out_w * s.oc) > 65536);
  BOOST_TEST(has(p.name, "_band" + std::to_string(rows) + "_"));
  BOOST_TEST(has(p.describe(), "bands      "));
  BOOST_TEST(band_budget_bytes() == 65536u);
}

BOOST_AUTO_TEST_CASE(no_band_where_it_cannot_help) {
  const BandBytes budget("65536");
  auto band = [](const char* spec) { return make_direct_plan(shape_of(spec), Isa::avx2, {false, true}).work.band_units; };
  BOOST_TEST(band("c=16,h=8,w=8,oc=64,k=3,p=1") == 0);      // the image stays in L2
  BOOST_TEST(band("c=16,h=40,w=32,oc=8,k=3,p=1") == 0);     // one channel tile: one sweep
  BOOST_TEST(band("c=256,h=40,w=32,oc=64,k=3,p=1") == 0);   // weights leave no room
  BOOST_TEST(band("c=8,h=40,w=32,oc=8,g=8,k=3,p=1") == 0);    // depthwise, one channel tile
  const BandBytes none("0");
  BOOST_TEST(band("c=16,h=40,w=32,oc=64,k=3,p=1") == 0);
}

BOOST_AUTO_TEST_CASE(depthwise_bands_are_for_tuning_to_time) {
  // A band reads every channel tile's stripe of its rows together; neither way reads a byte
  // twice, so the estimates tie, the whole image is the pick and the banded family is timed.
  const BandBytes budget("65536");
  const ConvShape s = shape_of("c=64,h=40,w=32,oc=64,g=64,k=3,p=1");
  const KernelPlan banded = make_direct_plan(s, Isa::avx2, {false, true});
  BOOST_TEST(banded.work.band_units > 0);
  BOOST_TEST(banded.estimated_cycles == make_direct_plan(s, Isa::avx2).estimated_cycles);
  BOOST_TEST(make_plan(s, Isa::avx2, Algorithm::direct).work.band_units == 0);
  const Isa isas[] = {Isa::avx2};
  bool timed_family = false;
  for (const PlanCandidate& c : plan_candidates(s, Isa::avx2, isas)) timed_family |= c.plan.work.band_units > 0;
  BOOST_TEST(timed_family);
}

BOOST_AUTO_TEST_CASE(bands_are_priced_and_the_cheaper_of_banded_and_whole_images_is_the_plan) {
  const BandBytes budget("65536");
  const ConvShape s = shape_of("c=16,h=40,w=32,oc=64,k=3,p=1");
  const KernelPlan whole = make_direct_plan(s, Isa::avx2), banded = make_direct_plan(s, Isa::avx2, {false, true});
  BOOST_TEST(banded.estimated_cycles < whole.estimated_cycles);
  const KernelPlan pick = make_plan(s, Isa::avx2, Algorithm::direct);
  BOOST_TEST(pick.name == banded.name);
  BOOST_TEST(has(pick.algorithm_choice, "in bands of"), pick.algorithm_choice);
}

BOOST_AUTO_TEST_CASE(candidates_offer_banded_and_whole_image_kernels) {
  const BandBytes budget("65536");
  const ConvShape s = shape_of("c=16,h=40,w=32,oc=64,k=3,p=1,algo=direct");
  const Isa isas[] = {Isa::avx2};
  bool banded = false, whole = false;
  for (const PlanCandidate& c : plan_candidates(s, Isa::avx2, isas)) {
    BOOST_TEST(has(c.family, " banded") == (c.plan.work.band_units > 0), c.plan.name);
    (c.plan.work.band_units > 0 ? banded : whole) = true;
  }
  BOOST_TEST(banded);
  BOOST_TEST(whole);
}

BOOST_AUTO_TEST_CASE(a_bad_band_budget_is_an_error_naming_the_variable) {
  const BandBytes budget("lots");
  BOOST_TEST(testing::error_field([] { (void)band_budget_bytes(); }) == "CONVJIT_BAND_BYTES");
  BOOST_TEST(testing::error_field([] { (void)make_plan(shape_of("c=4,h=4,w=4,oc=4,k=1")); }) ==
             "CONVJIT_BAND_BYTES");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(channel_passes)

const char* const kManyInputs = "c=1024,h=14,w=14,oc=256,k=1";  // ResNet-50's layer3 1x1

KernelPlan passes_plan(const char* spec, Isa isa = Isa::avx2) {
  return make_direct_plan(shape_of(spec), isa, {false, false, true});
}

BOOST_AUTO_TEST_CASE(a_pass_keeps_its_slice_of_the_input_and_a_tiles_weights_within_the_budget) {
  const BandBytes budget("262144");
  for (const Isa isa : {Isa::avx2, Isa::avx512}) {
    const KernelPlan p = passes_plan(kManyInputs, isa);
    const ConvShape& s = p.shape;
    BOOST_REQUIRE(p.ic_passes > 1);
    BOOST_TEST(p.ic_passes * p.ic_per_pass == s.c);
    BOOST_TEST(p.ic_per_pass % p.ic_unroll == 0);
    const std::int64_t slice = 4 * p.ic_per_pass * (s.h * s.w + p.oc_tile * p.lanes);
    BOOST_TEST(slice <= 262144);
    // The fewest passes: twice the channels would not fit.
    BOOST_TEST(2 * slice > 262144);
    BOOST_TEST(has(p.name, "_icp" + std::to_string(p.ic_per_pass) + "_"), p.name);
    BOOST_TEST(has(p.describe(), "passes     " + std::to_string(p.ic_passes) + " over"), p.describe());
    BOOST_TEST(p.work.band_units == 0);
  }
}

BOOST_AUTO_TEST_CASE(no_passes_where_they_cannot_help) {
  const BandBytes budget("262144");
  auto passes = [](const char* spec) { return passes_plan(spec).ic_passes; };
  BOOST_TEST(passes("c=1024,h=4,w=4,oc=256,k=1") == 1);       // the image stays in L2
  BOOST_TEST(passes("c=1024,h=14,w=14,oc=8,k=1") == 1);       // one channel tile: one sweep
  BOOST_TEST(passes("c=16,h=64,w=64,oc=64,k=1") == 1);       // an unrolled reduction
  BOOST_TEST(passes("c=64,h=64,w=64,oc=64,g=64,k=3,p=1") == 1);  // depthwise reads its channels once
  BOOST_TEST(passes("c=1024,h=14,w=14,oc=256,k=1,add=1") == 1);  // the residual may be dst itself
  const BandBytes none("0");
  BOOST_TEST(passes(kManyInputs) == 1);
}

BOOST_AUTO_TEST_CASE(the_first_pass_starts_from_the_bias_later_ones_from_dst_and_the_last_finishes) {
  const BandBytes budget("262144");
  const KernelPlan p = passes_plan("c=1024,h=14,w=14,oc=256,k=1,act=silu");
  BOOST_REQUIRE(p.ic_passes > 2);
  const KernelSchedule k = make_schedule(p);
  BOOST_REQUIRE(k.reduction_passes.size() == static_cast<std::size_t>(p.ic_passes));
  for (std::size_t i = 0; i < k.reduction_passes.size(); ++i) {
    const ReductionPass& r = k.reduction_passes[i];
    BOOST_TEST(r.from_dst == (i > 0));
    BOOST_TEST(r.finishes == (i + 1 == k.reduction_passes.size()));
    BOOST_TEST(r.src_offset == static_cast<std::int64_t>(i) * p.ic_per_pass * k.geometry.src_ic);
    BOOST_TEST(r.wei_offset == static_cast<std::int64_t>(i) * p.ic_per_pass * k.geometry.wei_ic);
    // Partial sums are stored as they are: the activation only after the last pass.
    BOOST_TEST(k.epilogue_of(r).activation.empty() == !r.finishes);
  }
  BOOST_TEST(k.looped.ic_steps * p.ic_unroll == p.ic_per_pass);
  // A whole reduction is one pass that starts from the bias and finishes.
  const KernelSchedule whole = make_schedule(make_direct_plan(p.shape, Isa::avx2));
  BOOST_REQUIRE(whole.reduction_passes.size() == 1u);
  BOOST_TEST(!whole.reduction_passes[0].from_dst);
  BOOST_TEST(whole.reduction_passes[0].finishes);
}

BOOST_AUTO_TEST_CASE(passes_are_priced_against_one_sweep_of_the_input_per_channel_tile) {
  const BandBytes budget("262144");
  const ConvShape s = shape_of(kManyInputs);
  const KernelPlan whole = make_direct_plan(s, Isa::avx2), passes = passes_plan(kManyInputs);
  BOOST_TEST(passes.estimated_cycles < whole.estimated_cycles);
}

BOOST_AUTO_TEST_CASE(the_cost_model_leaves_passes_to_tuning) {
  // Measured slower than the sweeps they save wherever the model preferred them (plan.cpp).
  const BandBytes budget("262144");
  const KernelPlan pick = make_plan(shape_of(kManyInputs), Isa::avx2, Algorithm::direct);
  BOOST_TEST(pick.ic_passes == 1);
  BOOST_TEST(!has(pick.algorithm_choice, "input-channel passes"), pick.algorithm_choice);
}

BOOST_AUTO_TEST_CASE(candidates_offer_channel_passes_as_a_family_of_their_own) {
  const BandBytes budget("262144");
  const ConvShape s = shape_of(kManyInputs);
  const Isa isas[] = {Isa::avx2};
  bool passes = false, whole = false;
  for (const PlanCandidate& c : plan_candidates(s, Isa::avx2, isas)) {
    BOOST_TEST(has(c.family, " channel passes") == (c.plan.ic_passes > 1), c.plan.name);
    (c.plan.ic_passes > 1 ? passes : whole) = true;
  }
  BOOST_TEST(passes);
  BOOST_TEST(whole);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(traffic)

BOOST_AUTO_TEST_CASE(a_large_depthwise_layer_is_bound_by_memory_a_3x3_layer_on_a_small_image_by_compute) {
  const BandBytes budget("524288");
  const KernelPlan depthwise = make_direct_plan(shape_of("c=32,h=112,w=112,oc=32,g=32,k=3,p=1"), Isa::avx512);
  BOOST_TEST(depthwise.traffic.memory_bound());
  BOOST_TEST(depthwise.traffic.compulsory_bytes == 4.0 * 112 * 112 * 32 * 3);  // read once, written once
  BOOST_TEST(depthwise.traffic.far_bytes == 0.0);
  BOOST_TEST(has(depthwise.describe(), "bound      memory"), depthwise.describe());
  const KernelPlan dense = make_direct_plan(shape_of("c=256,h=14,w=14,oc=256,k=3,p=1"), Isa::avx512);
  BOOST_TEST(!dense.traffic.memory_bound());
  BOOST_TEST(dense.traffic.compulsory_bytes == 0.0);  // its input and output stay in L2
  BOOST_TEST(has(dense.describe(), "bound      compute"), dense.describe());
}

BOOST_AUTO_TEST_CASE(a_whole_image_kernel_sweeps_its_input_again_for_each_further_channel_tile) {
  const BandBytes budget("262144");
  const ConvShape s = shape_of("c=1024,h=14,w=14,oc=256,k=1");
  const KernelPlan whole = make_direct_plan(s, Isa::avx2);
  const double src = 4.0 * 14 * 14 * 1024;
  BOOST_TEST(whole.traffic.far_bytes == (channel_tile_count(whole) - 1) * src);
  BOOST_TEST(has(whole.describe(), "swept once per channel tile"), whole.describe());
  // With passes the input is read once; the partial sums move instead.
  const KernelPlan passes = make_direct_plan(s, Isa::avx2, {false, false, true});
  BOOST_REQUIRE(passes.ic_passes > 1);
  BOOST_TEST(passes.traffic.far_bytes + passes.traffic.l2_bytes ==
             2.0 * (passes.ic_passes - 1) * 4 * 14 * 14 * 256);
  BOOST_TEST(whole.estimated_cycles == whole.traffic.compute_cycles + whole.traffic.memory_cycles);
}

BOOST_AUTO_TEST_SUITE_END()
