#include "generator/plan.hpp"

#include "generator/tile_epilogue.hpp"

#include "generator/register_budget.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/work_split.hpp"

#include "core/cpu_features.hpp"
#include "core/environment.hpp"

#include <convjit/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <ostream>
#include <set>
#include <sstream>

namespace convjit {
namespace {

// A kernel whose whole body fits this many bytes is unrolled end to end.
constexpr std::int64_t kFullUnrollBudget = 24 * 1024;
// Code a tile's unrolled window may take before input channels go into a counted loop.
constexpr std::int64_t kTileBodyBudget = 6 * 1024;
constexpr std::int64_t kBytesPerFma = 6;   // vfmadd231ps with a disp32 or register operand
constexpr std::int64_t kBytesPerLoad = 7;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// By the layout the code computes in (KernelPlan::kernel_layout), not the tensors'.
Strategy choose_strategy(const ConvShape& s, Layout kernel_layout) {
  // 8-bit kernels sum four input channels per 32-bit lane (channel vectors, groups and all),
  // except depthwise ones, whose channels widen to 32-bit lanes one tap at a time.
  if (s.quantized()) return s.is_depthwise() ? Strategy::depthwise : Strategy::oc_vectors;
  if (kernel_layout == Layout::nchw) return Strategy::width_vectors;
  // c = oc = 1 is the same memory as nchw; but strided width vectors need gathers, which
  // cost more than broadcasting each input into a one-lane output-channel vector.
  // Only dense pixels are neighbouring floats.
  if (s.c == 1 && s.oc == 1 && s.sw == 1 && s.dense_src() && s.dense_dst())
    return Strategy::width_vectors;
  if (s.is_depthwise()) return Strategy::depthwise;
  return Strategy::oc_vectors;
}

// Kernel rows in bounds for output row oh: [first, last).
RowSegment row_taps(const ConvShape& s, std::int64_t oh) {
  std::int64_t first = 0;
  while (first < s.kh && !row_tap_in_bounds(s, oh, first)) ++first;
  std::int64_t last = first;
  while (last < s.kh && row_tap_in_bounds(s, oh, last)) ++last;
  return {oh, oh + 1, first, last};
}

std::vector<RowSegment> make_row_segments(const ConvShape& s) {
  std::vector<RowSegment> rows;
  for (std::int64_t oh = 0; oh < s.out_h; ++oh) {
    RowSegment r = row_taps(s, oh);
    if (!rows.empty() && rows.back().kh_begin == r.kh_begin && rows.back().kh_end == r.kh_end)
      rows.back().oh_end = oh + 1;
    else
      rows.push_back(r);
  }
  return rows;
}

bool column_fully_in_bounds(const ConvShape& s, std::int64_t ow) {
  return column_tap_in_bounds(s, ow, 0) && column_tap_in_bounds(s, ow, s.kw - 1);
}

// Tiles of `width` columns; consecutive tiles whose every column has every tap in bounds
// become one looped run.
std::vector<ColumnTile> make_column_tiles(const ConvShape& s, std::int64_t width) {
  std::vector<ColumnTile> tiles;
  auto tile_is_steady = [&](std::int64_t ow) {
    if (ow + width > s.out_w) return false;
    return column_fully_in_bounds(s, ow) && column_fully_in_bounds(s, ow + width - 1);
  };
  std::int64_t ow = 0;
  while (ow < s.out_w) {
    if (tile_is_steady(ow)) {
      ColumnTile run{ow, width, 0};
      while (tile_is_steady(ow)) {
        ++run.repeat;
        ow += width;
      }
      tiles.push_back(run);
    } else {
      const std::int64_t w = std::min(width, s.out_w - ow);
      tiles.push_back({ow, w, 1});
      ow += w;
    }
  }
  return tiles;
}

// Reduction steps per kernel tap: every input channel of a group (depthwise: its one), or for
// 8-bit input its groups of four, a partial last one counted whole.
std::int64_t reduction_steps(const ConvShape& s, Strategy strategy) {
  if (strategy == Strategy::depthwise) return 1;
  return s.quantized() ? ceil_div(s.ic_per_group(), 4) : s.ic_per_group();
}

struct TileChoice {
  int ur_w = 1;
  int oc_tile = 1;
  int kernel_columns = 1;
  double cycles = std::numeric_limits<double>::max();
  double busiest = std::numeric_limits<double>::max();  // cycles times the team's imbalance
};

// Cycles of one reduction step of a tile: FMAs on 2 ports, loads on 2.
double step_cycles(double fmas, double loads) {
  return std::max(fmas / 2.0, loads / 2.0) + 0.25;
}

// Input vectors a depthwise tile of u columns loads for `held` kernel columns of a row: the
// distinct pixels c·sw + k·dw it reads (at stride 2 and one held column, every other one).
double held_row_inputs(const ConvShape& s, int u, std::int64_t held) {
  std::vector<bool> read(static_cast<std::size_t>(s.sw * (u - 1) + s.dw * (held - 1) + 1));
  for (std::int64_t c = 0; c < u; ++c)
    for (std::int64_t k = 0; k < held; ++k) read[static_cast<std::size_t>(c * s.sw + k * s.dw)] = true;
  return static_cast<double>(std::count(read.begin(), read.end(), true));
}

// Loads per kernel tap of a depthwise tile holding `held` kernel columns' weights: each chunk of
// a kernel row loads its weights and its inputs once.
double depthwise_loads_per_tap(const ConvShape& s, int u, int t, int held) {
  double loads = 0;
  for (std::int64_t kw = 0; kw < s.kw; kw += held) {
    const std::int64_t chunk = std::min<std::int64_t>(held, s.kw - kw);
    loads += static_cast<double>(t * chunk) + held_row_inputs(s, u, chunk) * t;
  }
  return loads / static_cast<double>(s.kw);
}

// Cost model over the whole output row, in cycles per reduction step: partial oc tiles and
// partial column tiles included. Comparable across vector widths (one FMA is one FMA).
double tile_cycles(const ConvShape& s, Strategy strategy, std::int64_t blocks, int lanes, int u,
                   int t, int held = 1) {
  const std::int64_t columns = s.out_w;
  const std::int64_t col_unit = strategy == Strategy::width_vectors ? u * lanes : u;
  const std::int64_t full_col_tiles = columns / col_unit;
  const std::int64_t rest_cols = columns % col_unit;
  const std::int64_t full_oc_tiles = blocks / t;
  const std::int64_t rest_blocks = blocks % t;
  const std::int64_t steps = s.kh * s.kw * reduction_steps(s, strategy);
  auto tile_cost = [&](int uu, int tt) {
    if (uu == 0 || tt == 0) return 0.0;
    double loads = 0;
    switch (strategy) {
      case Strategy::oc_vectors: loads = tt + uu; break;
      case Strategy::depthwise: loads = depthwise_loads_per_tap(s, uu, tt, held); break;
      case Strategy::width_vectors: loads = uu + tt; break;
      case Strategy::winograd: break;
    }
    // The tile's store and epilogue, once per output, shared by every step of its reduction.
    return step_cycles(uu * tt, loads) + 2.0 * uu * tt / static_cast<double>(std::max<std::int64_t>(steps, 1));
  };
  const int rest_u = strategy == Strategy::width_vectors
                         ? static_cast<int>(ceil_div(rest_cols, lanes))
                         : static_cast<int>(rest_cols);
  double cycles = 0;
  cycles += full_col_tiles * full_oc_tiles * tile_cost(u, t);
  cycles += full_col_tiles * tile_cost(u, static_cast<int>(rest_blocks));
  cycles += full_oc_tiles * tile_cost(rest_u, t);
  cycles += tile_cost(rest_u, static_cast<int>(rest_blocks));
  return cycles;
}

// Channel-vector tiles broadcast from ur_w input pixels at once. When neighbouring output
// columns' pixels lie a multiple of 4 KiB apart (1024 input channels, or 512 at stride 2), every
// one of those streams falls in the same L1 set: more than the 12 ways of current L1s (with the
// weights' lines beside them) and each broadcast misses. ResNet-50's 1024-channel 1x1 layers ran
// at 1.4-1.6x the time of 5- to 7-column tiles in such a state with 14 columns (Zen 5).
constexpr int kMaxSameSetColumns = 8;

bool columns_share_an_l1_set(const ConvShape& s, Strategy strategy) {
  return strategy == Strategy::oc_vectors &&
         (s.src_element_bytes() * s.sw * s.src_pixel_stride()) % 4096 == 0;
}

bool tile_fits(const ConvShape& s, Strategy strategy, VectorShape vectors, bool opmasks, int u, int t,
               int held = 1) {
  if (u > kMaxSameSetColumns && columns_share_an_l1_set(s, strategy)) return false;
  return register_budget(strategy, u, t, opmasks, s.sw > 1, epilogue_temporaries(s), held,
                         product_of(s, strategy, opmasks ? Isa::avx512 : Isa::avx2))
             .total() <= vectors.registers - vectors.reserved;
}

// The kernel columns a tile may hold at once: depthwise tiles any number up to the kernel's
// width, the others one (they hold no weights across kernel columns).
int max_held_columns(const ConvShape& s, Strategy strategy) {
  return strategy == Strategy::depthwise ? static_cast<int>(s.kw) : 1;
}

// The tile of u columns and t blocks that fits with the cheapest number of held kernel columns
// (the most, among equals), or none.
std::optional<TileChoice> cheapest_holding(const ConvShape& s, Strategy strategy,
                                           std::int64_t blocks, VectorShape vectors, bool opmasks,
                                           int u, int t) {
  std::optional<TileChoice> best;
  for (int held = max_held_columns(s, strategy); held >= 1; --held) {
    if (!tile_fits(s, strategy, vectors, opmasks, u, t, held)) continue;
    const double cycles = tile_cycles(s, strategy, blocks, vectors.lanes, u, t, held);
    if (!best || cycles < best->cycles - 1e-9) best = TileChoice{u, t, held, cycles};
  }
  return best;
}

// The busiest thread's share over the mean that a team may be left with before the register
// tile is chosen for it: the model does not see what a tile of more channel blocks costs in
// weights that no longer stay in L2 (ResNet-50's 512-channel 7x7 layers ran 2x slower on two
// threads with 6-block tiles chosen for a 1.3% better balance).
constexpr double kTolerableImbalance = 1.25;

// The cheapest register tile; for a team that the cheapest would leave unbalanced (beyond
// kTolerableImbalance), the cheapest for its busiest thread: a tile of fewer channel blocks
// leaves more channel tiles (times the rows) to share out.
TileChoice choose_tile(const ConvShape& s, Strategy strategy, std::int64_t blocks,
                       VectorShape vectors, bool opmasks, int threads = 1) {
  const std::int64_t groups = strategy == Strategy::depthwise ? 1 : s.groups;
  auto imbalance = [&](int t) { return team_imbalance(s.out_h, groups * ceil_div(blocks, t), threads); };
  auto cheapest = [&](bool for_team) {
    TileChoice best;
    for (int t = 1; t <= std::min<std::int64_t>(blocks, 8); ++t) {
      const double factor = for_team ? imbalance(t) : 1.0;
      for (int u = 1; u <= 28; ++u)
        if (const auto tile = cheapest_holding(s, strategy, blocks, vectors, opmasks, u, t);
            tile && tile->cycles * factor < best.busiest - 1e-9) {
          best = *tile;
          best.busiest = tile->cycles * factor;
        }
    }
    return best;
  };
  TileChoice best = cheapest(false);
  if (threads <= 1 || best.busiest == std::numeric_limits<double>::max()) return best;
  const double best_imbalance = imbalance(best.oc_tile);
  if (best_imbalance <= kTolerableImbalance) {
    best.busiest = best.cycles * best_imbalance;
    return best;
  }
  return cheapest(true);
}

std::int64_t reduction_length(const KernelPlan& p) { return reduction_steps(p.shape, p.strategy); }

// The steps a looped reduction may count: 8-bit input's whole groups of four channels (a
// partial last group follows the loop), else every step.
std::int64_t whole_reduction_steps(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  return s.quantized() ? s.ic_per_group() / 4 : reduction_length(p);
}

std::int64_t tile_step_bytes(const KernelPlan& p) {
  const int fmas = p.ur_w * p.oc_tile;
  const int loads = p.strategy == Strategy::depthwise ? p.oc_tile : p.ur_w + p.oc_tile;
  return fmas * kBytesPerFma + loads * kBytesPerLoad;
}

// Unrolled bytes of one tile over the whole window (kh × kw × ic).
std::int64_t tile_window_bytes(const KernelPlan& p) {
  return tile_step_bytes(p) * p.shape.kh * p.shape.kw * reduction_length(p);
}

void decide_unrolling(KernelPlan& p) {
  const ConvShape& s = p.shape;
  const std::int64_t icg = whole_reduction_steps(p);
  // Input channels: unroll all when the window fits the tile budget, else the largest
  // divisor of icg that keeps kh × kw × ic_unroll steps within it.
  const std::int64_t per_ic = tile_step_bytes(p) * s.kh * s.kw;
  p.ic_unroll = 1;
  for (std::int64_t d = icg; d >= 1; --d) {
    if (icg % d == 0 && per_ic * d <= kTileBodyBudget) {
      p.ic_unroll = static_cast<int>(d);
      break;
    }
  }
  p.unroll_kh = icg == 0 || p.ic_unroll == icg;
  const std::int64_t tile_bytes = p.unroll_kh ? tile_window_bytes(p)
                                              : tile_step_bytes(p) * s.kw * p.ic_unroll + 64;
  const std::int64_t oc_variants = p.oc_blocks % p.oc_tile ? 2 : 1;
  std::int64_t row_body = 0;
  for (const ColumnTile& t : p.columns) row_body += tile_bytes + 64 + (t.repeat > 1 ? 16 : 0);
  // With a looped reduction all row segments share one row body (the emitter passes the
  // kernel-row range in); with an unrolled one each segment has its own.
  const std::int64_t segment_bodies = p.unroll_kh ? static_cast<std::int64_t>(p.rows.size()) : 1;
  p.estimated_code_bytes = row_body * segment_bodies * oc_variants + 256;
  // Tiny shapes: every row on its own, no loops at all.
  const std::int64_t all_rows = row_body * s.out_h * oc_variants * s.groups;
  p.unroll_rows = p.unroll_kh && all_rows <= kFullUnrollBudget && s.groups <= 4;
  if (p.unroll_rows) p.estimated_code_bytes = all_rows + 256;
}

std::string make_name(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  std::ostringstream out;
  out << "conv_k" << s.kh << "x" << s.kw << "_s" << s.sh << "x" << s.sw << "_d" << s.dh << "x"
      << s.dw << "_" << to_string(p.strategy) << "_ur" << p.ur_w << "x" << p.oc_tile << "_"
      << to_string(s.layout) << (p.stages_nchw() ? "_staged" : "") << (s.add_residual ? "_add" : "");
  if (s.quantized()) out << "_" << to_string(s.src_type) << "s8_to_" << to_string(s.dst_type);
  // Depthwise tiles holding fewer than all of the kernel's columns.
  if (p.strategy == Strategy::depthwise && p.kernel_columns < s.kw) out << "_kc" << p.kernel_columns;
  if (p.work.band_units > 0) out << "_band" << p.work.band_units;
  if (p.ic_passes > 1) out << "_icp" << p.ic_per_pass;
  out << "_" << to_string(p.isa);
  if (p.isa == Isa::avx512) out << (p.lanes == 16 ? "_zmm" : "_ymm");
  return out.str();
}

}  // namespace

std::string_view to_string(Strategy strategy) {
  switch (strategy) {
    case Strategy::oc_vectors: return "oc_vectors";
    case Strategy::depthwise: return "depthwise";
    case Strategy::width_vectors: return "width_vectors";
    case Strategy::winograd: return "winograd";
  }
  return "?";
}

std::string_view to_string(Product product) {
  switch (product) {
    case Product::fma: return "fma";
    case Product::dot_quads: return "dot_quads";
    case Product::pair_quads: return "pair_quads";
    case Product::widened: return "widened";
    case Product::widened_pairs: return "widened_pairs";
  }
  return "?";
}

Product product_of(const ConvShape& shape, Strategy strategy, Isa isa) {
  if (!shape.quantized()) return Product::fma;
  const bool vnni = isa == Isa::avx512 || (isa == Isa::avx2 && avx2_kernels_use_vnni());
  if (strategy == Strategy::depthwise) return vnni ? Product::widened : Product::widened_pairs;
  return vnni ? Product::dot_quads : Product::pair_quads;
}

std::vector<VectorShape> vector_shapes(Isa isa) {
  if (isa == Isa::avx512) return {{8, 32}, {16, 32}};
  // 4 in reserve: the fewest with which no benchmark shape's kernel spills inside a loop
  // (tests/aarch64_codegen_test.cpp); with 3, four still do (their 6x4 and 13x2 tiles).
  if (isa == Isa::neon) return {{4, 32, 4}};
  return {{8, 16}};
}

namespace {

std::int64_t channels_of(const ConvShape& shape, Strategy strategy) {
  return strategy == Strategy::depthwise    ? shape.c
         : strategy == Strategy::oc_vectors ? shape.oc_per_group()
                                            : 1;
}

std::int64_t blocks_of(const ConvShape& shape, Strategy strategy, VectorShape vectors) {
  return strategy == Strategy::width_vectors
             ? shape.oc_per_group()  // one channel per broadcast weight
             : ceil_div(channels_of(shape, strategy), vectors.lanes);
}

// Every register tile that fits, cheapest first (ties in the order choose_tile tries them).
std::vector<TileChoice> rank_tiles(const ConvShape& s, Strategy strategy, std::int64_t blocks,
                                   VectorShape vectors, bool opmasks) {
  std::vector<TileChoice> tiles;
  for (int t = 1; t <= std::min<std::int64_t>(blocks, 8); ++t)
    for (int u = 1; u <= 28; ++u)
      if (const auto tile = cheapest_holding(s, strategy, blocks, vectors, opmasks, u, t))
        tiles.push_back(*tile);
  std::stable_sort(tiles.begin(), tiles.end(),
                   [](const TileChoice& a, const TileChoice& b) { return a.cycles < b.cycles; });
  return tiles;
}

// Cycles per image of a direct plan: the tile's cost per reduction step over one output row,
// times the steps of the window and the rows (and groups, which are an outer loop).
double direct_plan_cycles(const KernelPlan& p, double row_step_cycles) {
  const ConvShape& s = p.shape;
  const double groups = p.strategy == Strategy::depthwise ? 1.0 : static_cast<double>(s.groups);
  return row_step_cycles * static_cast<double>(s.kh * s.kw * reduction_length(p)) *
         static_cast<double>(s.out_h) * groups;
}

// Rows of an image that does not stay in L2 come from L3 or memory at about this rate while
// the FMAs wait; rows a band keeps in L2, and the weights a band re-reads, at the L2's.
constexpr double kFarBytesPerCycle = 4.0;
constexpr double kL2BytesPerCycle = 32.0;
// A gathered input vector (width vectors at stride > 1) loads its lanes one by one.
constexpr double kGatherLoadsPerLane = 1.0;

struct ImageBytes {
  double src = 0, dst = 0, weights = 0;
};

ImageBytes image_bytes(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  return {static_cast<double>(s.src_element_bytes() * s.h * s.w * s.src_pixel_stride()),
          static_cast<double>(s.dst_element_bytes() * s.out_h * s.out_w * s.dst_pixel_stride()),
          4.0 * static_cast<double>(p.packed.weight_floats)};
}

// Output rows per band whose input rows, output rows and the weights fit the budget, or 0 when
// banding cannot help: one channel tile (one sweep), an image that stays in L2 anyway, weights
// that leave no room, or a band as tall as the image. Channel vectors keep a band's input rows
// for every channel tile; depthwise kernels read each pixel's channels together instead of a
// stripe per tile over the whole image.
std::int64_t band_rows(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  const bool strategy_bands = p.strategy == Strategy::oc_vectors || p.strategy == Strategy::depthwise;
  if (!strategy_bands || p.unroll_rows || channel_tiles_per_group(p) < 2) return 0;
  const double budget = static_cast<double>(band_budget_bytes());
  const ImageBytes bytes = image_bytes(p);
  if (budget <= 0 || bytes.src + bytes.dst <= budget) return 0;
  const double in_row = bytes.src / static_cast<double>(s.h), out_row = bytes.dst / static_cast<double>(s.out_h);
  const double halo = static_cast<double>(std::max<std::int64_t>(effective_kernel(s.kh, s.dh) - s.sh, 0)) * in_row;
  const double room = budget - bytes.weights - halo;
  const double per_row = static_cast<double>(s.sh) * in_row + out_row;
  if (room < per_row) return 0;
  const std::int64_t rows = static_cast<std::int64_t>(room / per_row);
  return rows >= s.out_h ? 0 : rows;
}

// Input channels per pass whose slice of the input, with one channel tile's weights for them,
// fits the band budget, so it stays in L2 while every channel tile reads it; or 0 when passes
// cannot help: channel vectors with a looped reduction over several channel tiles and an image
// that does not stay in L2. A multiple of ic_unroll that divides the channels, so every pass
// runs the same loop; the output's partial sums move between passes, so the fewest passes.
// Never with a residual: run() may be given dst as the residual, which the first pass's
// partial sums would overwrite.
std::int64_t channels_per_pass(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  // 8-bit outputs cannot hold int32 partial sums.
  if (p.strategy != Strategy::oc_vectors || p.unroll_kh || p.unroll_rows ||
      channel_tiles_per_group(p) < 2 || s.add_residual || s.quantized())
    return 0;
  const double budget = static_cast<double>(band_budget_bytes());
  const ImageBytes bytes = image_bytes(p);
  if (budget <= 0 || bytes.src + bytes.dst <= budget) return 0;
  const std::int64_t icg = s.ic_per_group();
  const double tile_weights = 4.0 * static_cast<double>(s.kh * s.kw * p.oc_tile * p.lanes);
  const double per_channel = bytes.src / static_cast<double>(icg * s.groups) + tile_weights;
  for (std::int64_t steps = icg / p.ic_unroll / 2; steps >= 1; --steps) {
    const std::int64_t channels = steps * p.ic_unroll;
    if (icg % channels == 0 && static_cast<double>(channels) * per_channel <= budget) return channels;
  }
  return 0;
}

// Bytes and cycles per image the compute estimate leaves out, beyond reading the input and
// writing the output once: when the image does not stay in L2, the input swept again for each
// further channel tile (none when banded, but the weights once per band from L2; none with
// channel passes, but the partial sums between passes); gathers, and NCHW staging. The weights
// come from beyond L2 once in every variant, so none is charged for them.
MemoryTraffic direct_memory_traffic(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  const ImageBytes bytes = image_bytes(p);
  MemoryTraffic t;
  auto far = [&](double b) { t.far_bytes += b; t.memory_cycles += b / kFarBytesPerCycle; };
  auto near = [&](double b) { t.l2_bytes += b; t.memory_cycles += b / kL2BytesPerCycle; };
  std::ostringstream why;
  const double budget = static_cast<double>(band_budget_bytes());
  const bool stays_in_l2 = bytes.src + bytes.dst <= budget;
  if (!stays_in_l2) t.compulsory_bytes = bytes.src + 2.0 * bytes.dst;
  if (stays_in_l2) {
    why << "input and output stay in L2 (" << std::llround((bytes.src + bytes.dst) / 1024) << " of "
        << std::llround(budget / 1024) << " KiB)";
  } else if (p.strategy == Strategy::depthwise) {
    // Each channel tile reads only its stripe of every pixel: nothing is read twice, banded or
    // not. Bands (every channel tile per band of rows) ran 1.1-1.5x faster on MobileNetV2's
    // 112x112 layers and 0.8-1.3x on smaller ones (Zen 5, timed in one process): no charge
    // either way, the whole image is the model's pick and tuning times the banded family.
    why << "each channel tile reads its stripe of every pixel";
    if (p.work.band_units > 0) why << ", a band of rows at a time";
    // An 8-bit stripe is a fraction of a cache line (16 channels: a quarter): the channel tiles
    // that share a line each bring it in again, from L2 when banded, else from beyond it.
    const double stripe = static_cast<double>(p.oc_tile * p.lanes * s.src_element_bytes());
    const double line = std::min(64.0, static_cast<double>(s.c * s.src_element_bytes()));
    if (s.quantized() && stripe < line) {
      const double again = bytes.src * (line / stripe - 1.0);
      if (p.work.band_units > 0) near(again);
      else far(again);
      why << "; each input line read by " << std::llround(line / stripe) << " channel tiles";
    }
  } else if (p.ic_passes > 1) {
    // The partial sums leave and return between passes: from L2 if the output stays there.
    const double partial_sums = 2.0 * static_cast<double>(p.ic_passes - 1) * bytes.dst;
    if (bytes.dst <= budget) near(partial_sums);
    else far(partial_sums);
    why << "input once in " << p.ic_passes << " passes, partial sums out and back between them";
  } else if (p.work.band_units > 0) {
    const std::int64_t bands = ceil_div(s.out_h, p.work.band_units);
    near(static_cast<double>(bands) * bytes.weights);
    why << "input once, weights once per band (" << bands << ")";
  } else {
    const std::int64_t sweeps = channel_tiles_per_group(p);
    far(static_cast<double>(sweeps - 1) * bytes.src);
    why << "input (" << std::llround(bytes.src / 1024) << " KiB) swept once per channel tile (" << sweeps << ")";
  }
  if (p.strategy == Strategy::width_vectors && s.sw > 1) {
    const double vectors = static_cast<double>(s.out_h * ceil_div(s.out_w, p.lanes) * s.kh * s.kw *
                                               s.ic_per_group() * s.groups * channel_tiles_per_group(p));
    t.memory_cycles += vectors * kGatherLoadsPerLane * (p.lanes - 1) / 2.0;
    why << "; gathered input lanes";
  }
  if (p.stages_nchw()) {
    t.memory_cycles += nchw_staging_cycles(s);
    why << "; nchw staging";
  }
  t.why = why.str();
  return t;
}

KernelPlan finish_direct_plan(KernelPlan p, VectorShape vectors, std::int64_t blocks,
                              const TileChoice& tile, DirectMemory memory) {
  const ConvShape& shape = p.shape;
  p.lanes = vectors.lanes;
  p.vector_registers = vectors.registers;
  p.oc_blocks = blocks;
  const std::int64_t channels = channels_of(shape, p.strategy);
  p.oc_tail_lanes = p.strategy == Strategy::width_vectors
                        ? p.lanes
                        : static_cast<int>(channels - (p.oc_blocks - 1) * p.lanes);
  p.ur_w = tile.ur_w;
  p.oc_tile = tile.oc_tile;
  p.kernel_columns = tile.kernel_columns;
  p.rows = make_row_segments(shape);
  const std::int64_t column_width =
      p.strategy == Strategy::width_vectors ? p.ur_w * p.lanes : p.ur_w;
  p.columns = make_column_tiles(shape, column_width);
  p.packed = make_packed_layout(p);
  decide_unrolling(p);
  p.work.units = shape.out_h;
  p.work.channel_tiles = channel_tile_count(p);
  p.ic_per_pass = whole_reduction_steps(p);
  if (memory.channel_passes) {
    if (const std::int64_t channels = channels_per_pass(p); channels > 0) {
      p.ic_per_pass = channels;
      p.ic_passes = whole_reduction_steps(p) / channels;
    }
  } else if (memory.banded) {
    p.work.band_units = band_rows(p);
  }
  p.traffic = direct_memory_traffic(p);
  p.traffic.compute_cycles = direct_plan_cycles(p, tile.cycles);
  p.estimated_cycles = p.traffic.compute_cycles + p.traffic.memory_cycles;
  p.name = make_name(p);
  p.algorithm_choice = "direct";
  return p;
}

bool may_stage(const ConvShape& shape, Isa isa) {
  return shape.layout == Layout::nchw && isa != Isa::neon &&
         choose_strategy(shape, Layout::nhwc) != Strategy::width_vectors;
}

KernelPlan start_direct_plan(const ConvShape& shape, Isa isa, DirectMemory memory) {
  if (isa == Isa::automatic) throw Error("isa", "the planner needs a concrete instruction set");
  if (memory.staged && !may_stage(shape, isa))
    throw Error("layout", "only NCHW shapes with channel-vector NHWC kernels are staged");
  KernelPlan p;
  p.shape = shape;
  p.isa = isa;
  p.kernel_layout = memory.staged ? Layout::nhwc : shape.layout;
  p.strategy = choose_strategy(shape, p.kernel_layout);
  p.product = product_of(shape, p.strategy, isa);
  return p;
}

}  // namespace

std::size_t band_budget_bytes() {
  if (const std::optional<std::size_t> bytes = band_bytes_override()) return *bytes;
  return cpu_l2_bytes() / 2;
}

double nchw_staging_cycles(const ConvShape& s) {
  const double floats = static_cast<double>(s.c * s.h * s.w + s.oc * s.out_h * s.out_w *
                                            (s.add_residual ? 2 : 1));
  return 1.5 * floats;
}

std::vector<DirectMemory> direct_memory_variants(const ConvShape& shape, Isa isa) {
  std::vector<DirectMemory> variants;
  for (const bool staged : {false, true}) {
    if (staged && !may_stage(shape, isa)) continue;
    variants.push_back({staged, false, false});
    variants.push_back({staged, true, false});
    variants.push_back({staged, false, true});
  }
  return variants;
}

KernelPlan make_cheapest_direct_plan(const ConvShape& shape, Isa isa, int threads) {
  std::optional<KernelPlan> best;
  std::ostringstream why;
  why << "direct, cycles per image:";
  std::set<std::string> names;
  for (const DirectMemory memory : direct_memory_variants(shape, isa)) {
    // Input-channel passes measured slower than a sweep per channel tile wherever the model
    // preferred them on a Zen 5 guest whose L3 held the image (0.74-1.02x, geometric mean
    // 0.965 over 34 layers and ISAs of the network lists): tuning times them, the model does
    // not pick them.
    if (memory.channel_passes) continue;
    KernelPlan plan = make_direct_plan(shape, isa, memory, threads);
    if (!names.insert(plan.name).second) continue;  // bands or passes asked, none fits
    why << " " << (plan.stages_nchw() ? "staged nhwc" : to_string(plan.kernel_layout));
    if (plan.work.band_units > 0) why << " in bands of " << plan.work.band_units << " rows";
    if (plan.ic_passes > 1) why << " in " << plan.ic_passes << " input-channel passes";
    why << " " << std::llround(plan.estimated_cycles) << ";";
    if (!best || plan.estimated_cycles * busiest_thread_share(plan, threads) <
                     best->estimated_cycles * busiest_thread_share(*best, threads))
      best = std::move(plan);
  }
  why << " the least";
  best->algorithm_choice = names.size() > 1 ? why.str() : "direct";
  return std::move(*best);
}

KernelPlan make_direct_plan(const ConvShape& shape, Isa isa, DirectMemory memory, int threads) {
  KernelPlan p = start_direct_plan(shape, isa, memory);
  p.threads = std::max(threads, 1);
  // The vector width whose best tile costs least; ties go to the narrower, listed first
  // (a 16-lane vector with 6 live lanes costs what an 8-lane one does, and more loads).
  TileChoice tile;
  VectorShape chosen;
  std::int64_t chosen_blocks = 1;
  for (const VectorShape vectors : vector_shapes(isa)) {
    const std::int64_t blocks = blocks_of(shape, p.strategy, vectors);
    const TileChoice choice = choose_tile(shape, p.strategy, blocks, vectors, p.uses_opmasks(), p.threads);
    if (choice.busiest < tile.busiest - 1e-9) {
      tile = choice;
      chosen = vectors;
      chosen_blocks = blocks;
    }
  }
  return finish_direct_plan(std::move(p), chosen, chosen_blocks, tile, memory);
}

namespace {

// A direct plan with this vector shape and the register tile `pick` chooses for the started
// plan and its channel blocks, or none when it chooses none.
template <class Pick>
std::optional<KernelPlan> direct_plan_with_tile(const ConvShape& shape, Isa isa, VectorShape vectors,
                                                DirectMemory memory, int threads, Pick pick) {
  KernelPlan p = start_direct_plan(shape, isa, memory);
  p.threads = std::max(threads, 1);
  const std::int64_t blocks = blocks_of(shape, p.strategy, vectors);
  const std::optional<TileChoice> tile = pick(p, blocks);
  if (!tile) return std::nullopt;
  return finish_direct_plan(std::move(p), vectors, blocks, *tile, memory);
}

}  // namespace

std::optional<KernelPlan> make_direct_plan_with(const ConvShape& shape, Isa isa,
                                                VectorShape vectors, int tile_rank,
                                                DirectMemory memory, int threads) {
  return direct_plan_with_tile(shape, isa, vectors, memory, threads,
                               [&](const KernelPlan& p, std::int64_t blocks) -> std::optional<TileChoice> {
    const TileChoice best = choose_tile(shape, p.strategy, blocks, vectors, p.uses_opmasks(), p.threads);
    if (tile_rank == 0) return best;
    // The alternatives: the ranked tiles other than the model's own pick.
    std::vector<TileChoice> others;
    for (const TileChoice& t : rank_tiles(shape, p.strategy, blocks, vectors, p.uses_opmasks()))
      if (t.ur_w != best.ur_w || t.oc_tile != best.oc_tile) others.push_back(t);
    if (tile_rank < 0 || static_cast<std::size_t>(tile_rank) > others.size()) return std::nullopt;
    return others[static_cast<std::size_t>(tile_rank - 1)];
  });
}

bool is_wide_depthwise_tile(const KernelPlan& plan) {
  const std::int64_t tile_channels = std::min<std::int64_t>(plan.oc_tile * plan.lanes, plan.shape.c);
  return plan.strategy == Strategy::depthwise && 4 * tile_channels >= kWideDepthwiseTileBytes;
}

// The model prices a depthwise tile by its FMAs and loads, which 28x1 and 14x2 share; their
// memory differs in ways it does not see. Measured in one process on a Zen 5 guest, the
// 2-block tile ran 1.07-1.24x faster on 6 of MobileNetV2's and EfficientNet-B0's 19
// depthwise layers (32 channels at 112x112, 14x14 and 28x28 layers) and 0.94-0.97x on 6
// others: a candidate for tuning, not the model's pick.
std::optional<KernelPlan> make_wide_depthwise_plan(const ConvShape& shape, Isa isa,
                                                   VectorShape vectors, DirectMemory memory,
                                                   int threads) {
  if (!shape.is_depthwise() || 4 * shape.c < kWideDepthwiseTileBytes) return std::nullopt;
  const int wide_blocks = static_cast<int>(ceil_div(kWideDepthwiseTileBytes, 4 * vectors.lanes));
  return direct_plan_with_tile(shape, isa, vectors, memory, threads,
                               [&](const KernelPlan& p, std::int64_t blocks) -> std::optional<TileChoice> {
    if (p.strategy != Strategy::depthwise) return std::nullopt;
    for (const TileChoice& t : rank_tiles(shape, p.strategy, blocks, vectors, p.uses_opmasks()))
      if (t.oc_tile >= wide_blocks) return t;
    return std::nullopt;
  });
}

void KernelPlan::describe_winograd(std::ostream& out) const {
  const WinogradPlan& wp = winograd;
  const std::int64_t per_tile = wp.elements() * (wp.ic_blocks + oc_blocks) * lanes;
  out << "winograd   F(" << wp.m << "x" << wp.m << ", 3x3): " << wp.alpha << "x" << wp.alpha
      << " input tiles, " << wp.elements() << " products per tile and channel pair ("
      << 9.0 * wp.m * wp.m / wp.elements() << "x fewer multiplications than direct)\n"
      << "tiles      " << wp.tiles_h << "x" << wp.tiles_w << " per image, " << wp.blocks
      << " block(s) of " << wp.block_tiles << " (last " << wp.last_block_tiles() << ")\n"
      << "blocking   " << wp.why << "\n"
      << "products   register tile " << wp.gemm_tiles << " tiles x " << wp.gemm_blocks
      << " blocks of " << lanes << " channels, " << oc_blocks << " output and " << wp.ic_blocks
      << " input channel vectors\n"
      << "scratch    " << work.scratch_floats * 4 << " bytes per thread (V and M "
      << per_tile * 4 << " bytes a tile)\n"
      << "packed     " << packed.weight_floats << " transformed weight + " << packed.bias_floats
      << " bias floats\n";
  describe_memory(out);
}

void KernelPlan::describe_memory(std::ostream& out) const {
  if (threads > 1)
    out << "threads    planned for " << threads << ": " << work.units << " " << work.unit << "s x "
        << work.channel_tiles << " channel tile(s) per image, the busiest thread "
        << std::llround(100.0 * busiest_thread_share(*this, threads)) << "% of an image\n";
  if (stages_nchw())
    out << "staging    nchw: the kernel computes nhwc; run() transposes src (and the residual) in "
           "and dst out, shared by its threads, through "
        << 4 * (shape.c * shape.h * shape.w + shape.oc * shape.out_h * shape.out_w)
        << " bytes per image of the calling thread's staging buffer\n";
  if (ic_passes > 1)
    out << "passes     " << ic_passes << " over " << ic_per_pass << " input channels each, every "
        << "channel tile and row in each, so a pass's input stays in L2 (" << band_budget_bytes() / 1024
        << " KiB with a channel tile's weights) across the " << work.channel_tiles
        << " channel tiles; partial sums in dst\n";
  if (work.band_units > 0)
    out << "bands      " << work.band_units << " " << work.unit << "s per call, every channel tile in "
        << "each, so a band's input rows stay in L2 (" << band_budget_bytes() / 1024
        << " KiB with the weights) across the " << work.channel_tiles << " channel tiles\n";
}

std::string KernelPlan::describe() const {
  const ConvShape& s = shape;
  std::ostringstream out;
  out << "kernel     " << name << "\n"
      << "shape      " << s.to_string() << "\n"
      << "output     " << s.n << "x" << s.out_h << "x" << s.out_w << "x" << s.oc << " ("
      << to_string(s.layout) << "), " << s.flops() / 1e6 << " MFLOP\n"
      << "isa        " << to_string(isa) << ", " << lanes << "-lane vectors ("
      << (isa == Isa::neon ? "q" : lanes == 16 ? "zmm" : "ymm") << "), " << vector_registers
      << " registers"
      << (uses_opmasks() ? ", opmask tails" : "") << "\n"
      << "strategy   " << to_string(strategy) << "\n";
  if (s.quantized() && strategy == Strategy::depthwise)
    out << "types      " << to_string(s.src_type) << " input widened to 32-bit lanes x s8 weights "
        << "widened when packed (vpdpwssd), int32 sums, " << to_string(s.dst_type) << " output\n";
  else if (s.quantized())
    out << "types      " << to_string(s.src_type) << " input x s8 weights, four input channels per "
        << "32-bit lane (vpdpbusd), int32 sums, " << to_string(s.dst_type) << " output\n";
  out
      << "algorithm  " << algorithm_choice << "\n";
  if (strategy == Strategy::winograd) {
    describe_winograd(out);
    return out.str();
  }
  if (strategy == Strategy::width_vectors) {
    out << "tile       " << ur_w << " vectors of " << lanes << " output columns x " << oc_tile
        << " output channels (" << ur_w * oc_tile << " accumulators)\n";
  } else {
    out << "tile       " << ur_w << " output pixels x " << oc_tile << " blocks of " << lanes
        << " channels (" << ur_w * oc_tile << " accumulators)\n";
    if (strategy == Strategy::depthwise)
      out << "held       " << kernel_columns << " of " << shape.kw
          << " kernel columns' weights at a time; each input vector of a kernel row is loaded"
             " once per run of them\n";
    out << "blocks     " << oc_blocks << " per group, last block " << oc_tail_lanes
        << " lanes\n";
  }
  out << "rows       " << rows.size() << " segment(s):";
  for (const RowSegment& r : rows)
    out << " [" << r.oh_begin << "," << r.oh_end << ")->kh[" << r.kh_begin << "," << r.kh_end
        << ")";
  out << "\ncolumns    " << columns.size() << " piece(s):";
  for (const ColumnTile& c : columns) {
    out << " " << c.ow_begin << "+" << c.width;
    if (c.repeat > 1) out << "x" << c.repeat;
  }
  out << "\nunrolled   rows=" << (unroll_rows ? "all" : "loop")
      << " kh=" << (unroll_kh ? "yes" : "loop") << " ic=" << ic_unroll << " per step\n"
      << "packed     " << packed.weight_floats << " weight + " << packed.bias_floats
      << " bias floats\n"
      << "code       ~" << estimated_code_bytes << " bytes (estimate)\n"
      << "traffic    per image " << std::llround(traffic.compulsory_bytes / 1024)
      << " KiB of input and output from beyond L2 (read once, written once), "
      << std::llround(traffic.far_bytes / 1024) << " KiB more from beyond, "
      << std::llround(traffic.l2_bytes / 1024) << " KiB re-read from L2: "
      << traffic.why << "\n"
      << "bound      " << (traffic.memory_bound() ? "memory" : "compute") << ": compute "
      << std::llround(traffic.compute_cycles) << " cycles, memory "
      << std::llround(traffic.all_memory_cycles())
      << " (" << kFarBytesPerCycle << " bytes a cycle from beyond L2, " << kL2BytesPerCycle
      << " from L2; L2 budget " << std::llround(band_budget_bytes() / 1024) << " KiB)\n";
  describe_memory(out);
  return out.str();
}

double MemoryTraffic::all_memory_cycles() const {
  return memory_cycles + compulsory_bytes / kFarBytesPerCycle;
}

bool MemoryTraffic::memory_bound() const { return all_memory_cycles() > compute_cycles; }

double busiest_thread_share(const KernelPlan& plan, int threads) {
  if (threads <= 1) return 1.0;
  return team_imbalance(plan.work.units, plan.work.channel_tiles, threads) / threads;
}

Algorithm algorithm_of(const KernelPlan& plan) {
  if (plan.strategy != Strategy::winograd) return Algorithm::direct;
  switch (plan.winograd.m) {
    case 2: return Algorithm::winograd_f2;
    case 4: return Algorithm::winograd_f4;
    default: return Algorithm::winograd_f6;
  }
}

}  // namespace convjit
