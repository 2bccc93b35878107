// The planner: pure data, checked without running any machine code.
#define BOOST_TEST_MODULE plan
#include <boost/test/unit_test.hpp>

#include "generator/kernel_schedule.hpp"
#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "tests/support/test_support.hpp"

#include <random>

using namespace convjit;

namespace {
// The direct planner: the Winograd plans have their own suite (winograd_test.cpp).
KernelPlan plan_of(const char* spec, Isa isa = Isa::avx2) {
  return make_direct_plan(ConvSpec::parse(spec).resolve(), isa);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(strategy)

BOOST_AUTO_TEST_CASE(nhwc_with_channels_uses_output_channel_vectors) {
  BOOST_TEST(to_string(plan_of("c=64,h=56,w=56,oc=64,k=3,p=1").strategy) == "oc_vectors");
}
BOOST_AUTO_TEST_CASE(depthwise_nhwc_vectorises_channels_without_broadcast) {
  BOOST_TEST(to_string(plan_of("c=32,h=16,w=16,oc=32,g=32,k=3,p=1").strategy) == "depthwise");
}
BOOST_AUTO_TEST_CASE(single_channel_images_and_nchw_use_width_vectors) {
  BOOST_TEST(to_string(plan_of("c=1,h=8,w=8,oc=1,k=3").strategy) == "width_vectors");
  BOOST_TEST(to_string(plan_of("c=16,h=8,w=8,oc=16,k=3,layout=nchw").strategy) == "width_vectors");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(padding_segments)

BOOST_AUTO_TEST_CASE(same_padding_splits_rows_into_top_middle_bottom) {
  const KernelPlan p = plan_of("c=64,h=56,w=56,oc=64,k=3,p=1");
  BOOST_REQUIRE_EQUAL(p.rows.size(), 3u);
  BOOST_TEST((p.rows[0] == RowSegment{0, 1, 1, 3}));
  BOOST_TEST((p.rows[1] == RowSegment{1, 55, 0, 3}));
  BOOST_TEST((p.rows[2] == RowSegment{55, 56, 0, 2}));
}

BOOST_AUTO_TEST_CASE(valid_padding_has_one_row_segment_and_one_looped_column_run) {
  const KernelPlan p = plan_of("c=8,h=30,w=30,oc=16,k=3");
  BOOST_REQUIRE_EQUAL(p.rows.size(), 1u);
  // 28 output columns: one looped run of whole tiles, then at most one partial tile.
  BOOST_REQUIRE(!p.columns.empty());
  BOOST_TEST(p.columns.front().repeat > 1);
  BOOST_TEST(p.columns.size() <= 2u);
  if (p.columns.size() == 2) BOOST_TEST(p.columns.back().repeat == 1);
}

BOOST_AUTO_TEST_CASE(rows_whose_window_lies_in_padding_get_an_empty_tap_range) {
  // Top padding 3 with a 1-row kernel: rows 0..2 read only padding.
  const KernelPlan p = plan_of("c=4,h=4,w=4,oc=8,k=1,pt=3,pb=0,pl=0,pr=0");
  BOOST_REQUIRE(!p.rows.empty());
  BOOST_TEST(p.rows[0].oh_begin == 0);
  BOOST_TEST(p.rows[0].oh_end == 3);
  BOOST_TEST(p.rows[0].kh_begin == p.rows[0].kh_end);
}

BOOST_AUTO_TEST_CASE(looped_column_tiles_have_every_tap_in_bounds) {
  std::mt19937_64 rng(4);
  for (int i = 0; i < 500; ++i) {
    const ConvShape s = testing::random_shape(rng);
    const KernelPlan p = make_direct_plan(s);
    for (const ColumnTile& t : p.columns) {
      if (t.repeat == 1) continue;
      const std::int64_t last = t.ow_begin + t.width * t.repeat - 1;
      for (std::int64_t ow : {t.ow_begin, last}) {
        BOOST_TEST(column_tap_in_bounds(s, ow, 0), s.to_string());
        BOOST_TEST(column_tap_in_bounds(s, ow, s.kw - 1), s.to_string());
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(coverage_and_registers)

BOOST_AUTO_TEST_CASE(rows_and_columns_cover_the_output_exactly_once) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 1000; ++i) {
    const ConvShape s = testing::random_shape(rng);
    const KernelPlan p = make_direct_plan(s);
    std::int64_t next = 0;
    for (const RowSegment& r : p.rows) {
      BOOST_TEST(r.oh_begin == next);
      BOOST_TEST(r.oh_end > r.oh_begin);
      next = r.oh_end;
    }
    BOOST_TEST(next == s.out_h);
    next = 0;
    for (const ColumnTile& c : p.columns) {
      BOOST_TEST(c.ow_begin == next);
      next += c.width * c.repeat;
    }
    BOOST_TEST(next == s.out_w);
  }
}

BOOST_AUTO_TEST_CASE(register_tile_fits_sixteen_ymm_or_thirty_two_evex_registers) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 1000; ++i) {
    const ConvShape shape = testing::random_shape(rng);
    const KernelPlan avx2 = make_direct_plan(shape, Isa::avx2);
    BOOST_TEST(avx2.vector_registers == 16);
    BOOST_TEST(make_schedule(avx2).registers.total() <= 16, avx2.name);
    const KernelPlan avx512 = make_direct_plan(shape, Isa::avx512);
    BOOST_TEST(avx512.vector_registers == 32);
    BOOST_TEST(make_schedule(avx512).registers.total() <= 32, avx512.name);
  }
}

BOOST_AUTO_TEST_CASE(input_channel_steps_divide_the_channel_count) {
  std::mt19937_64 rng(13);
  testing::RandomShapeLimits wide;
  wide.max_channels = 512;
  wide.max_flops = 1e9;
  for (int i = 0; i < 300; ++i) {
    const KernelPlan p = make_direct_plan(testing::random_shape(rng, wide));
    const std::int64_t icg = p.strategy == Strategy::depthwise ? 1 : p.shape.ic_per_group();
    BOOST_TEST(icg % p.ic_unroll == 0, p.name);
    BOOST_TEST(p.unroll_kh == (p.ic_unroll == icg), p.name);
  }
}

BOOST_AUTO_TEST_CASE(channel_tile_runs_cover_every_block_and_only_the_last_has_a_tail) {
  for (const char* spec : {"c=8,h=8,w=8,oc=20,k=3", "c=8,h=8,w=8,oc=64,k=3", "c=8,h=8,w=8,oc=5,k=3",
                           "c=8,h=8,w=8,oc=48,k=1", "c=8,h=8,w=8,oc=24,k=3,layout=nchw"}) {
    const KernelPlan p = plan_of(spec);
    std::int64_t blocks = 0;
    const auto runs = make_schedule(p).channel_runs;
    for (std::size_t i = 0; i < runs.size(); ++i) {
      blocks += runs[i].count * runs[i].blocks;
      if (runs[i].has_tail) BOOST_TEST(i + 1 == runs.size(), spec);
    }
    BOOST_TEST(blocks == p.oc_blocks, spec);
  }
}

BOOST_AUTO_TEST_CASE(resnet_layers_use_at_least_twelve_accumulators) {
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=1", "c=128,h=28,w=28,oc=128,k=3,p=1",
                           "c=256,h=14,w=14,oc=256,k=3,p=1"}) {
    const KernelPlan p = plan_of(spec);
    BOOST_TEST(p.ur_w * p.oc_tile >= 12, spec);
  }
}

BOOST_AUTO_TEST_CASE(columns_whose_pixels_share_an_l1_set_are_at_most_eight) {
  // Neighbouring columns' input pixels 4 KiB apart (or a multiple): every broadcast stream of a
  // tile lands in one L1 set, so a tile takes at most 8 columns.
  for (const char* spec : {"c=1024,h=14,w=14,oc=256,k=1", "c=512,h=28,w=28,oc=1024,k=1,s=2",
                           "c=2048,h=7,w=7,oc=512,k=1", "c=1000,h=14,w=14,oc=256,k=1,src_stride=1024"})
    for (const Isa isa : {Isa::avx2, Isa::avx512}) {
      const KernelPlan p = plan_of(spec, isa);
      BOOST_TEST(p.ur_w <= 8, spec << ": " << p.name);
    }
  // Other strides keep the wide tiles the cost model prefers.
  BOOST_TEST(plan_of("c=1008,h=14,w=14,oc=256,k=1", Isa::avx512).ur_w > 8);
  BOOST_TEST(plan_of("c=512,h=28,w=28,oc=256,k=1", Isa::avx512).ur_w > 8);
}

BOOST_AUTO_TEST_CASE(tiny_course_shapes_are_unrolled_end_to_end) {
  for (const char* spec : {"c=1,h=8,w=8,oc=1,k=3", "c=1,h=8,w=8,oc=1,k=3,p=same",
                           "c=1,h=8,w=8,oc=1,k=3,s=2", "c=1,h=3,w=3,oc=1,k=2"}) {
    const KernelPlan p = plan_of(spec);
    BOOST_TEST(p.unroll_rows, spec);
    BOOST_TEST(p.unroll_kh, spec);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(instruction_sets)

BOOST_AUTO_TEST_CASE(avx2_plans_use_eight_lane_ymm_vectors) {
  const KernelPlan p = plan_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::avx2);
  BOOST_TEST(p.lanes == 8);
  BOOST_TEST(p.oc_blocks == 8);
  BOOST_TEST(!p.uses_opmasks());
  BOOST_TEST(p.name.ends_with("_avx2"));
}

BOOST_AUTO_TEST_CASE(avx512_puts_sixteen_channels_in_a_zmm_on_wide_layers) {
  const KernelPlan p = plan_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::avx512);
  BOOST_TEST(p.lanes == 16);
  BOOST_TEST(p.oc_blocks == 4);
  BOOST_TEST(p.ur_w * p.oc_tile >= 24);  // 32 registers: a larger tile than avx2's 12
  BOOST_TEST(p.packed.weight_floats == 4 * 3 * 3 * 64 * 16);
  BOOST_TEST(p.name.ends_with("_avx512_zmm"));
}

BOOST_AUTO_TEST_CASE(avx512_keeps_ymm_where_sixteen_lanes_would_idle) {
  // Six output channels fill 6 of 8 lanes or 6 of 16: a zmm would cost the same FMAs.
  const KernelPlan p = plan_of("c=1,h=32,w=32,oc=6,k=5", Isa::avx512);
  BOOST_TEST(p.lanes == 8);
  BOOST_TEST(p.vector_registers == 32);
  BOOST_TEST(p.uses_opmasks());
  BOOST_TEST(p.name.ends_with("_avx512_ymm"));
}

BOOST_AUTO_TEST_CASE(avx512_channel_tails_are_counted_in_sixteen_lane_blocks) {
  const KernelPlan p = plan_of("c=8,h=8,w=8,oc=36,k=3", Isa::avx512);
  BOOST_TEST(p.lanes == 16);
  BOOST_TEST(p.oc_blocks == 3);
  BOOST_TEST(p.oc_tail_lanes == 4);
  BOOST_TEST(first_lanes(p.oc_tail_lanes, p.lanes) == 0xFu);
  BOOST_TEST(p.all_lanes() == 0xFFFFu);
}

BOOST_AUTO_TEST_CASE(eight_and_sixteen_lane_plans_pack_weights_differently) {
  const char* spec = "c=32,h=8,w=8,oc=32,k=3";
  BOOST_TEST(plan_of(spec, Isa::avx2).packed.format() !=
             plan_of(spec, Isa::avx512).packed.format());
}

BOOST_AUTO_TEST_CASE(neon_plans_put_four_channels_in_a_q_register_and_have_32_registers) {
  const KernelPlan p = plan_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::neon);
  BOOST_TEST(p.lanes == 4);
  BOOST_TEST(p.vector_registers == 32);
  BOOST_TEST(p.oc_blocks == 16);
  BOOST_TEST(!p.uses_opmasks());
  BOOST_TEST(p.ur_w * p.oc_tile >= 20);  // 32 registers: more than avx2's 12 accumulators
  BOOST_TEST(p.packed.weight_floats == 16 * 3 * 3 * 64 * 4);
  BOOST_TEST(p.name.ends_with("_neon"));
  BOOST_TEST(p.describe().find("neon, 4-lane vectors (q), 32 registers") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(neon_tiles_leave_four_of_the_32_registers_to_llvm) {
  std::mt19937_64 rng(14);
  for (int i = 0; i < 1000; ++i) {
    const KernelPlan p = make_direct_plan(testing::random_shape(rng), Isa::neon);
    BOOST_TEST(p.lanes == 4);
    BOOST_TEST(make_schedule(p).registers.total() <= 28, p.name);
  }
}

BOOST_AUTO_TEST_CASE(four_lane_plans_pack_weights_differently_from_eight_lane_ones) {
  const char* spec = "c=32,h=8,w=8,oc=32,k=3";
  BOOST_TEST(plan_of(spec, Isa::avx2).packed.format() != plan_of(spec, Isa::neon).packed.format());
}

BOOST_AUTO_TEST_CASE(the_planner_refuses_an_unresolved_instruction_set) {
  BOOST_CHECK_THROW(plan_of("c=1,h=8,w=8,oc=1,k=3", Isa::automatic), Error);
}

BOOST_AUTO_TEST_SUITE_END()
