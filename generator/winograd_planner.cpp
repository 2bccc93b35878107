// The Winograd half of the planner: tile size, block of tiles, the products' register tile and
// the scratch layout, and whether Winograd beats the direct kernel at all (algo=auto).
#include "generator/algorithm_policy.hpp"
#include "generator/plan.hpp"
#include "generator/winograd_transform.hpp"

#include <convjit/error.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

namespace convjit {
namespace {

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
std::int64_t round_up(std::int64_t a, std::int64_t b) { return ceil_div(a, b) * b; }

// V and M of one block together stay within this, so a block's three phases run from L2
// (2 MiB on Sapphire Rapids, 1 MiB on Zen 4).
constexpr std::int64_t kBlockScratchBytes = 640 * 1024;
// Transformed weights larger than this come from L3 or memory once per block: blocks then
// grow to at least kStreamingTiles tiles so each weight vector serves that many products.
constexpr std::int64_t kResidentWeightBytes = 1024 * 1024;
constexpr std::int64_t kStreamingTiles = 48;
constexpr std::int64_t kMinBlocks = 4;
constexpr std::int64_t kMinBlockTiles = 8;
// Above this the scratch of one thread would crowd the shared L3.
constexpr std::int64_t kMaxScratchBytes = 12 * 1024 * 1024;

struct GemmTile {
  int tiles = 1, blocks = 1;
  double cycles = std::numeric_limits<double>::max();
};

// One reduction step (one input channel) of a gemm_tiles × gemm_blocks register tile:
// gemm_blocks weight loads, gemm_tiles broadcasts, their product in FMAs, two of each a cycle.
double gemm_step_cycles(int tiles, int blocks) {
  if (tiles == 0 || blocks == 0) return 0.0;
  return std::max(tiles * blocks / 2.0, (tiles + blocks) / 2.0) + 0.25;
}

// Cycles of one block's products per input channel and transformed element.
double gemm_block_cycles(std::int64_t block_tiles, std::int64_t oc_blocks, int u, int t) {
  const std::int64_t full_u = block_tiles / u, rest_u = block_tiles % u;
  const std::int64_t full_t = oc_blocks / t, rest_t = oc_blocks % t;
  return full_u * full_t * gemm_step_cycles(u, t) +
         full_u * gemm_step_cycles(u, static_cast<int>(rest_t)) +
         full_t * gemm_step_cycles(static_cast<int>(rest_u), t) +
         gemm_step_cycles(static_cast<int>(rest_u), static_cast<int>(rest_t));
}

GemmTile choose_gemm_tile(std::int64_t block_tiles, std::int64_t oc_blocks, int registers) {
  GemmTile best;
  for (int t = 1; t <= std::min<std::int64_t>(oc_blocks, 8); ++t)
    for (int u = 1; u <= 14; ++u) {
      if (u * t + t + 1 > registers) continue;  // accumulators, weights, the broadcast
      const double cycles = gemm_block_cycles(block_tiles, oc_blocks, u, t);
      if (cycles < best.cycles - 1e-9) best = {u, t, cycles};
    }
  return best;
}

int nonzeros(const std::vector<double>& matrix) {
  return static_cast<int>(std::count_if(matrix.begin(), matrix.end(), [](double v) { return v != 0.0; }));
}

struct WinogradCost {
  double cycles = 0;
  double gemm = 0, transforms = 0, weight_traffic = 0, staging = 0;
};

// Cycles for one image: the products at 85% of the FMA rate, the transforms' adds (two a
// cycle) with their loads and stores, and transformed weights streamed once per block when
// they do not stay in L2.
WinogradCost estimate(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  const WinogradPlan& wp = p.winograd;
  const WinogradTransform& t = winograd_transform(wp.m);
  WinogradCost cost;
  const double block_products =
      wp.elements() * static_cast<double>(s.c) *
      gemm_block_cycles(wp.block_tiles, p.oc_blocks, wp.gemm_tiles, wp.gemm_blocks);
  cost.gemm = static_cast<double>(wp.blocks) * block_products / 0.85;
  // Per tile and channel vector: each pass makes alpha 1-D transforms (nonzeros of the
  // matrix in adds) and stores alpha² vectors, at about 1.5 stores a cycle.
  const double in_cycles = 2.0 * wp.alpha * nonzeros(t.bt) / 2.0 + 2.0 * wp.elements() / 1.5;
  const double out_cycles = (wp.alpha + wp.m) * nonzeros(t.at) / 2.0 +
                            (wp.alpha * wp.m + wp.m * wp.m) / 1.5 + wp.elements() / 2.0;
  cost.transforms = static_cast<double>(wp.tiles()) *
                    (static_cast<double>(wp.ic_blocks) * in_cycles + static_cast<double>(p.oc_blocks) * out_cycles);
  const double weight_bytes = static_cast<double>(p.packed.weight_floats) * 4.0;
  if (weight_bytes > kResidentWeightBytes) cost.weight_traffic = wp.blocks * weight_bytes / 16.0;
  // NCHW staging: every src and dst float read and written once more, strided on one side.
  if (p.stages_nchw()) cost.staging = nchw_staging_cycles(s);
  cost.cycles = cost.gemm + cost.transforms + cost.weight_traffic + cost.staging;
  return cost;
}

double direct_cycles(const KernelPlan& direct) {
  // The direct kernels run at 91-106% of the FMA peak on the 3x3 layers this competes for.
  const double fmas = direct.shape.flops() / 2.0 / static_cast<double>(direct.shape.n);
  return fmas / (2.0 * direct.lanes) / 0.95;
}

void choose_blocks(KernelPlan& p) {
  WinogradPlan& wp = p.winograd;
  const std::int64_t icp = wp.ic_blocks * p.lanes, ocp = p.oc_blocks * p.lanes;
  const std::int64_t tile_bytes = wp.elements() * (icp + ocp) * 4;
  const std::int64_t weight_bytes = p.packed.weight_floats * 4;
  std::int64_t tiles = std::max<std::int64_t>(1, kBlockScratchBytes / tile_bytes);
  std::ostringstream why;
  why << "blocks of tiles whose V and M (" << tile_bytes / 1024.0 << " KiB a tile) fit "
      << kBlockScratchBytes / 1024 << " KiB of L2";
  if (weight_bytes > kResidentWeightBytes) {
    const std::int64_t streaming =
        std::min<std::int64_t>(kStreamingTiles, std::max<std::int64_t>(1, kMaxScratchBytes / tile_bytes));
    if (streaming > tiles) {
      tiles = streaming;
      why << "; the " << weight_bytes / 1024 << " KiB of transformed weights do not stay in "
          << "L2, so blocks grow to " << streaming << " tiles, each weight vector serving that many";
    }
  }
  tiles = std::min(tiles, wp.tiles());
  // Blocks are what threads share: at least kMinBlocks per image while each keeps
  // kMinBlockTiles tiles, so a small image still splits across a few threads, unless every
  // extra block would stream the weights once more.
  if (weight_bytes <= kResidentWeightBytes && ceil_div(wp.tiles(), tiles) < kMinBlocks)
    tiles = std::max(std::min(tiles, kMinBlockTiles), ceil_div(wp.tiles(), kMinBlocks));
  // Equal blocks, whole register tiles where the grid allows.
  std::int64_t blocks = ceil_div(wp.tiles(), tiles);
  // A team shares blocks: a multiple of its threads where the tiles allow, so none waits on
  // another's extra block (each streams weights that do not stay in L2 once more, which the
  // cost model weighs against direct).
  const std::int64_t team = p.threads;
  const bool for_team = team > 1 && blocks % team != 0;
  if (for_team) {
    blocks = std::min(round_up(blocks, team), wp.tiles());
    why << "; " << blocks << " blocks for " << team << " threads";
  }
  tiles = ceil_div(wp.tiles(), blocks);
  const GemmTile gemm = choose_gemm_tile(tiles, p.oc_blocks, p.vector_registers);
  if (!for_team && round_up(tiles, gemm.tiles) <= wp.tiles() && blocks > 1) tiles = round_up(tiles, gemm.tiles);
  wp.block_tiles = tiles;
  wp.blocks = ceil_div(wp.tiles(), tiles);
  wp.blocks_for_team = for_team;
  const GemmTile final_tile = choose_gemm_tile(wp.block_tiles, p.oc_blocks, p.vector_registers);
  wp.gemm_tiles = final_tile.tiles;
  wp.gemm_blocks = final_tile.blocks;
  why << "; " << wp.blocks << " block(s) of " << wp.block_tiles << " tiles per image";
  wp.why = why.str();
}

void lay_out_scratch(KernelPlan& p) {
  WinogradPlan& wp = p.winograd;
  auto aligned = [](std::int64_t floats) { return round_up(floats, 16); };
  const std::int64_t v = wp.elements() * wp.block_tiles * wp.ic_blocks * p.lanes;
  const std::int64_t m = wp.elements() * wp.block_tiles * p.oc_blocks * p.lanes;
  wp.v_offset = 0;
  wp.m_offset = aligned(v);
  wp.temp_offset = wp.m_offset + aligned(m);
  p.work.scratch_floats = wp.temp_offset + aligned(wp.elements() * p.lanes);
}

std::string winograd_name(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  std::ostringstream out;
  out << "conv_k3x3_s1x1_d1x1_winograd_f" << p.winograd.m << "_ur" << p.winograd.gemm_tiles << "x"
      << p.winograd.gemm_blocks << "_" << to_string(s.layout) << (s.add_residual ? "_add" : "");
  if (p.winograd.blocks_for_team) out << "_b" << p.winograd.block_tiles;
  out << "_" << to_string(p.isa);
  if (p.isa == Isa::avx512) out << (p.lanes == 16 ? "_zmm" : "_ymm");
  return out.str();
}

// Tile sizes algo=auto may pick. F(6x6) multiplies 1.8x less than F(4x4), but its 8x8
// transforms cost more than that saves: it measured slower than F(4x4) on every ResNet 3x3
// layer, with 1.3x F(4x4)'s error (tests/winograd_test.cpp prints the table).
bool auto_may_pick(int m) { return m == 2 || m == 4; }

}  // namespace

KernelPlan make_winograd_plan(const ConvShape& shape, Isa isa, int m, int lanes, int threads) {
  if (std::string why = winograd_ineligibility(shape, isa); !why.empty())
    throw Error("algo", "winograd cannot compute this shape: " + why);
  if (lanes != 0 && lanes != 8 && !(lanes == 16 && isa == Isa::avx512))
    throw Error("isa", "winograd kernels at " + std::string(to_string(isa)) + " have no " +
                           std::to_string(lanes) + "-lane vectors");
  const WinogradTransform& t = winograd_transform(m);
  KernelPlan p;
  p.shape = shape;
  p.isa = isa;
  p.threads = std::max(threads, 1);
  p.strategy = Strategy::winograd;
  // 16 lanes unless the channels would leave most of them idle.
  const bool zmm = isa == Isa::avx512 && std::min(shape.c, shape.oc) > 8;
  p.lanes = lanes != 0 ? lanes : zmm ? 16 : 8;
  p.vector_registers = isa == Isa::avx512 ? 32 : 16;
  p.oc_blocks = ceil_div(shape.oc, p.lanes);
  p.oc_tail_lanes = static_cast<int>(shape.oc - (p.oc_blocks - 1) * p.lanes);
  WinogradPlan& wp = p.winograd;
  wp.m = m;
  wp.alpha = t.alpha;
  wp.tiles_h = ceil_div(shape.out_h, m);
  wp.tiles_w = ceil_div(shape.out_w, m);
  wp.ic_blocks = ceil_div(shape.c, p.lanes);
  wp.ic_tail_lanes = static_cast<int>(shape.c - (wp.ic_blocks - 1) * p.lanes);
  p.work.unit = "block";
  p.kernel_layout = Layout::nhwc;  // a tile's channel vectors contiguous; NCHW shapes are staged
  p.packed = make_packed_layout(p);
  choose_blocks(p);
  lay_out_scratch(p);
  p.work.units = wp.blocks;
  p.work.channel_tiles = 1;
  p.estimated_code_bytes = 48 * 1024;
  p.estimated_cycles = estimate(p).cycles;
  p.name = winograd_name(p);
  p.algorithm_choice = "winograd_f" + std::to_string(m);
  return p;
}

namespace {

// make_plan for a team of `threads` (1: one thread).
KernelPlan make_plan_for_team(const ConvShape& shape, Isa isa, Algorithm algorithm, int threads) {
  const std::vector<int> tiles = winograd_tiles(shape, isa, algorithm);
  if (tiles.empty()) {
    KernelPlan direct = make_cheapest_direct_plan(shape, isa, threads);
    direct.algorithm_choice = (algorithm == Algorithm::direct ? "direct as asked (algo=direct)"
                                                              : "direct (Winograd does not apply)") +
                              std::string(direct.algorithm_choice == "direct" ? "" : "; " + direct.algorithm_choice);
    return direct;
  }
  if (tiles.size() == 1) {
    KernelPlan plan = make_winograd_plan(shape, isa, tiles.front(), 0, threads);
    plan.algorithm_choice += " as asked (algo=" + std::string(to_string(algorithm)) + ")";
    return plan;
  }
  KernelPlan direct = make_cheapest_direct_plan(shape, isa, threads);
  // On a team, what the busiest thread does: an image's estimate times its share.
  const double direct_estimate = direct_cycles(direct) * busiest_thread_share(direct, threads);
  KernelPlan best;
  double best_cycles = std::numeric_limits<double>::max();
  std::ostringstream why;
  why << "cost model, cycles per image";
  if (threads > 1) why << " for the busiest of " << threads << " threads";
  why << ": direct " << std::llround(direct_estimate);
  for (int m : tiles) {
    if (algorithm == Algorithm::automatic && !auto_may_pick(m)) continue;
    KernelPlan candidate = make_winograd_plan(shape, isa, m, 0, threads);
    WinogradCost cost = estimate(candidate);
    const double share = busiest_thread_share(candidate, threads);
    for (double* part : {&cost.cycles, &cost.gemm, &cost.transforms, &cost.weight_traffic, &cost.staging})
      *part *= share;
    why << ", F" << m << " " << std::llround(cost.cycles) << " (products " << std::llround(cost.gemm)
        << ", transforms " << std::llround(cost.transforms);
    if (cost.weight_traffic > 0) why << ", weight traffic " << std::llround(cost.weight_traffic);
    if (cost.staging > 0) why << ", nchw staging " << std::llround(cost.staging);
    why << ")";
    if (cost.cycles < best_cycles) {
      best_cycles = cost.cycles;
      best = std::move(candidate);
    }
  }
  // algo=winograd insists; auto takes Winograd only for a clear gain, since its error is larger.
  const bool insists = !direct_allowed(algorithm);
  if (!insists && best_cycles > 0.8 * direct_estimate) {
    direct.algorithm_choice = why.str() + ": direct (Winograd would gain under 1.25x)" +
                              (direct.algorithm_choice == "direct" ? "" : "; " + direct.algorithm_choice);
    return direct;
  }
  best.algorithm_choice = why.str() + ": F" + std::to_string(best.winograd.m);
  return best;
}


}  // namespace

KernelPlan make_plan(const ConvShape& shape, Isa isa) { return make_plan(shape, isa, shape.algo); }

KernelPlan make_plan(const ConvShape& shape, Isa isa, Algorithm algorithm, int threads) {
  KernelPlan plan = make_plan_for_team(shape, isa, algorithm, std::max(threads, 1));
  plan.threads = std::max(threads, 1);
  return plan;
}


}  // namespace convjit
