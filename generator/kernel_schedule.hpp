#pragma once
// KernelSchedule: the one walk of a plan that every emitter translates. The plan says what
// the kernel is (strategy, tile, blocking, what is unrolled); the schedule spells out the
// loop nest that follows from it: channel tiles and their numbering, which row passes exist
// and whether they share one row body, the column tiles of a row with each tap's input
// offset, lane mask and load kind and each store's offset and lanes, the reduction's steps,
// and the register budget. The Xbyak and LLVM emitters turn each piece into instructions and
// decide nothing; tests check the schedule without running code.
#include "generator/plan.hpp"
#include "generator/register_budget.hpp"
#include "generator/tile_epilogue.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/vector_store.hpp"

#include <cstdint>
#include <vector>

namespace convjit {

// The channel tiles of one group, in emission order: `count` tiles of `blocks` channel blocks
// each; a tile holding the last, partial channel block has `has_tail` (masked loads/stores).
struct ChannelTileRun {
  std::int64_t count = 0;
  int blocks = 0;
  bool has_tail = false;
  std::int64_t first_tile = 0;   // index of the run's first tile within its group
  std::int64_t first_block = 0;  // its first channel block within the group
};

// How a tap's input reaches a vector register.
enum class InputLoad : std::uint8_t {
  broadcast,  // oc vectors: one input value into every lane
  vector,     // a whole vector (width vectors with every lane in bounds; depthwise taps,
              // which the emitters read through TileWalk::held_inputs)
  masked,     // width vectors, stride 1: only `lanes`, the others zero
  gather,     // width vectors, stride > 1: `lanes` gathered `sw` floats apart
  broadcast_quad,  // 8-bit oc vectors: four input channels' bytes into every 32-bit lane,
                   // summed by a 4-way dot product (vpdpbusd) against the packed weights
};

// How a tile's accumulators start.
enum class BiasLoad : std::uint8_t { zero, broadcast, vector };

// One input of a tile at one kernel column: accumulator column `column` reads it.
struct TileTap {
  int column = 0;
  std::int64_t src_offset = 0;  // bytes from the tile's input pointer
  std::uint32_t lanes = 0;      // lanes read (width vectors); every lane otherwise
  InputLoad load = InputLoad::vector;
  bool operator==(const TileTap&) const = default;
};

// One accumulator column's store. Channel block b adds b × dst_block bytes; the last block of
// a run with has_tail stores KernelSchedule::channel_tail instead (store_of() picks).
struct TileStore {
  int column = 0;
  std::int64_t dst_offset = 0;  // bytes from the tile's output pointer
  VectorStore store;            // the lanes stored (width vectors: a row's last columns), and how
  bool operator==(const TileStore&) const = default;
};

// Depthwise: one input vector of a kernel row (per channel block, src_block apart), loaded
// once; each use adds it, times the weights of kernel column `kw`, to accumulator `column`.
struct HeldInputUse {
  int column = 0;
  std::int64_t kw = 0;
  bool operator==(const HeldInputUse&) const = default;
};
struct HeldInput {
  std::int64_t src_offset = 0;  // bytes from the tile's input pointer, like TileTap's
  std::vector<HeldInputUse> uses;
  bool operator==(const HeldInput&) const = default;
};

// One column tile of an output row. Looped tiles (repeat > 1) get their own input and output
// pointers, starting `src_offset`/`dst_offset` bytes into the row and moving `src_step` /
// `dst_step` per repetition; the others address straight from the row pointers.
struct TileWalk {
  ColumnTile tile;
  int columns = 1;  // accumulator columns: output pixels, or vectors of output columns
  std::int64_t src_offset = 0, dst_offset = 0;
  std::int64_t src_step = 0, dst_step = 0;
  std::vector<std::vector<TileTap>> taps;  // [kw]; empty where every tap lies in padding
  // Depthwise: the taps of each run of KernelPlan::kernel_columns kernel columns
  // ([kw / kernel_columns]), grouped by the input they read, in address order.
  std::vector<std::vector<HeldInput>> held_inputs;
  std::vector<TileStore> stores;
  bool looped() const { return tile.repeat > 1; }
};

// One (kernel row, kernel column, input channel) step of a tile's reduction: the taps at
// kernel column kw, `src_offset` bytes past the tile's input pointer, with the weights
// `wei_offset` bytes past the channel tile's weights (or the looped reduction's pointer).
// Depthwise steps stand for `kernel_columns` kernel columns from kw on, whose weights lie
// wei_kw bytes apart: the tile holds their weights and loads each input of the walk's
// held_inputs[held_run] once for all of them.
// 8-bit steps read four input channels; `partial_channels` (1-3) marks a last group with
// fewer, whose bytes past them must not be read (they may lie past the input's end).
struct ReductionStep {
  std::int64_t kw = 0;
  std::int64_t src_offset = 0;
  std::int64_t wei_offset = 0;
  int kernel_columns = 1;
  int held_run = 0;
  int partial_channels = 0;
  bool operator==(const ReductionStep&) const = default;
};

// The reduction when kernel rows and input channels are loops: per kernel row, `ic_steps`
// iterations of `body`, each moving the input and weight pointers on by `src_advance` /
// `wei_advance`, then the `row_tail` steps (8-bit input's partial last group of four
// channels) from where the loop left them; then `src_next_row` / `wei_next_row` take them to
// the next kernel row.
struct LoopedReduction {
  std::int64_t ic_steps = 0;
  std::vector<ReductionStep> body;
  std::vector<ReductionStep> row_tail;
  std::int64_t src_advance = 0, wei_advance = 0;
  std::int64_t src_next_row = 0, wei_next_row = 0;  // from the end of a kernel row
  std::int64_t src_row = 0, wei_row = 0;            // from the start of a kernel row
};

// One pass of the reduction over a block of input channels (KernelPlan::ic_passes). Each pass
// walks every channel tile and row; its input and weights start `src_offset` / `wei_offset`
// bytes past the reduction's (its first input channel).
struct ReductionPass {
  std::int64_t src_offset = 0, wei_offset = 0;
  bool from_dst = false;  // the accumulators start from the partial sums in dst, not the bias
  bool finishes = true;   // the last pass: the epilogue before the store
  bool operator==(const ReductionPass&) const = default;
};

// Output rows emitted together: a loop over the caller's rows clipped to `rows`, or, for a
// single row, straight-line code with constant addresses.
struct RowPass {
  RowSegment rows;
  bool constant_row = false;
  std::int64_t kernel_rows() const { return rows.kh_end - rows.kh_begin; }
  bool operator==(const RowPass&) const = default;
};

// 8-bit kernels: a tap of output column `column` that lies in padding. The padding's value is
// the input's zero point, whose sum the packed bias subtracts over every tap; a dropped tap
// adds its part of it back (QuantizedPart first_tap_part + kh · kw + kw, from the bias pointer).
struct PaddingTap {
  int column = 0;
  std::int64_t kh = 0, kw = 0;
  bool operator==(const PaddingTap&) const = default;
};

struct KernelSchedule {
  TileGeometry geometry;
  RegisterBudget registers;

  // Outer loops: groups (depthwise folds them into channel blocks), then channel tiles.
  int groups = 1;
  std::vector<ChannelTileRun> channel_runs;
  std::int64_t tiles_per_group = 0;

  std::vector<RowPass> row_passes;  // in order, covering [0, out_h)
  // One row body for every pass: passes differ only in their kernel-row range, which the
  // body takes at run time (a looped reduction with several row segments).
  bool shared_row_body = false;
  bool has_rows_without_taps = false;  // a pass whose kernel rows all lie in padding

  std::vector<TileWalk> tiles;  // the column tiles of every output row, in order
  // The store of a channel tile's partial last block (oc vectors, depthwise): the plan's
  // oc_tail_lanes. Whole when every block is full.
  VectorStore channel_tail;
  BiasLoad bias = BiasLoad::zero;
  // What each store does to its accumulator first: the residual at its own offset from
  // KernelCallArgs::residual (after the bias and the reduction), then the activation. The
  // bias is not in it: the accumulators start from it (`bias`).
  TileEpilogue epilogue;
  // What a store does in a pass: the epilogue in the last, nothing before (partial sums).
  const TileEpilogue& epilogue_of(const ReductionPass& reduction) const {
    return reduction.finishes ? epilogue : partial_sums;
  }
  TileEpilogue partial_sums;

  bool reduction_unrolled = true;  // else `looped`
  LoopedReduction looped;
  // In order; one (from the bias, finishing) unless the plan splits the input channels. Every
  // pass covers the same channel tiles and rows: the tile index restarts with each.
  std::vector<ReductionPass> reduction_passes;

  // How channel block `block` of a run writes the store's column.
  const VectorStore& store_of(const TileStore& st, const ChannelTileRun& run, int block) const {
    return run.has_tail && block == run.blocks - 1 ? channel_tail : st.store;
  }

  std::int64_t tile_count() const { return groups * tiles_per_group; }
  // The number KernelCallArgs' tile_begin/tile_end count: group-major, emission order.
  std::int64_t tile_index(std::int64_t group, const ChannelTileRun& run, std::int64_t t) const {
    return group * tiles_per_group + run.first_tile + t;
  }
  // Input offset of a pass's first kernel row and the reduction pass's first input channel
  // from the start of its channel tile's image.
  std::int64_t pass_src_offset(const RowPass& pass, const ReductionPass& reduction,
                               std::int64_t oh) const {
    return oh * src_row_step + src_row_origin + pass.rows.kh_begin * geometry.src_kh +
           reduction.src_offset;
  }
  std::int64_t pass_dst_offset(std::int64_t oh) const { return oh * geometry.dst_row; }
  // The unrolled reduction of a pass: every (kernel row, kw, ic) step; depthwise, every
  // (kernel row, run of held kernel columns).
  std::vector<ReductionStep> unrolled_steps(const RowPass& pass) const;
  // Where the looped reduction's weight pointer starts for a row pass and a reduction pass.
  std::int64_t pass_weight_offset(const RowPass& pass, const ReductionPass& reduction) const {
    return pass.rows.kh_begin * geometry.wei_kh + reduction.wei_offset;
  }

  // 8-bit input: the taps of a tile that lie in padding in a row pass (none elsewhere). Every
  // row pass is emitted on its own (no shared row body), so these are constants.
  std::vector<PaddingTap> padding_taps(const RowPass& pass, const TileWalk& walk) const;
  // Bytes from the bias pointer to the channel part of a dropped tap (padding_taps).
  std::int64_t padding_tap_offset(const PaddingTap& tap) const;
  // s8 input to channel vectors: each broadcast quad has its sign bits flipped (x + 128 as u8), which vpdpbusd's
  // unsigned operand needs; the packing compensates with zero point + 128.
  bool flip_input_sign = false;
  bool compensates_padding = false;  // 8-bit input: padding_taps apply
  bool signed_input = false;  // s8 input (widened with sign extension)
  Product product = Product::fma;  // the plan's: which multiply-add the taps are

  std::int64_t kernel_width = 1;  // kw: the kernel columns each tile's taps are listed for
  int held_columns = 1;  // kernel columns per reduction step (KernelPlan::kernel_columns)
  std::int64_t src_row_step = 0;  // input bytes from one output row to the next
  std::int64_t src_row_origin = 0;  // input offset of output row 0 at kernel row 0
  std::int64_t kernel_height = 1;
  std::int64_t first_tap_part = 0;  // bytes from the bias pointer to the first tap's part
};

KernelSchedule make_schedule(const KernelPlan& plan);

}  // namespace convjit
