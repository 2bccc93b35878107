#pragma once
// KernelPlan: everything about a kernel decided before a single instruction is emitted.
// Pure data: both emitters (Xbyak, LLVM) and the generic AOT kernel consume it, so the
// backends cannot drift apart, and planner tests run no machine code.
#include <convjit/backend.hpp>
#include <convjit/shape.hpp>

#include "generator/packed_layout.hpp"
#include "generator/strategy.hpp"
#include "generator/winograd_plan.hpp"
#include "generator/work_units.hpp"

#include <cstddef>
#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace convjit {

// What the target's vector unit offers a plan.
struct VectorShape {
  int lanes = 8;       // floats per vector register (ymm: 8, zmm: 16, NEON q: 4)
  int registers = 16;  // vector registers the emitter may hand out
  // Of those, the ones a tile leaves to the code generator. LLVM's AArch64 scheduler issues
  // the next taps' weight and input loads ahead of the FMAs that use them; a tile that takes
  // every register leaves those loads none, and the accumulators spill.
  int reserved = 0;
};
// avx2: ymm0-15. avx512: zmm0-31 or, where 16 lanes would sit mostly idle (few channels),
// ymm0-31 with EVEX encodings; both with opmask registers for tails. neon: v0-v31 (.4s),
// some in reserve, tails through LLVM's masked intrinsics (counted as a vector mask, as avx2).
std::vector<VectorShape> vector_shapes(Isa isa);

// Output rows whose in-bounds taps are exactly kh in [kh_begin, kh_end).
struct RowSegment {
  std::int64_t oh_begin = 0, oh_end = 0;
  std::int64_t kh_begin = 0, kh_end = 0;
  bool operator==(const RowSegment&) const = default;
};

// A run of `repeat` identical tiles of `width` output columns starting at ow_begin.
// Tiles with repeat > 1 have every tap of every column in bounds (the steady middle of a
// row); border tiles have repeat 1 and drop their out-of-bounds taps at generation time.
struct ColumnTile {
  std::int64_t ow_begin = 0;
  std::int64_t width = 0;   // output columns per tile
  std::int64_t repeat = 1;
  bool operator==(const ColumnTile&) const = default;
};

// How a direct kernel meets memory, beside its register tile. Both are run()'s doing, so the
// same code serves either way; the cost model prices them and tuning times them.
struct DirectMemory {
  // An NCHW shape computed by NHWC code (channel vectors) between run()'s transposes.
  bool staged = false;
  // run() calls the kernel a band of output rows at a time (every channel tile per call), so a
  // band's input rows stay in L2 across channel tiles; ignored where no band fits (see
  // WorkUnits::band_units).
  bool banded = false;
  // The reduction in passes over blocks of input channels, each pass over every channel tile
  // and row with the partial sums kept in dst, so a pass's slice of the input stays in L2
  // across the channel tiles (layers with many input channels whose image does not stay
  // there); ignored where no pass fits or the shape adds a residual, which may be dst itself
  // (see KernelPlan::ic_passes).
  bool channel_passes = false;
  bool operator==(const DirectMemory&) const = default;
};

// What a direct plan's cost model counts of memory for one image, beside its compute, so
// `convjit plan` can say what bounds the kernel.
struct MemoryTraffic {
  // Every kernel of the shape reads its input and writes its output once (the write reads the
  // lines first): from beyond L2 unless they stay there. Not in the estimate, which ranks
  // kernels that all move these; in `bound`, which says what limits this one.
  double compulsory_bytes = 0;
  double far_bytes = 0;       // more from beyond L2 (L3 or memory): the input swept again
  double l2_bytes = 0;        // re-read from L2
  double memory_cycles = 0;   // those at their rates, gathers and NCHW staging
  double compute_cycles = 0;  // the register tile's FMAs and loads
  std::string why;            // which sweeps move those bytes
  double all_memory_cycles() const;  // memory_cycles and the compulsory bytes from beyond L2
  bool memory_bound() const;
};

struct KernelPlan {
  ConvShape shape;              // as the caller gave it: its layout is the tensors' layout
  // The layout the code computes in. Differs from shape.layout when run() stages the tensors
  // (stages_nchw()): strategy and tile geometry follow this one.
  Layout kernel_layout = Layout::nhwc;
  Isa isa = Isa::avx2;          // never automatic
  int lanes = 8;                // floats per vector
  int vector_registers = 16;
  Strategy strategy = Strategy::oc_vectors;
  Product product = Product::fma;  // fp32, or how the 8-bit kernels multiply (strategy.hpp)

  // Register tile of a direct kernel (Winograd's products have their own, winograd.gemm_*).
  //  oc_vectors / depthwise: ur_w output pixels × oc_tile channel blocks of `lanes`.
  //  width_vectors: ur_w vectors of `lanes` output columns × oc_tile output channels.
  int ur_w = 1;
  int oc_tile = 1;
  // Depthwise: the kernel columns whose weights the tile holds at once. Each input vector of a
  // kernel row is loaded once for all of them, not once per kernel column (1 for the others).
  int kernel_columns = 1;

  // Channel blocking (oc_vectors: per group; depthwise: over all channels).
  std::int64_t oc_blocks = 1;   // ceil(channels / lanes)
  int oc_tail_lanes = 8;        // valid lanes of the last block (`lanes` when it is full)

  std::vector<RowSegment> rows;       // cover [0, out_h) in order
  std::vector<ColumnTile> columns;    // cover [0, out_w) in order

  // What is unrolled versus kept as a counted loop (decided by the code-size budget).
  bool unroll_rows = false;     // every output row emitted on its own (tiny shapes)
  bool unroll_kh = true;        // kernel rows unrolled inside a tile
  int ic_unroll = 1;            // input channels unrolled per loop step (divides icg or = icg)
  // Input-channel passes (DirectMemory::channel_passes): the reduction's input channels in
  // ic_passes blocks of ic_per_pass (a multiple of ic_unroll); the first pass starts from the
  // bias, the others from the partial sums in dst, and only the last applies the residual and
  // the activation. One pass: the whole reduction at once.
  std::int64_t ic_passes = 1;
  std::int64_t ic_per_pass = 1;

  // Where pack_for_plan puts every weight and bias value, and so where the kernel reads them.
  PackedLayout packed;

  // How run() shares the kernel's work out (units per image, channel tiles, scratch, staging).
  WorkUnits work;
  // The team the plan was made for (the Jit's threads): Winograd cuts an image into at least
  // that many blocks where its tiles allow, and algo=auto compares the busiest thread's share
  // (busiest_thread_share) of each algorithm. A kernel runs correctly with any team.
  int threads = 1;

  // Strategy::winograd only.
  WinogradPlan winograd;
  // Why this algorithm (direct or Winograd at this tile size), for `convjit plan`.
  std::string algorithm_choice;

  // The cost model's cycles for one image on one thread: the register tile's cost over every
  // output row (direct) or products, transforms and traffic (Winograd). Comparable across
  // instruction sets, vector shapes and algorithms, so candidates can be ranked by it.
  double estimated_cycles = 0;
  MemoryTraffic traffic;  // direct plans: what estimated_cycles counts of memory
  std::int64_t estimated_code_bytes = 0;
  std::string name;  // e.g. conv_k3x3_s1x1_d1x1_oc_vectors_ur6x2_nhwc_avx2

  // Lane mask with every lane of a vector set.
  std::uint32_t all_lanes() const { return lanes >= 32 ? ~0u : (1u << lanes) - 1u; }
  // Opmask registers and EVEX encodings (avx512) rather than VEX and vector masks (avx2).
  bool uses_opmasks() const { return isa == Isa::avx512; }
  // NCHW tensors, NHWC code: run() transposes src (and the residual) in and dst out.
  bool stages_nchw() const { return shape.layout == Layout::nchw && kernel_layout == Layout::nhwc; }

  std::string describe() const;
  void describe_winograd(std::ostream& out) const;
  void describe_memory(std::ostream& out) const;  // staging and bands, when there are any
};

// The planner: a pure function of the shape, the instruction set (avx2, avx512 or neon) and
// the algorithm asked for (requested_algorithm in algorithm_policy.hpp; automatic: the cost
// model chooses between direct and Winograd), and of the band budget (band_budget_bytes: the
// host's L2, or CONVJIT_BAND_BYTES); direct kernels are make_cheapest_direct_plan's. The plan's
// shape is the one given, its algo untouched. Without an algorithm, the shape's own.
// `threads`: the team it will run with (KernelPlan::threads).
KernelPlan make_plan(const ConvShape& shape, Isa isa, Algorithm algorithm, int threads = 1);
KernelPlan make_plan(const ConvShape& shape, Isa isa = Isa::avx2);
// The direct kernel whatever the shape's algo says (the generic backend's only kind), in the
// shape's own layout over whole images unless `memory` asks for staging or bands.
// `threads`: the team (KernelPlan::threads), whose busiest thread the register tile is chosen for.
KernelPlan make_direct_plan(const ConvShape& shape, Isa isa = Isa::avx2, DirectMemory memory = {},
                            int threads = 1);
// The memory variants the planner offers a shape's direct kernel: unstaged first; staged for
// NCHW shapes whose NHWC strategy is channel vectors (x86 only: staging is run()'s, and the
// AArch64 objects run without it); each of those banded too where a band fits L2.
std::vector<DirectMemory> direct_memory_variants(const ConvShape& shape, Isa isa);
// The direct kernel of least estimate over direct_memory_variants; algorithm_choice says why.
KernelPlan make_cheapest_direct_plan(const ConvShape& shape, Isa isa, int threads = 1);
// Cycles per image that run()'s NCHW staging adds: src, the residual and dst each read and
// written once more, strided on one side. Shared by every plan that stages.
double nchw_staging_cycles(const ConvShape& shape);
// Bytes of L2 a band of rows (its input and output rows and the weights) may take: half the
// L2, or CONVJIT_BAND_BYTES (core/environment.hpp).
std::size_t band_budget_bytes();
// The Winograd kernel with output tile m (2, 4 or 6); the shape must be eligible. lanes 0:
// 16 at avx512 unless the channels would leave most lanes idle; 8 or 16 forces that width
// (16 only at avx512).
KernelPlan make_winograd_plan(const ConvShape& shape, Isa isa, int m, int lanes = 0, int threads = 1);
// The fraction of one image's work that the busiest of `threads` threads gets when run()
// shares the plan's units (and channel tiles) out (generator/work_split.hpp): 1 for one
// thread, 1/threads for an even split. Its estimate times this is the plan's time on a team.
double busiest_thread_share(const KernelPlan& plan, int threads);
// The direct kernel with this vector shape (one of vector_shapes(isa)) and the cost model's
// tile_rank-th cheapest register tile (0: the cheapest); none when there are fewer tiles.
// make_direct_plan keeps the cheaper vector shape's best tile; these are its alternatives.
std::optional<KernelPlan> make_direct_plan_with(const ConvShape& shape, Isa isa,
                                                VectorShape vectors, int tile_rank,
                                                DirectMemory memory = {}, int threads = 1);
// Depthwise only: the cheapest register tile whose channel blocks span at least
// kWideDepthwiseTileBytes of each pixel, a candidate for tuning beside the model's pick (none
// for other strategies, or when the pixel is narrower).
std::optional<KernelPlan> make_wide_depthwise_plan(const ConvShape& shape, Isa isa,
                                                   VectorShape vectors, DirectMemory memory = {},
                                                   int threads = 1);
// A depthwise tile spanning this many bytes of a pixel's channels: two 64-byte lines, the unit
// the L2's adjacent-line prefetch fetches.
constexpr int kWideDepthwiseTileBytes = 128;
bool is_wide_depthwise_tile(const KernelPlan& plan);

// How a direct kernel of this shape, strategy and instruction set multiplies (Product): for
// avx2, with AVX-VNNI where the host has it (core/cpu_features.hpp), as the band budget
// follows the host's L2.
Product product_of(const ConvShape& shape, Strategy strategy, Isa isa);

// What a plan computes by: direct, or winograd_f2/f4/f6 (the one mapping of tile sizes).
Algorithm algorithm_of(const KernelPlan& plan);

// Taps in bounds, the arithmetic every emitter shares.
// Input column of output column ow at kernel column kw (may be outside [0, w)).
inline std::int64_t input_column(const ConvShape& s, std::int64_t ow, std::int64_t kw) {
  return ow * s.sw - s.pad_left + kw * s.dw;
}
inline std::int64_t input_row(const ConvShape& s, std::int64_t oh, std::int64_t kh) {
  return oh * s.sh - s.pad_top + kh * s.dh;
}
inline bool column_tap_in_bounds(const ConvShape& s, std::int64_t ow, std::int64_t kw) {
  const std::int64_t iw = input_column(s, ow, kw);
  return iw >= 0 && iw < s.w;
}
inline bool row_tap_in_bounds(const ConvShape& s, std::int64_t oh, std::int64_t kh) {
  const std::int64_t ih = input_row(s, oh, kh);
  return ih >= 0 && ih < s.h;
}

}  // namespace convjit
