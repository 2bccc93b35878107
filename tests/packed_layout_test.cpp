// PackedLayout: the one description of the packed weights. Its sizes and strides per kind,
// that the schedule addresses weights by it, that its format names the layout and nothing
// else, and that weights packed by it give the reference's answer when run.
#define BOOST_TEST_MODULE packed_layout
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/packed_layout.hpp"
#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/winograd_schedule.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <set>

using namespace convjit;
using testing::random_floats;

namespace {

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

// The direct plan with this many lanes (avx2: 8; avx512: 8 or 16 as asked), so a shape's
// layout does not move with the cost model's choice of vector width.
KernelPlan direct_plan(const ConvShape& s, int lanes = 8) {
  const Isa isa = lanes == 16 ? Isa::avx512 : Isa::avx2;
  return *make_direct_plan_with(s, isa, VectorShape{lanes, lanes == 16 ? 32 : 16}, 0);
}
KernelPlan direct_plan(const char* spec, int lanes = 8) { return direct_plan(shape_of(spec), lanes); }

KernelPlan winograd_plan(const char* spec, int m, int lanes) {
  return make_winograd_plan(shape_of(spec), lanes == 16 ? Isa::avx512 : Isa::avx2, m, lanes);
}

struct Strides {
  std::int64_t group, block, row, column, input;
};

void check_strides(const PackedLayout& l, Strides expected) {
  BOOST_TEST(l.group_stride == expected.group);
  BOOST_TEST(l.block_stride == expected.block);
  BOOST_TEST(l.row_stride == expected.row);
  BOOST_TEST(l.column_stride == expected.column);
  BOOST_TEST(l.input_stride == expected.input);
}

// The direct schedule's byte strides are the layout's.
void check_geometry_reads_the_layout(const KernelPlan& p) {
  const TileGeometry g = make_tile_geometry(p);
  const PackedLayout& l = p.packed;
  BOOST_TEST(g.wei_group == 4 * l.group_stride);
  BOOST_TEST(g.wei_block == 4 * l.block_stride);
  BOOST_TEST(g.wei_kh == 4 * l.row_stride);
  BOOST_TEST(g.wei_kw == 4 * l.column_stride);
  BOOST_TEST(g.wei_ic == 4 * l.input_stride);
  BOOST_TEST(g.bias_block == 4 * l.lanes);
  BOOST_TEST(g.bias_group == 4 * l.bias_group_stride);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(packed_layout)

BOOST_AUTO_TEST_CASE(oc_vectors_keep_groups_apart_and_pad_the_channel_tail_to_a_vector) {
  // 4 groups of 5 output channels from 3 input channels: one 8-lane block per group.
  const KernelPlan p = direct_plan("c=12,h=8,w=8,oc=20,kh=3,kw=5,g=4,p=same");
  const PackedLayout& l = p.packed;
  BOOST_TEST((p.strategy == Strategy::oc_vectors));
  BOOST_TEST((l.kind == PackedKind::oc_vectors));
  BOOST_TEST(l.lanes == 8);
  BOOST_TEST(l.groups == 4);
  BOOST_TEST(l.channels == 5);
  BOOST_TEST(l.blocks == 1);
  BOOST_TEST(l.input_channels == 3);
  BOOST_TEST(l.rows == 3);
  BOOST_TEST(l.columns == 5);
  check_strides(l, {360, 360, 120, 24, 8});
  BOOST_TEST(l.weight_floats == 4 * 1 * 3 * 5 * 3 * 8);
  BOOST_TEST(l.bias_floats == 4 * 8);
  BOOST_TEST(l.bias_group_stride == 8);
  check_geometry_reads_the_layout(p);
}

BOOST_AUTO_TEST_CASE(sixteen_lane_oc_vectors_count_the_tail_in_sixteen_lane_blocks) {
  const KernelPlan p = direct_plan("c=8,h=8,w=8,oc=36,k=3", 16);
  const PackedLayout& l = p.packed;
  BOOST_TEST(l.lanes == 16);
  BOOST_TEST(l.blocks == 3);
  BOOST_TEST(l.channels == 36);
  check_strides(l, {3 * 1152, 1152, 384, 128, 16});
  BOOST_TEST(l.weight_floats == 3 * 3 * 3 * 8 * 16);
  BOOST_TEST(l.bias_floats == 48);
  check_geometry_reads_the_layout(p);
}

BOOST_AUTO_TEST_CASE(depthwise_folds_the_groups_into_channel_blocks_with_no_input_axis) {
  const KernelPlan p = direct_plan("c=21,h=8,w=8,oc=21,kh=5,kw=3,g=21,p=same,bias=0");
  const PackedLayout& l = p.packed;
  BOOST_TEST((p.strategy == Strategy::depthwise));
  BOOST_TEST((l.kind == PackedKind::depthwise));
  BOOST_TEST(l.groups == 1);
  BOOST_TEST(l.channels == 21);
  BOOST_TEST(l.blocks == 3);
  BOOST_TEST(l.input_channels == 1);
  BOOST_TEST(!l.bias);
  check_strides(l, {0, 120, 24, 8, 0});
  BOOST_TEST(l.weight_floats == 3 * 5 * 3 * 8);
  BOOST_TEST(l.bias_floats == 24);
  BOOST_TEST(l.bias_group_stride == 0);
  check_geometry_reads_the_layout(p);
}

BOOST_AUTO_TEST_CASE(width_vectors_keep_oihw_whatever_the_vector_width) {
  const KernelPlan narrow = direct_plan("c=6,h=9,w=17,oc=4,k=3,g=2,layout=nchw,s=2,p=1");
  const KernelPlan wide = direct_plan("c=6,h=9,w=17,oc=4,k=3,g=2,layout=nchw,s=2,p=1", 16);
  const PackedLayout& l = narrow.packed;
  BOOST_TEST((narrow.strategy == Strategy::width_vectors));
  BOOST_TEST((l.kind == PackedKind::width_vectors));
  BOOST_TEST(l.lanes == 1);
  BOOST_TEST(l.groups == 2);
  BOOST_TEST(l.channels == 2);
  BOOST_TEST(l.blocks == 2);
  BOOST_TEST(l.input_channels == 3);
  check_strides(l, {54, 27, 3, 1, 9});
  BOOST_TEST(l.weight_floats == 4 * 3 * 3 * 3);
  BOOST_TEST(l.bias_floats == 4);
  BOOST_TEST(l.bias_group_stride == 2);
  BOOST_TEST((wide.packed == narrow.packed));
  check_geometry_reads_the_layout(narrow);
  check_geometry_reads_the_layout(wide);
  // One channel in and out, NHWC: the same memory, the same layout.
  const KernelPlan single = direct_plan("c=1,h=9,w=17,oc=1,kh=3,kw=2,p=1");
  BOOST_TEST((single.strategy == Strategy::width_vectors));
  check_strides(single.packed, {6, 6, 2, 1, 6});
  BOOST_TEST(single.packed.weight_floats == 6);
  BOOST_TEST(single.packed.bias_floats == 1);
}

BOOST_AUTO_TEST_CASE(winograd_stores_u_per_element_at_every_tile_size_and_width) {
  // 17 input and 33 output channels: tails at both widths.
  const char* spec = "c=17,h=10,w=10,oc=33,k=3,p=1";
  for (int lanes : {8, 16})
    for (int m : {2, 4, 6}) {
      BOOST_TEST_CONTEXT("F" << m << " at " << lanes << " lanes") {
        const KernelPlan p = winograd_plan(spec, m, lanes);
        const PackedLayout& l = p.packed;
        const std::int64_t alpha = m + 2, blocks = (33 + lanes - 1) / lanes;
        const std::int64_t element = blocks * 17 * lanes;
        BOOST_TEST((l.kind == PackedKind::winograd));
        BOOST_TEST(l.winograd_m == m);
        BOOST_TEST(l.lanes == lanes);
        BOOST_TEST(l.groups == 1);
        BOOST_TEST(l.channels == 33);
        BOOST_TEST(l.blocks == blocks);
        BOOST_TEST(l.input_channels == 17);
        BOOST_TEST(l.rows == alpha);
        BOOST_TEST(l.columns == alpha);
        check_strides(l, {0, 17 * lanes, alpha * element, element, lanes});
        BOOST_TEST(l.weight_floats == alpha * alpha * element);
        BOOST_TEST(l.bias_floats == blocks * lanes);
        const WinogradSchedule w = make_winograd_schedule(p);
        BOOST_TEST(w.u_block == 4 * l.block_stride);
        BOOST_TEST(w.u_element == 4 * l.column_stride);
      }
    }
}

BOOST_AUTO_TEST_CASE(every_weight_has_its_own_float_and_the_rest_are_padding_lanes) {
  for (const KernelPlan& p :
       {direct_plan("c=12,h=8,w=8,oc=20,kh=3,kw=5,g=4,p=same"), direct_plan("c=8,h=8,w=8,oc=36,k=3", 16),
        direct_plan("c=21,h=8,w=8,oc=21,kh=5,kw=3,g=21,p=same"),
        direct_plan("c=6,h=9,w=17,oc=4,k=3,g=2,layout=nchw,s=2,p=1"),
        winograd_plan("c=17,h=10,w=10,oc=33,k=3,p=1", 4, 16)}) {
    BOOST_TEST_CONTEXT(p.name) {
      const PackedLayout& l = p.packed;
      std::set<std::int64_t> weights, biases;
      for (std::int64_t g = 0; g < l.groups; ++g)
        for (std::int64_t o = 0; o < l.channels; ++o) {
          biases.insert(l.bias_offset(g, o));
          for (std::int64_t i = 0; i < l.input_channels; ++i)
            for (std::int64_t y = 0; y < l.rows; ++y)
              for (std::int64_t x = 0; x < l.columns; ++x) weights.insert(l.weight_offset(g, o, i, y, x));
        }
      const std::int64_t values = l.groups * l.channels * l.input_channels * l.rows * l.columns;
      BOOST_TEST(static_cast<std::int64_t>(weights.size()) == values);
      BOOST_TEST(*weights.begin() >= 0);
      BOOST_TEST(*weights.rbegin() < l.weight_floats);
      BOOST_TEST(l.weight_floats - values ==
                 l.groups * (l.blocks * l.lanes - l.channels) * l.input_channels * l.rows * l.columns);
      BOOST_TEST(static_cast<std::int64_t>(biases.size()) == l.groups * l.channels);
      BOOST_TEST(*biases.rbegin() < l.bias_floats);
    }
  }
}

BOOST_AUTO_TEST_CASE(format_ignores_batch_input_size_padding_stride_and_activation) {
  const char* base = "c=16,h=12,w=12,oc=24,k=3,p=1";
  const char* same_layout[] = {"n=3,c=16,h=12,w=12,oc=24,k=3,p=1",
                               "c=16,h=31,w=9,oc=24,k=3,p=1",
                               "c=16,h=12,w=12,oc=24,k=3",
                               "c=16,h=12,w=12,oc=24,k=3,pt=2,pb=0,pl=1,pr=2",
                               "c=16,h=12,w=12,oc=24,k=3,p=1,act=relu",
                               "c=16,h=12,w=12,oc=24,k=3,p=1,act=leaky_relu:0.2,add=1"};
  for (int lanes : {8, 16}) {
    const std::uint64_t format = direct_plan(base, lanes).packed.format();
    for (const char* spec : same_layout) BOOST_TEST(direct_plan(spec, lanes).packed.format() == format, spec);
    // Stride and dilation change the kernel, not the weights.
    BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,k=3,s=2,d=2,p=1", lanes).packed.format() == format);
  }
  for (int m : {2, 4, 6}) {
    const std::uint64_t format = winograd_plan(base, m, 8).packed.format();
    for (const char* spec : same_layout)
      BOOST_TEST(winograd_plan(spec, m, 8).packed.format() == format, spec << " F" << m);
    BOOST_TEST(winograd_plan("c=16,h=12,w=12,oc=24,k=3,p=1,layout=nchw", m, 8).packed.format() == format);
  }
}

BOOST_AUTO_TEST_CASE(format_changes_with_lanes_groups_kernel_channels_bias_and_tile_size) {
  const char* base = "c=16,h=12,w=12,oc=24,k=3,p=1";
  const std::uint64_t format = direct_plan(base).packed.format();
  BOOST_TEST(direct_plan(base, 16).packed.format() != format);
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,k=3,p=1,g=2").packed.format() != format);
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,k=5,p=1").packed.format() != format);
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,kh=3,kw=1,p=1").packed.format() != format);
  BOOST_TEST(direct_plan("c=15,h=12,w=12,oc=24,k=3,p=1").packed.format() != format);
  // 23 channels fill the same three blocks: the zero lane differs.
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=23,k=3,p=1").packed.format() != format);
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,k=3,p=1,bias=0").packed.format() != format);
  // The same weights as OIHW (width vectors) and depthwise are other layouts.
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=24,k=3,p=1,layout=nchw").packed.format() != format);
  BOOST_TEST(direct_plan("c=16,h=12,w=12,oc=16,k=3,p=1,g=16").packed.format() !=
             direct_plan("c=16,h=12,w=12,oc=16,k=3,p=1").packed.format());
  std::set<std::uint64_t> winograd{format};
  for (int lanes : {8, 16})
    for (int m : {2, 4, 6}) winograd.insert(winograd_plan(base, m, lanes).packed.format());
  BOOST_TEST(winograd.size() == 7u);
  BOOST_TEST(winograd_plan("c=16,h=12,w=12,oc=24,k=3,p=1,bias=0", 4, 8).packed.format() !=
             winograd_plan(base, 4, 8).packed.format());
}

BOOST_AUTO_TEST_CASE(weights_packed_by_the_layout_run_to_the_reference_answer) {
  for (const char* spec : {"n=2,c=12,h=9,w=11,oc=20,kh=3,kw=5,g=4,p=same,act=relu",
                           "c=17,h=10,w=10,oc=33,k=3,p=1,algo=winograd_f4"}) {
    const ConvShape s = shape_of(spec);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 3);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), 4);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 5);
    std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, src.data(), weights.data(), bias.data(), expected.data());
    for (const testing::JitTarget& target : testing::jit_targets()) {
      BOOST_TEST_CONTEXT(spec << " on " << target.name()) {
        const auto kernel = Jit(target.options()).compile(s);
        const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
        const PackedLayout& l = kernel_plan(*kernel).packed;
        BOOST_TEST(packed.size() == static_cast<std::size_t>(l.total_floats()));
        BOOST_TEST(packed.bias_offset() == static_cast<std::size_t>(l.weight_floats));
        BOOST_TEST(packed.format() == l.format());
        if (l.kind != PackedKind::winograd) {  // U is G g Gᵀ, not the weight itself
          for (std::int64_t o : {std::int64_t{0}, l.channels - 1})
            BOOST_TEST(packed.data()[l.weight_offset(l.groups - 1, o, 1, 2, 3)] ==
                       weights[static_cast<std::size_t>(
                           user_weight_index(s, (l.groups - 1) * l.channels + o, 1, 2, 3))]);
        }
        std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()));
        kernel->run(src.data(), packed, dst.data());
        const testing::Comparison c = testing::compare_outputs(s, dst.data(), expected.data(),
                                                               dst.size(), kernel->algorithm());
        BOOST_TEST(c.ok(), kernel->name() << ": error " << c.max_error << " > " << c.tolerance);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
