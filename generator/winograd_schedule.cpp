#include "generator/winograd_schedule.hpp"

#include "generator/tile_geometry.hpp"

#include <algorithm>

namespace convjit {
namespace {

// Output `row` of matrix (rows × cols, row-major) over the inputs whose bit is set.
LinearCombination combination(const std::vector<double>& matrix, int cols, int row,
                              std::uint32_t inputs) {
  LinearCombination terms;
  for (int j = 0; j < cols; ++j)
    if ((inputs >> j & 1u) && matrix[row * cols + j] != 0.0)
      terms.push_back({j, static_cast<float>(matrix[row * cols + j])});
  return terms;
}

std::uint32_t bits_in_range(int count, std::int64_t first, std::int64_t end) {
  std::uint32_t mask = 0;
  for (int i = 0; i < count; ++i)
    if (first + i >= 0 && first + i < end) mask |= 1u << i;
  return mask;
}

// Numbers the distinct keys of `keys` in order of first appearance.
template <class Key>
std::vector<Key> classify(const std::vector<Key>& keys, std::vector<std::uint8_t>& classes) {
  std::vector<Key> distinct;
  for (const Key& k : keys) {
    auto it = std::find(distinct.begin(), distinct.end(), k);
    classes.push_back(static_cast<std::uint8_t>(it - distinct.begin()));
    if (it == distinct.end()) distinct.push_back(k);
  }
  return distinct;
}

// Bᵀ d B with only the in-bounds rows (row_mask) and columns (column_mask) of d.
TileTransform input_transform(const WinogradTransform& t, std::uint32_t row_mask,
                              std::uint32_t column_mask) {
  TileTransform x;
  const int a = t.alpha;
  for (int j = 0; j < a; ++j)
    if (column_mask >> j & 1u) x.columns.push_back(j);
  for (int i = 0; i < a; ++i) x.first.push_back(combination(t.bt, a, i, row_mask));
  // V is written whole: a row i whose first[i] is empty (or a tile with no column in the
  // image) is zero, which the emitters store without computing.
  for (int i = 0; i < a; ++i) x.rows.push_back(i);
  for (int k = 0; k < a; ++k) x.second.push_back(combination(t.bt, a, k, column_mask));
  return x;
}

// Aᵀ M A for the first `rows` × `columns` outputs of the tile.
TileTransform output_transform(const WinogradTransform& t, int rows, int columns) {
  TileTransform x;
  const int a = t.alpha;
  const std::uint32_t all = (1u << a) - 1u;
  for (int j = 0; j < a; ++j) x.columns.push_back(j);
  for (int i = 0; i < rows; ++i) x.first.push_back(combination(t.at, a, i, all));
  for (int i = 0; i < rows; ++i) x.rows.push_back(i);
  for (int k = 0; k < columns; ++k) x.second.push_back(combination(t.at, a, k, all));
  return x;
}

GemmPass gemm_pass(std::int64_t tiles, const KernelPlan& p) {
  GemmPass g;
  g.tiles = tiles;
  g.full_tile_groups = tiles / p.winograd.gemm_tiles;
  g.tail_tiles = static_cast<int>(tiles % p.winograd.gemm_tiles);
  g.full_block_groups = p.oc_blocks / p.winograd.gemm_blocks;
  g.tail_blocks = static_cast<int>(p.oc_blocks % p.winograd.gemm_blocks);
  return g;
}

void collect_constants(const TileClasses& classes, std::vector<float>& constants) {
  for (const TileTransform& x : classes.transforms)
    for (const auto* list : {&x.first, &x.second})
      for (const LinearCombination& c : *list)
        for (const LinearTerm& term : c) {
          const float v = term.coeff < 0 ? -term.coeff : term.coeff;
          if (v != 1.0f && std::find(constants.begin(), constants.end(), v) == constants.end())
            constants.push_back(v);
        }
}

}  // namespace

WinogradSchedule make_winograd_schedule(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  const WinogradPlan& wp = p.winograd;
  WinogradSchedule w;
  w.transform = &winograd_transform(wp.m);
  w.m = wp.m;
  w.alpha = wp.alpha;
  w.lanes = p.lanes;
  const int a = wp.alpha;

  std::vector<std::uint32_t> row_masks, column_masks;
  std::vector<int> row_counts, column_counts;
  for (std::int64_t ty = 0; ty < wp.tiles_h; ++ty) {
    row_masks.push_back(bits_in_range(a, ty * wp.m - s.pad_top, s.h));
    row_counts.push_back(static_cast<int>(std::min<std::int64_t>(wp.m, s.out_h - ty * wp.m)));
  }
  for (std::int64_t tx = 0; tx < wp.tiles_w; ++tx) {
    column_masks.push_back(bits_in_range(a, tx * wp.m - s.pad_left, s.w));
    column_counts.push_back(static_cast<int>(std::min<std::int64_t>(wp.m, s.out_w - tx * wp.m)));
  }
  const auto in_rows = classify(row_masks, w.input.row_class);
  const auto in_columns = classify(column_masks, w.input.column_class);
  w.input.row_classes = static_cast<int>(in_rows.size());
  w.input.column_classes = static_cast<int>(in_columns.size());
  for (std::uint32_t rm : in_rows)
    for (std::uint32_t cm : in_columns) w.input.transforms.push_back(input_transform(*w.transform, rm, cm));
  const auto out_rows = classify(row_counts, w.output.row_class);
  const auto out_columns = classify(column_counts, w.output.column_class);
  w.output.row_classes = static_cast<int>(out_rows.size());
  w.output.column_classes = static_cast<int>(out_columns.size());
  for (int rows : out_rows)
    for (int cols : out_columns) w.output.transforms.push_back(output_transform(*w.transform, rows, cols));
  collect_constants(w.input, w.constants);
  collect_constants(w.output, w.constants);

  constexpr std::int64_t f = sizeof(float);
  w.src_column = s.src_pixel_stride() * f;
  w.src_row = s.w * w.src_column;
  w.src_tile_row = wp.m * w.src_row;
  w.src_tile_column = wp.m * w.src_column;
  w.src_origin = -s.pad_top * w.src_row - s.pad_left * w.src_column;
  w.dst_column = s.dst_pixel_stride() * f;
  w.dst_row = s.out_w * w.dst_column;
  w.dst_tile_row = wp.m * w.dst_row;
  w.dst_tile_column = wp.m * w.dst_column;
  w.channel_vector = p.lanes * f;
  w.v_tile = wp.ic_blocks * p.lanes * f;
  w.v_element = wp.block_tiles * w.v_tile;
  w.v_begin = wp.v_offset * f;
  w.m_tile = p.oc_blocks * p.lanes * f;
  w.m_element = wp.block_tiles * w.m_tile;
  w.m_begin = wp.m_offset * f;
  w.temp_begin = wp.temp_offset * f;
  // U's elements are its layout's columns (e = row·alpha + column, consecutive).
  w.u_block = p.packed.block_stride * f;
  w.u_element = p.packed.column_stride * f;

  w.ic_tail_lanes = wp.ic_tail_lanes < p.lanes ? wp.ic_tail_lanes : 0;
  w.ic_full_blocks = wp.ic_blocks - (w.ic_tail_lanes ? 1 : 0);
  w.oc_tail_lanes = p.oc_tail_lanes < p.lanes ? p.oc_tail_lanes : 0;
  w.oc_full_blocks = p.oc_blocks - (w.oc_tail_lanes ? 1 : 0);
  if (w.oc_tail_lanes)
    w.oc_tail_store = make_vector_store(p.isa, p.lanes, first_lanes(w.oc_tail_lanes, p.lanes));
  w.epilogue = make_tile_epilogue(s, true);
  w.reduction = s.c;
  w.reduction_unroll = static_cast<int>(std::min<std::int64_t>(s.c, 4));
  w.full_block = gemm_pass(wp.block_tiles, p);
  w.last_block = gemm_pass(wp.last_block_tiles(), p);
  return w;
}

}  // namespace convjit
