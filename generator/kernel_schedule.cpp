#include "generator/kernel_schedule.hpp"

#include <algorithm>
#include <map>

namespace convjit {
namespace {

// The step of the run of `held` kernel columns starting at kw (fewer at the kernel row's end).
ReductionStep held_step(std::int64_t kw, std::int64_t src_offset, std::int64_t wei_offset, int held,
                        std::int64_t kernel_width) {
  return {kw, src_offset, wei_offset, static_cast<int>(std::min<std::int64_t>(held, kernel_width - kw)),
          static_cast<int>(kw / held)};
}

std::vector<ChannelTileRun> make_channel_runs(const KernelPlan& p) {
  const std::int64_t blocks = p.oc_blocks;
  const int t = p.oc_tile;
  const bool partial = p.strategy != Strategy::width_vectors && p.oc_tail_lanes < p.lanes;
  const std::int64_t whole = blocks / t;
  const int rest = static_cast<int>(blocks % t);
  std::vector<ChannelTileRun> runs;
  if (rest > 0) {
    if (whole > 0) runs.push_back({whole, t, false});
    runs.push_back({1, rest, partial});
  } else if (partial) {
    if (whole > 1) runs.push_back({whole - 1, t, false});
    runs.push_back({1, t, true});
  } else {
    runs.push_back({whole, t, false});
  }
  std::int64_t tiles = 0, first_block = 0;
  for (ChannelTileRun& run : runs) {
    run.first_tile = tiles;
    run.first_block = first_block;
    tiles += run.count;
    first_block += run.count * run.blocks;
  }
  return runs;
}

// Tiny shapes emit every row on its own; the others a pass per row segment. One-row passes
// need no loop.
std::vector<RowPass> make_row_passes(const KernelPlan& p) {
  std::vector<RowPass> passes;
  for (const RowSegment& segment : p.rows) {
    if (p.unroll_rows) {
      for (std::int64_t oh = segment.oh_begin; oh < segment.oh_end; ++oh)
        passes.push_back({{oh, oh + 1, segment.kh_begin, segment.kh_end}, true});
    } else {
      passes.push_back({segment, segment.oh_end - segment.oh_begin == 1});
    }
  }
  return passes;
}

std::vector<TileTap> width_vector_taps(const KernelPlan& p, const TileGeometry& g,
                                       const TileWalk& walk, std::int64_t origin,
                                       std::int64_t kw) {
  const ConvShape& s = p.shape;
  std::vector<TileTap> taps;
  for (int v = 0; v < walk.columns; ++v) {
    const std::uint32_t lanes = width_lane_mask(p, walk.tile.ow_begin, walk.tile.width, v, kw);
    if (lanes == 0) continue;  // every lane's tap lies in padding
    const InputLoad load = s.sw > 1                ? InputLoad::gather
                           : lanes == p.all_lanes() ? InputLoad::vector
                                                    : InputLoad::masked;
    taps.push_back({v, g.input_column_offset(s, origin + v * p.lanes, kw), lanes, load});
  }
  return taps;
}

std::vector<TileTap> channel_vector_taps(const KernelPlan& p, const TileGeometry& g,
                                         const TileWalk& walk, std::int64_t origin,
                                         std::int64_t kw) {
  const ConvShape& s = p.shape;
  const InputLoad load = p.strategy != Strategy::oc_vectors ? InputLoad::vector
                         : s.quantized()                    ? InputLoad::broadcast_quad
                                                            : InputLoad::broadcast;
  std::vector<TileTap> taps;
  for (int j = 0; j < walk.columns; ++j) {
    // Looped tiles have every tap in bounds by construction (plan.cpp's steady runs).
    if (!walk.looped() && !column_tap_in_bounds(s, walk.tile.ow_begin + j, kw)) continue;
    taps.push_back({j, g.input_column_offset(s, origin + j, kw), p.all_lanes(), load});
  }
  return taps;
}

// The taps of each run of `held` kernel columns, grouped by input (TileWalk::held_inputs).
std::vector<std::vector<HeldInput>> held_inputs(const TileWalk& walk, int held) {
  std::vector<std::vector<HeldInput>> runs;
  const auto kernel_width = static_cast<std::int64_t>(walk.taps.size());
  for (std::int64_t first = 0; first < kernel_width; first += held) {
    std::map<std::int64_t, std::vector<HeldInputUse>> by_input;
    for (std::int64_t kw = first; kw < std::min<std::int64_t>(first + held, kernel_width); ++kw)
      for (const TileTap& tap : walk.taps[kw]) by_input[tap.src_offset].push_back({tap.column, kw});
    std::vector<HeldInput>& run = runs.emplace_back();
    for (auto& [offset, uses] : by_input) run.push_back({offset, std::move(uses)});
  }
  return runs;
}

std::vector<TileStore> tile_stores(const KernelPlan& p, const TileGeometry& g,
                                   const TileWalk& walk, std::int64_t origin) {
  std::vector<TileStore> stores;
  const bool width = p.strategy == Strategy::width_vectors;
  for (int j = 0; j < walk.columns; ++j) {
    const std::int64_t column = origin + (width ? j * p.lanes : j);
    const std::uint32_t lanes = width ? width_store_mask(p, walk.tile.width, j) : p.all_lanes();
    stores.push_back({j, column * g.dst_column, make_vector_store(p.isa, p.lanes, lanes)});
  }
  return stores;
}

TileWalk make_tile_walk(const KernelPlan& p, const TileGeometry& g, const ColumnTile& tile) {
  TileWalk walk;
  walk.tile = tile;
  walk.columns = tile_columns(p, tile.width);
  // Offsets inside a looped tile are relative to its own pointers, which start at column
  // ow_begin; the others are relative to the row.
  std::int64_t origin = tile.ow_begin;
  if (walk.looped()) {
    walk.src_offset = tile.ow_begin * g.src_column;
    walk.dst_offset = tile.ow_begin * g.dst_column;
    walk.src_step = tile.width * g.src_column;
    walk.dst_step = tile.width * g.dst_column;
    origin = 0;
  }
  for (std::int64_t kw = 0; kw < p.shape.kw; ++kw)
    walk.taps.push_back(p.strategy == Strategy::width_vectors
                            ? width_vector_taps(p, g, walk, origin, kw)
                            : channel_vector_taps(p, g, walk, origin, kw));
  if (p.strategy == Strategy::depthwise) walk.held_inputs = held_inputs(walk, p.kernel_columns);
  walk.stores = tile_stores(p, g, walk, origin);
  return walk;
}

LoopedReduction make_looped_reduction(const KernelPlan& p, const TileGeometry& g) {
  LoopedReduction r;
  const std::int64_t step = p.ic_unroll;
  r.ic_steps = p.ic_per_pass / step;
  for (std::int64_t kw = 0; kw < p.shape.kw; kw += p.kernel_columns)
    for (std::int64_t ic = 0; ic < step; ++ic)
      r.body.push_back(held_step(kw, ic * g.src_ic, kw * g.wei_kw + ic * g.wei_ic, p.kernel_columns,
                                 p.shape.kw));
  // A partial last group of four input channels, after the loop, for each kernel column.
  if (g.tail_channels > 0)
    for (std::int64_t kw = 0; kw < p.shape.kw; ++kw) {
      ReductionStep tail = held_step(kw, 0, kw * g.wei_kw, 1, p.shape.kw);
      tail.partial_channels = g.tail_channels;
      r.row_tail.push_back(tail);
    }
  r.src_advance = step * g.src_ic;
  r.wei_advance = step * g.wei_ic;
  r.src_row = g.src_kh;
  r.wei_row = g.wei_kh;
  r.src_next_row = g.src_kh - p.ic_per_pass * g.src_ic;
  r.wei_next_row = g.wei_kh - p.ic_per_pass * g.wei_ic;
  return r;
}

std::vector<ReductionPass> make_reduction_passes(const KernelPlan& p, const TileGeometry& g) {
  std::vector<ReductionPass> passes;
  for (std::int64_t i = 0; i < p.ic_passes; ++i) {
    const std::int64_t first_channel = i * p.ic_per_pass;
    passes.push_back({first_channel * g.src_ic, first_channel * g.wei_ic, i > 0, i + 1 == p.ic_passes});
  }
  return passes;
}

BiasLoad bias_load(const KernelPlan& p) {
  // 8-bit bias parts always hold the input zero point's compensation.
  if (!p.shape.bias && !p.shape.quantized()) return BiasLoad::zero;
  return p.strategy == Strategy::width_vectors ? BiasLoad::broadcast : BiasLoad::vector;
}

}  // namespace

std::vector<ReductionStep> KernelSchedule::unrolled_steps(const RowPass& pass) const {
  const TileGeometry& g = geometry;
  const std::int64_t groups_of_channels = g.reduction_ic + (g.tail_channels > 0 ? 1 : 0);
  std::vector<ReductionStep> steps;
  for (std::int64_t r = 0; r < pass.kernel_rows(); ++r)
    for (std::int64_t kw = 0; kw < kernel_width; kw += held_columns)
      for (std::int64_t ic = 0; ic < groups_of_channels; ++ic) {
        ReductionStep& step = steps.emplace_back(
            held_step(kw, r * g.src_kh + ic * g.src_ic,
                      (pass.rows.kh_begin + r) * g.wei_kh + kw * g.wei_kw + ic * g.wei_ic,
                      held_columns, kernel_width));
        if (ic == g.reduction_ic) step.partial_channels = g.tail_channels;
      }
  return steps;
}

std::vector<PaddingTap> KernelSchedule::padding_taps(const RowPass& pass, const TileWalk& walk) const {
  std::vector<PaddingTap> taps;
  if (!compensates_padding) return taps;
  for (std::int64_t kh = 0; kh < kernel_height; ++kh) {
    const bool row_in_bounds = pass.rows.kh_begin <= kh && kh < pass.rows.kh_end;
    for (std::int64_t kw = 0; kw < kernel_width; ++kw)
      for (int column = 0; column < walk.columns; ++column) {
        const std::vector<TileTap>& in_bounds = walk.taps[static_cast<std::size_t>(kw)];
        const bool tap_in_bounds =
            row_in_bounds && std::any_of(in_bounds.begin(), in_bounds.end(),
                                         [&](const TileTap& t) { return t.column == column; });
        if (!tap_in_bounds) taps.push_back({column, kh, kw});
      }
  }
  return taps;
}

std::int64_t KernelSchedule::padding_tap_offset(const PaddingTap& tap) const {
  return first_tap_part + (tap.kh * kernel_width + tap.kw) * geometry.channel_part;
}

KernelSchedule make_schedule(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  KernelSchedule k;
  k.geometry = make_tile_geometry(p);
  k.registers = register_budget(p.strategy, p.ur_w, p.oc_tile, p.uses_opmasks(), s.sw > 1,
                                epilogue_temporaries(s), p.kernel_columns, p.product);
  k.groups = k.geometry.groups_looped;
  k.channel_runs = make_channel_runs(p);
  k.tiles_per_group = channel_tiles_per_group(p);
  k.row_passes = make_row_passes(p);
  k.reduction_unrolled = p.unroll_kh;
  // 8-bit row passes differ in their padding taps too, which are constants of each pass's body.
  k.shared_row_body = !p.unroll_kh && !p.unroll_rows && p.rows.size() > 1 && !s.quantized();
  for (const RowSegment& r : p.rows) k.has_rows_without_taps |= r.kh_end == r.kh_begin;
  for (const ColumnTile& tile : p.columns) k.tiles.push_back(make_tile_walk(p, k.geometry, tile));
  k.bias = bias_load(p);
  k.channel_tail = make_vector_store(p.isa, p.lanes, first_lanes(p.oc_tail_lanes, p.lanes));
  k.epilogue = make_tile_epilogue(s, false);
  k.epilogue.channel_part = k.geometry.channel_part;
  if (!k.reduction_unrolled) k.looped = make_looped_reduction(p, k.geometry);
  k.reduction_passes = make_reduction_passes(p, k.geometry);
  k.kernel_width = s.kw;
  k.held_columns = p.kernel_columns;
  k.src_row_step = s.sh * k.geometry.src_row;
  k.src_row_origin = -s.pad_top * k.geometry.src_row;
  k.kernel_height = s.kh;
  k.compensates_padding = s.quantized();
  k.signed_input = s.src_type == DataType::s8;
  k.flip_input_sign = k.signed_input && p.strategy == Strategy::oc_vectors;
  k.product = p.product;
  k.first_tap_part = first_tap_part * k.geometry.channel_part;
  return k;
}

}  // namespace convjit
