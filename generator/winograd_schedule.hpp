#pragma once
// WinogradSchedule: the walk of a Winograd plan that the emitters translate. It spells out the
// border classes of the tile grid (which input rows and columns of a tile lie in the image,
// which output rows and columns it stores), the 1-D transforms of each class as linear
// combinations with the padding's terms already dropped, the byte strides of every buffer and
// the products' register tiles. Everything is known when the code is generated: the emitted
// transforms hold their coefficients as constants and read no padding.
#include "generator/plan.hpp"
#include "generator/tile_epilogue.hpp"
#include "generator/vector_store.hpp"
#include "generator/winograd_transform.hpp"

#include <cstdint>
#include <vector>

namespace convjit {

// sum of coeff × input[index]; empty means the value is zero.
struct LinearTerm {
  int input = 0;
  float coeff = 0.0f;
  bool operator==(const LinearTerm&) const = default;
};
using LinearCombination = std::vector<LinearTerm>;

// A 2-D transform done as two passes of 1-D transforms through a temporary:
//   pass 1, for each column j in `columns`:  t[i][j] = first[i] over the column's inputs
//   pass 2, for each row i in `rows`:        out[i][k] = second[k] over t[i][·]
// Inputs that are zero (padding, or t[i][j] of a dropped column) have no term.
struct TileTransform {
  std::vector<int> columns;                 // columns pass 1 reads (in bounds)
  std::vector<LinearCombination> first;     // by output row i of pass 1
  std::vector<int> rows;                    // rows pass 2 produces
  std::vector<LinearCombination> second;    // by output column k of pass 2
};

// Tiles of one border class share one transform routine.
struct TileClasses {
  std::vector<std::uint8_t> row_class;      // per tile row
  std::vector<std::uint8_t> column_class;   // per tile column
  int row_classes = 0, column_classes = 0;
  std::vector<TileTransform> transforms;    // [row_class * column_classes + column_class]
};

// One products routine: `tiles` tiles of a block, in register tiles of gemm_tiles (and one
// partial tile of `tail_tiles`), over oc groups of gemm_blocks vectors (and one partial).
struct GemmPass {
  std::int64_t tiles = 0;
  std::int64_t full_tile_groups = 0;
  int tail_tiles = 0;
  std::int64_t full_block_groups = 0;
  int tail_blocks = 0;
};

struct WinogradSchedule {
  const WinogradTransform* transform = nullptr;
  int m = 0, alpha = 0, lanes = 8;
  TileClasses input;   // Bᵀ d B: masks of input rows/columns in the image
  TileClasses output;  // Aᵀ M A: output rows/columns stored
  // Coefficients other than ±1 that the transforms multiply by (each once).
  std::vector<float> constants;

  // Bytes. A tile's input starts at src + ty·src_tile_row + tx·src_tile_column + src_origin
  // (which may lie before src: only in-bounds rows and columns are read).
  std::int64_t src_row = 0, src_column = 0, src_tile_row = 0, src_tile_column = 0, src_origin = 0;
  std::int64_t dst_row = 0, dst_column = 0, dst_tile_row = 0, dst_tile_column = 0;
  std::int64_t channel_vector = 0;       // lanes floats
  std::int64_t v_element = 0, v_tile = 0, v_begin = 0;  // V[e][t][c] from the scratch
  std::int64_t m_element = 0, m_tile = 0, m_begin = 0;  // M[e][t][oc]
  std::int64_t temp_begin = 0;                         // the passes' temporary, alpha² vectors
  std::int64_t u_element = 0, u_block = 0;             // U[e][ob][c][lanes] in the weights

  std::int64_t ic_full_blocks = 0;  // channel vectors with every lane; then one tail if any
  int ic_tail_lanes = 0;            // 0: no tail
  std::int64_t oc_full_blocks = 0;
  int oc_tail_lanes = 0;
  VectorStore oc_tail_store;        // how the output transform writes the tail's lanes
  TileEpilogue epilogue;            // bias, residual, activation of every output vector
  std::int64_t reduction = 0;       // input channels of the products
  int reduction_unroll = 1;         // channels per step of their loop

  GemmPass full_block, last_block;  // last_block.tiles == full_block.tiles when all blocks are full
};

WinogradSchedule make_winograd_schedule(const KernelPlan& plan);

}  // namespace convjit
