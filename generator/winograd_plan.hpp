#pragma once
// WinogradPlan: the part of a KernelPlan that only Winograd kernels have. An image's output is
// cut into m×m tiles; each block of `block_tiles` consecutive tiles (row-major over the tile
// grid) goes through three phases whose data stays in the thread's scratch:
//   input transform   V[e][t][c]  = (Bᵀ d_t B)[e]        e < alpha², t < block_tiles
//   products          M[e][t][oc] = sum_c V[e][t][c] · U[e][c][oc]   (one GEMM per e)
//   output transform  y_t = Aᵀ M_t A + bias (+ residual), activated, valid pixels stored
// U = G g Gᵀ is what pack_weights() stores. Blocks are the units of work (KernelPlan::work).
#include <cstdint>
#include <string>

namespace convjit {

struct WinogradPlan {
  int m = 0;          // output tile per axis: F(m×m, 3×3)
  int alpha = 0;      // input tile per axis, m + 2
  std::int64_t tiles_h = 0, tiles_w = 0;  // the tile grid of one image
  std::int64_t block_tiles = 0;           // tiles per block (the last block may have fewer)
  std::int64_t blocks = 0;                // per image
  bool blocks_for_team = false;           // more blocks than one thread would take (KernelPlan::threads)
  std::int64_t ic_blocks = 0;             // channel vectors of the input
  int ic_tail_lanes = 0;                  // valid lanes of the last one

  // The products' register tile: gemm_tiles tiles × gemm_blocks output-channel vectors.
  int gemm_tiles = 1;
  int gemm_blocks = 1;

  // Scratch, in floats from the thread's scratch pointer (each part 64-byte aligned).
  std::int64_t v_offset = 0;        // V: alpha² × block_tiles × ic_blocks·lanes
  std::int64_t m_offset = 0;        // M: alpha² × block_tiles × oc_blocks·lanes
  std::int64_t temp_offset = 0;     // between a transform's two passes: alpha² vectors
  // The whole scratch, and the NCHW staging (the kernel computes NHWC; run() transposes src,
  // the residual and dst through the calling thread's staging buffer), are KernelPlan::work's.

  std::string why;  // the planner's reasons, for `convjit plan`

  std::int64_t tiles() const { return tiles_h * tiles_w; }
  std::int64_t elements() const { return std::int64_t{alpha} * alpha; }
  std::int64_t last_block_tiles() const { return tiles() - (blocks - 1) * block_tiles; }
};

}  // namespace convjit
