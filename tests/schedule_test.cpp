// The schedule: the walk of a plan that both emitters translate, checked as data (no machine
// code runs). Where a property is checked it is recomputed from the convolution's own
// arithmetic (which input column a tap reads), never from the planner's formulas.
#define BOOST_TEST_MODULE schedule
#include <boost/test/unit_test.hpp>

#include "generator/kernel_schedule.hpp"
#include "generator/winograd_schedule.hpp"
#include "tests/support/test_support.hpp"

#include <map>
#include <random>
#include <set>

using namespace convjit;

namespace {

// The direct planner: the Winograd plans have their own suite (winograd_test.cpp).
KernelPlan plan_of(const char* spec, Isa isa = Isa::avx2) {
  return make_direct_plan(ConvSpec::parse(spec).resolve(), isa);
}

// Output columns held by accumulator column `column` of a tile starting at ow.
std::vector<std::int64_t> output_columns(const KernelPlan& p, std::int64_t ow, int column,
                                         std::int64_t width) {
  if (p.strategy != Strategy::width_vectors) return {ow + column};
  std::vector<std::int64_t> out;
  for (int lane = 0; lane < p.lanes; ++lane)
    if (column * p.lanes + lane < width) out.push_back(ow + column * p.lanes + lane);
  return out;
}

// Input column of output column ow at kernel column kw, from the shape alone.
std::int64_t input_column_of(const ConvShape& s, std::int64_t ow, std::int64_t kw) {
  return ow * s.sw - s.pad_left + kw * s.dw;
}

bool inside(const ConvShape& s, std::int64_t iw) { return iw >= 0 && iw < s.w; }

// Every (tile, repetition): its first output column.
template <class Visit>
void for_each_tile_instance(const KernelSchedule& k, Visit visit) {
  for (const TileWalk& walk : k.tiles)
    for (std::int64_t i = 0; i < walk.tile.repeat; ++i)
      visit(walk, walk.tile.ow_begin + i * walk.tile.width);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(taps)

BOOST_AUTO_TEST_CASE(every_tap_in_bounds_is_read_and_every_tap_in_padding_is_left_out) {
  std::mt19937_64 rng(21);
  for (int i = 0; i < 400; ++i) {
    const ConvShape s = testing::random_shape(rng);
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const KernelPlan p = make_direct_plan(s, isa);
      const KernelSchedule k = make_schedule(p);
      for_each_tile_instance(k, [&](const TileWalk& walk, std::int64_t ow) {
        for (std::int64_t kw = 0; kw < s.kw; ++kw) {
          std::map<int, const TileTap*> read;
          for (const TileTap& tap : walk.taps[kw]) read[tap.column] = &tap;
          for (int column = 0; column < walk.columns; ++column) {
            std::uint32_t wanted = 0;
            const auto outputs = output_columns(p, ow, column, walk.tile.width);
            for (std::size_t lane = 0; lane < outputs.size(); ++lane)
              if (inside(s, input_column_of(s, outputs[lane], kw))) wanted |= 1u << lane;
            const auto it = read.find(column);
            if (wanted == 0) {
              BOOST_TEST((it == read.end()), p.name << " column " << column << " kw " << kw);
              continue;
            }
            BOOST_REQUIRE_MESSAGE(it != read.end(), p.name << " drops column " << column);
            if (p.strategy == Strategy::width_vectors)
              BOOST_TEST(it->second->lanes == wanted, p.name << " column " << column);
          }
        }
      });
    }
  }
}

BOOST_AUTO_TEST_CASE(tap_offsets_point_at_the_input_column_the_tap_reads) {
  // nhwc, c = 5: one input column is 20 bytes.
  const KernelPlan p = plan_of("c=5,h=9,w=11,oc=8,k=3,s=2,d=2,p=same");
  const KernelSchedule k = make_schedule(p);
  const ConvShape& s = p.shape;
  for (const TileWalk& walk : k.tiles)
    for (std::int64_t kw = 0; kw < s.kw; ++kw)
      for (const TileTap& tap : walk.taps[kw]) {
        // Looped tiles address from their own pointer, which sits at column ow_begin * sw.
        const std::int64_t base = walk.looped() ? walk.tile.ow_begin * s.sw : 0;
        const std::int64_t iw = input_column_of(s, walk.tile.ow_begin + tap.column, kw);
        BOOST_TEST(tap.src_offset == (iw - base) * s.c * 4);
      }
}

BOOST_AUTO_TEST_CASE(padding_columns_drop_the_first_kernel_column_of_the_first_pixel) {
  const KernelSchedule k = make_schedule(plan_of("c=8,h=8,w=8,oc=8,k=3,p=1"));
  const std::vector<TileTap>& first = k.tiles.front().taps[0];
  BOOST_REQUIRE(!first.empty());
  BOOST_TEST(first.front().column == 1);  // column 0 would read input column -1
  BOOST_TEST(k.tiles.front().taps[1].front().column == 0);
}

BOOST_AUTO_TEST_CASE(oc_vectors_broadcast_inputs_and_depthwise_loads_whole_vectors) {
  BOOST_TEST((make_schedule(plan_of("c=16,h=8,w=8,oc=16,k=3")).tiles[0].taps[0][0].load ==
              InputLoad::broadcast));
  BOOST_TEST((make_schedule(plan_of("c=16,h=8,w=8,oc=16,g=16,k=3")).tiles[0].taps[0][0].load ==
              InputLoad::vector));
}

BOOST_AUTO_TEST_CASE(width_vectors_gather_with_stride_and_mask_partial_vectors_without) {
  const KernelSchedule strided = make_schedule(plan_of("c=2,h=20,w=20,oc=3,k=3,s=2,layout=nchw"));
  for (const TileWalk& walk : strided.tiles)
    for (const auto& at_kw : walk.taps)
      for (const TileTap& tap : at_kw) BOOST_TEST((tap.load == InputLoad::gather));

  // 13 output columns: the second vector holds 5, so every tap of it is masked.
  const KernelPlan p = plan_of("c=2,h=15,w=15,oc=3,k=3,layout=nchw");
  const KernelSchedule k = make_schedule(p);
  bool saw_masked = false;
  for (const TileWalk& walk : k.tiles)
    for (const auto& at_kw : walk.taps)
      for (const TileTap& tap : at_kw) {
        BOOST_TEST((tap.load != InputLoad::gather));
        BOOST_TEST((tap.load == InputLoad::vector) == (tap.lanes == p.all_lanes()));
        saw_masked |= tap.load == InputLoad::masked;
      }
  BOOST_TEST(saw_masked);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(stores)

BOOST_AUTO_TEST_CASE(stores_write_every_output_column_exactly_once) {
  std::mt19937_64 rng(22);
  for (int i = 0; i < 400; ++i) {
    const ConvShape s = testing::random_shape(rng);
    const KernelPlan p = make_direct_plan(s, i % 2 ? Isa::avx512 : Isa::avx2);
    const KernelSchedule k = make_schedule(p);
    std::vector<int> writes(static_cast<std::size_t>(s.out_w), 0);
    const std::int64_t column_bytes = k.geometry.dst_column;
    for_each_tile_instance(k, [&](const TileWalk& walk, std::int64_t ow) {
      for (const TileStore& st : walk.stores) {
        const std::int64_t base = walk.looped() ? walk.tile.ow_begin : 0;
        const std::int64_t first = st.dst_offset / column_bytes + (ow - walk.tile.ow_begin) + base;
        const int lanes = p.strategy == Strategy::width_vectors ? p.lanes : 1;
        for (int lane = 0; lane < lanes; ++lane) {
          const bool stored = p.strategy != Strategy::width_vectors || (st.store.lanes >> lane & 1u);
          if (!stored) continue;
          const std::int64_t column = first + lane;
          BOOST_REQUIRE_MESSAGE(column >= 0 && column < s.out_w, p.name << " stores column " << column);
          ++writes[static_cast<std::size_t>(column)];
        }
      }
    });
    for (int w : writes) BOOST_TEST(w == 1, p.name);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(loops)

BOOST_AUTO_TEST_CASE(channel_tiles_are_numbered_group_major_in_emission_order) {
  for (const char* spec : {"c=8,h=8,w=8,oc=20,k=3", "c=8,h=8,w=8,oc=64,k=3,g=2",
                           "c=8,h=8,w=8,oc=5,k=3", "c=12,h=8,w=8,oc=24,k=3,g=3,layout=nchw"}) {
    const KernelSchedule k = make_schedule(plan_of(spec));
    std::int64_t expected = 0;
    for (std::int64_t g = 0; g < k.groups; ++g)
      for (const ChannelTileRun& run : k.channel_runs)
        for (std::int64_t t = 0; t < run.count; ++t) BOOST_TEST(k.tile_index(g, run, t) == expected++, spec);
    BOOST_TEST(expected == k.tile_count(), spec);
  }
}

BOOST_AUTO_TEST_CASE(channel_runs_start_where_the_previous_run_ends) {
  const KernelPlan p = plan_of("c=8,h=8,w=8,oc=36,k=3", Isa::avx512);  // 3 blocks of 16
  const KernelSchedule k = make_schedule(p);
  std::int64_t block = 0;
  for (const ChannelTileRun& run : k.channel_runs) {
    BOOST_TEST(run.first_block == block);
    block += run.count * run.blocks;
  }
  BOOST_TEST(block == 3);
  BOOST_TEST(k.channel_runs.back().has_tail);
}

BOOST_AUTO_TEST_CASE(a_looped_reduction_over_several_row_segments_shares_one_row_body) {
  const KernelSchedule resnet = make_schedule(plan_of("c=64,h=56,w=56,oc=64,k=3,p=1"));
  BOOST_TEST(!resnet.reduction_unrolled);
  BOOST_TEST(resnet.shared_row_body);
  BOOST_TEST(resnet.row_passes.size() == 3u);  // top, middle, bottom

  const KernelSchedule valid = make_schedule(plan_of("c=64,h=30,w=30,oc=64,k=3"));
  BOOST_TEST(!valid.shared_row_body);  // one segment: nothing to share
}

BOOST_AUTO_TEST_CASE(tiny_shapes_emit_each_row_as_constant_straight_line_code) {
  const KernelSchedule k = make_schedule(plan_of("c=1,h=8,w=8,oc=1,k=3,p=same"));
  BOOST_TEST(k.row_passes.size() == 8u);
  for (std::size_t oh = 0; oh < k.row_passes.size(); ++oh) {
    BOOST_TEST(k.row_passes[oh].constant_row);
    BOOST_TEST(k.row_passes[oh].rows.oh_begin == static_cast<std::int64_t>(oh));
  }
  BOOST_TEST(k.row_passes.front().kernel_rows() == 2);  // the top kernel row is padding
}

BOOST_AUTO_TEST_CASE(one_row_segments_are_constant_rows_and_longer_ones_loops) {
  const KernelSchedule k = make_schedule(plan_of("c=64,h=56,w=56,oc=64,k=3,p=1"));
  for (const RowPass& pass : k.row_passes)
    BOOST_TEST(pass.constant_row == (pass.rows.oh_end - pass.rows.oh_begin == 1));
}

BOOST_AUTO_TEST_CASE(the_unrolled_reduction_visits_each_weight_of_its_rows_once) {
  const KernelPlan p = plan_of("c=3,h=12,w=12,oc=8,k=3,p=1");
  const KernelSchedule k = make_schedule(p);
  BOOST_REQUIRE(k.reduction_unrolled);
  for (const RowPass& pass : k.row_passes) {
    const auto steps = k.unrolled_steps(pass);
    BOOST_TEST(steps.size() == static_cast<std::size_t>(pass.kernel_rows() * 3 * 3));
    std::set<std::int64_t> weights;
    for (const ReductionStep& step : steps) weights.insert(step.wei_offset);
    BOOST_TEST(weights.size() == steps.size());
    // The pass's first kernel row comes first: rows above it lie in padding.
    BOOST_TEST(*weights.begin() == pass.rows.kh_begin * 3 * 3 * 8 * 4);
  }
}

BOOST_AUTO_TEST_CASE(the_looped_reduction_body_covers_every_kernel_column_per_channel_step) {
  const KernelPlan p = plan_of("c=256,h=14,w=14,oc=256,k=3,p=1");
  const KernelSchedule k = make_schedule(p);
  BOOST_REQUIRE(!k.reduction_unrolled);
  BOOST_TEST(k.looped.body.size() == static_cast<std::size_t>(3 * p.ic_unroll));
  BOOST_TEST(k.looped.ic_steps * p.ic_unroll == 256);
  // After ic_steps advances and the row step the pointers sit one kernel row further down.
  const std::int64_t input_row_bytes = 14 * 256 * 4;
  BOOST_TEST(k.looped.ic_steps * k.looped.src_advance + k.looped.src_next_row == input_row_bytes);
}

BOOST_AUTO_TEST_CASE(depthwise_held_inputs_are_each_tap_once_grouped_by_the_input_they_read) {
  std::mt19937_64 rng(33);
  int depthwise = 0;
  for (int i = 0; i < 600; ++i) {
    const ConvShape s = testing::random_shape(rng);
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
      const KernelPlan p = make_direct_plan(s, isa);
      if (p.strategy != Strategy::depthwise) continue;
      ++depthwise;
      const KernelSchedule k = make_schedule(p);
      for (const TileWalk& walk : k.tiles) {
        BOOST_REQUIRE(walk.held_inputs.size() ==
                      static_cast<std::size_t>((s.kw + p.kernel_columns - 1) / p.kernel_columns));
        std::multiset<std::pair<int, std::int64_t>> taps, held;
        for (std::int64_t kw = 0; kw < s.kw; ++kw)
          for (const TileTap& tap : walk.taps[kw]) taps.insert({tap.column, kw});
        for (std::size_t run = 0; run < walk.held_inputs.size(); ++run) {
          std::set<std::int64_t> offsets;
          for (const HeldInput& input : walk.held_inputs[run]) {
            BOOST_TEST(offsets.insert(input.src_offset).second, "an input loaded twice in one run");
            for (const HeldInputUse& use : input.uses) {
              held.insert({use.column, use.kw});
              BOOST_TEST(use.kw / p.kernel_columns == static_cast<std::int64_t>(run));
              // The use's own tap reads this input.
              bool found = false;
              for (const TileTap& tap : walk.taps[use.kw])
                found = found || (tap.column == use.column && tap.src_offset == input.src_offset);
              BOOST_TEST(found, s.to_string() << " column " << use.column << " kw " << use.kw);
            }
          }
        }
        BOOST_TEST((held == taps), s.to_string());
      }
    }
  }
  BOOST_TEST(depthwise > 20);
}

BOOST_AUTO_TEST_CASE(a_depthwise_step_stands_for_the_kernel_columns_its_tile_holds) {
  const KernelPlan p = plan_of("c=48,h=20,w=20,oc=48,g=48,k=5,p=2", Isa::avx512);
  const KernelSchedule k = make_schedule(p);
  BOOST_REQUIRE(k.reduction_unrolled);
  BOOST_TEST(p.kernel_columns == 5);  // five kernel columns' weights fit beside the tile
  for (const RowPass& pass : k.row_passes)
    for (const ReductionStep& step : k.unrolled_steps(pass)) {
      BOOST_TEST(step.kw == 0);
      BOOST_TEST(step.kernel_columns == 5);
    }
  // A stride-1 row of u columns over 5 kernel columns reads the u + 4 pixels from 2 before its
  // first to 2 past its last, those inside the image: never 5u loads.
  for (const TileWalk& walk : k.tiles) {
    const std::int64_t first = std::max<std::int64_t>(walk.tile.ow_begin - 2, 0);
    const std::int64_t last = std::min<std::int64_t>(walk.tile.ow_begin + walk.tile.width + 1, 19);
    BOOST_TEST(walk.held_inputs[0].size() == static_cast<std::size_t>(last - first + 1));
  }
}

BOOST_AUTO_TEST_CASE(at_stride_two_neighbouring_pixels_share_every_other_input) {
  for (const Isa isa : {Isa::avx2, Isa::avx512}) {
    const KernelPlan p = plan_of("c=144,h=56,w=56,oc=144,g=144,k=3,s=2,p=1", isa);
    BOOST_REQUIRE(p.kernel_columns == 3);
    const KernelSchedule k = make_schedule(p);
    BOOST_TEST(k.registers.weights == 3 * p.oc_tile);
    // u pixels read input columns 2·ow − 1 ... 2·ow_last + 1 (those inside the image), each
    // once; the even-offset ones between two pixels serve both of them.
    for (const TileWalk& walk : k.tiles) {
      const std::int64_t first = std::max<std::int64_t>(2 * walk.tile.ow_begin - 1, 0);
      const std::int64_t last = std::min<std::int64_t>(2 * (walk.tile.ow_begin + walk.tile.width - 1) + 1, 55);
      BOOST_TEST(walk.held_inputs[0].size() == static_cast<std::size_t>(last - first + 1), to_string(isa));
      std::size_t shared = 0;
      for (const HeldInput& input : walk.held_inputs[0]) shared += input.uses.size() == 2;
      BOOST_TEST(shared == static_cast<std::size_t>(walk.columns - 1), to_string(isa));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_kernel_too_wide_to_hold_is_held_in_runs_of_columns) {
  const KernelPlan p = plan_of("c=40,h=40,w=40,oc=40,g=40,k=15,p=7", Isa::avx2);
  BOOST_TEST(p.kernel_columns > 1);
  BOOST_TEST(p.kernel_columns < 15);
  BOOST_TEST(p.name.find("_kc" + std::to_string(p.kernel_columns)) != std::string::npos);
  const KernelSchedule k = make_schedule(p);
  const RegisterBudget& b = k.registers;
  BOOST_TEST(b.weights == p.oc_tile * p.kernel_columns);
  BOOST_TEST(b.total() <= 16);
  std::int64_t covered = 0;
  for (const ReductionStep& step : k.unrolled_steps(k.row_passes.front())) {
    if (step.src_offset != 0) break;  // the pass's first kernel row
    BOOST_TEST(step.kw == covered);
    covered += step.kernel_columns;
  }
  BOOST_TEST(covered == 15);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(registers)

BOOST_AUTO_TEST_CASE(an_oc_vector_tile_takes_accumulators_weights_and_one_broadcast) {
  const KernelPlan p = plan_of("c=64,h=56,w=56,oc=64,k=3,p=1", Isa::avx2);
  const RegisterBudget b = make_schedule(p).registers;
  BOOST_TEST(b.accumulators == p.ur_w * p.oc_tile);
  BOOST_TEST(b.weights == p.oc_tile);
  BOOST_TEST(b.broadcast == 1);
  BOOST_TEST(b.mask_in_broadcast);  // avx2 tail stores reuse it
  BOOST_TEST(b.total() == b.accumulators + b.weights + 1);
  BOOST_TEST(b.total() <= 16);
}

BOOST_AUTO_TEST_CASE(opmasks_free_the_vector_lane_mask) {
  const char* depthwise = "c=20,h=10,w=10,oc=20,g=20,k=3";
  BOOST_TEST(make_schedule(plan_of(depthwise, Isa::avx2)).registers.lane_mask == 1);
  BOOST_TEST(make_schedule(plan_of(depthwise, Isa::avx512)).registers.lane_mask == 0);
}

BOOST_AUTO_TEST_CASE(only_strided_width_vectors_hold_gather_offsets) {
  BOOST_TEST(make_schedule(plan_of("c=2,h=20,w=20,oc=3,k=3,s=2,layout=nchw")).registers.gather_index == 1);
  BOOST_TEST(make_schedule(plan_of("c=2,h=20,w=20,oc=3,k=3,layout=nchw")).registers.gather_index == 0);
}

BOOST_AUTO_TEST_CASE(the_direct_epilogue_adds_the_residual_and_leaves_the_bias_to_the_sums) {
  const TileEpilogue e = make_schedule(plan_of("c=8,h=9,w=9,oc=8,k=3,add=1,act=relu")).epilogue;
  BOOST_TEST(!e.add_bias);
  BOOST_TEST(e.add_residual);
  BOOST_TEST(e.activation.size() == 1u);
  BOOST_TEST(e.temporaries == 0);
  const TileEpilogue plain = make_schedule(plan_of("c=8,h=9,w=9,oc=8,k=3")).epilogue;
  BOOST_TEST(!plain.add_residual);
  BOOST_TEST(plain.activation.empty());
}

BOOST_AUTO_TEST_CASE(the_winograd_epilogue_adds_the_bias_only_when_the_shape_has_one) {
  auto epilogue = [](const char* spec) {
    return make_winograd_schedule(make_winograd_plan(ConvSpec::parse(spec).resolve(), Isa::avx2, 4)).epilogue;
  };
  BOOST_TEST(epilogue("c=8,h=12,w=12,oc=8,k=3,p=1").add_bias);
  BOOST_TEST(!epilogue("c=8,h=12,w=12,oc=8,k=3,p=1,bias=0").add_bias);
  BOOST_TEST(epilogue("c=8,h=12,w=12,oc=8,k=3,p=1,act=silu").temporaries == 3);
}

BOOST_AUTO_TEST_CASE(epilogue_temporaries_come_from_the_reductions_registers_before_extra_ones) {
  // 64 channels at avx2: a tile of weights and a broadcast (holding the tail mask only when
  // there is a tail); silu's three temporaries fit in what the reduction frees, or the budget
  // reserves the rest, and never leaves the sixteen registers.
  for (const char* spec : {"c=64,h=56,w=56,oc=64,k=3,p=1,act=silu", "c=5,h=9,w=30,oc=3,k=3,act=silu",
                           "c=20,h=10,w=10,oc=20,g=20,k=3,act=sigmoid", "c=2,h=20,w=20,oc=3,k=3,s=2,layout=nchw,act=silu"}) {
    const KernelPlan p = plan_of(spec, Isa::avx2);
    const RegisterBudget b = make_schedule(p).registers;
    BOOST_TEST(b.free_at_store() >= 3, spec);
    BOOST_TEST(b.total() <= 16, spec);
  }
  const RegisterBudget relu = make_schedule(plan_of("c=64,h=56,w=56,oc=64,k=3,p=1,act=relu")).registers;
  BOOST_TEST(relu.epilogue == 0);
}

// ------------------------------------------------------------------ 8-bit input

BOOST_AUTO_TEST_CASE(every_tap_an_8bit_tile_leaves_out_is_a_padding_tap_and_no_other) {
  // Padding on every side, stride 2 and dilation: each output pixel's kh × kw taps are either
  // read (in the row pass's kernel rows and the walk's taps) or listed once as padding taps.
  for (const char* spec : {"c=8,h=9,w=11,oc=16,k=5,s=2,d=2,p=4,src=u8",
                           "c=24,h=7,w=7,oc=24,k=3,p=1,g=24,src=s8,dst=s32"}) {
    const KernelPlan p = plan_of(spec, Isa::avx512);
    const KernelSchedule k = make_schedule(p);
    BOOST_TEST(k.compensates_padding);
    BOOST_TEST(!k.shared_row_body);
    const ConvShape& s = p.shape;
    for (const RowPass& pass : k.row_passes)
      for (const TileWalk& walk : k.tiles) {
        std::map<std::pair<int, std::int64_t>, int> counted;  // (column, kh·kw + kw) -> times
        for (const PaddingTap& tap : k.padding_taps(pass, walk)) ++counted[{tap.column, tap.kh * s.kw + tap.kw}];
        for (std::int64_t kh = pass.rows.kh_begin; kh < pass.rows.kh_end; ++kh)
          for (std::int64_t kw = 0; kw < s.kw; ++kw)
            for (const TileTap& tap : walk.taps[static_cast<std::size_t>(kw)]) ++counted[{tap.column, kh * s.kw + kw}];
        BOOST_TEST(counted.size() == static_cast<std::size_t>(walk.columns * s.kh * s.kw), spec);
        for (const auto& [tap, times] : counted) BOOST_TEST(times == 1, spec);
      }
  }
}

BOOST_AUTO_TEST_CASE(a_partial_group_of_four_channels_is_the_last_step_of_each_kernel_column) {
  // 13 channels: three whole quads, then one of 1 channel, unrolled...
  const KernelSchedule unrolled = make_schedule(plan_of("c=13,h=6,w=6,oc=8,k=3,p=1,src=u8", Isa::avx512));
  BOOST_TEST_REQUIRE(unrolled.reduction_unrolled);
  const std::vector<ReductionStep> steps = unrolled.unrolled_steps(unrolled.row_passes.front());
  for (std::size_t i = 0; i < steps.size(); ++i) BOOST_TEST(steps[i].partial_channels == (i % 4 == 3 ? 1 : 0));
  // ...and after the channel loop when it is looped.
  const KernelSchedule looped = make_schedule(plan_of("c=1027,h=6,w=6,oc=64,k=3,p=1,src=u8", Isa::avx512));
  BOOST_TEST_REQUIRE(!looped.reduction_unrolled);
  BOOST_TEST(looped.looped.row_tail.size() == 3u);
  for (const ReductionStep& step : looped.looped.row_tail) BOOST_TEST(step.partial_channels == 3);
  BOOST_TEST(looped.looped.ic_steps * static_cast<std::int64_t>(looped.looped.body.size() / 3) == 256);
}

BOOST_AUTO_TEST_SUITE_END()
