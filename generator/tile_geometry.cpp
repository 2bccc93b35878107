#include "generator/tile_geometry.hpp"

namespace convjit {

TileGeometry make_tile_geometry(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  constexpr std::int64_t f = sizeof(float);
  const std::int64_t icg = s.ic_per_group(), ocg = s.oc_per_group();
  TileGeometry g;
  switch (p.strategy) {
    case Strategy::oc_vectors:
      g.src_row = s.w * s.src_pixel_stride() * f;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * s.src_pixel_stride() * f;
      g.src_ic = f;
      g.wei_ic = p.lanes * f;
      g.wei_kw = icg * g.wei_ic;
      g.wei_kh = s.kw * g.wei_kw;
      g.reduction_ic = icg;
      g.src_column = s.sw * s.src_pixel_stride() * f;
      g.dst_column = s.dst_pixel_stride() * f;
      g.wei_block = s.kh * g.wei_kh;
      g.bias_block = p.lanes * f;
      g.dst_block = p.lanes * f;
      g.src_block = 0;
      g.dst_row = s.out_w * s.dst_pixel_stride() * f;
      g.src_group = icg * f;
      g.dst_group = ocg * f;
      g.wei_group = p.oc_blocks * g.wei_block;
      g.bias_group = p.oc_blocks * g.bias_block;
      g.groups_looped = static_cast<int>(s.groups);
      break;
    case Strategy::depthwise:
      g.src_row = s.w * s.src_pixel_stride() * f;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * s.src_pixel_stride() * f;
      g.src_ic = 0;
      g.wei_ic = 0;
      g.wei_kw = p.lanes * f;
      g.wei_kh = s.kw * g.wei_kw;
      g.reduction_ic = 1;
      g.src_column = s.sw * s.src_pixel_stride() * f;
      g.dst_column = s.dst_pixel_stride() * f;
      g.wei_block = s.kh * g.wei_kh;
      g.bias_block = p.lanes * f;
      g.dst_block = p.lanes * f;
      g.src_block = p.lanes * f;
      g.dst_row = s.out_w * s.dst_pixel_stride() * f;
      g.groups_looped = 1;
      break;
    case Strategy::width_vectors:
      g.src_row = s.w * f;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * f;
      g.src_ic = s.h * s.w * f;
      g.wei_kw = f;
      g.wei_kh = s.kw * f;
      g.wei_ic = s.kh * s.kw * f;
      g.reduction_ic = icg;
      g.src_column = s.sw * f;
      g.dst_column = f;
      g.wei_block = icg * g.wei_ic;
      g.bias_block = f;
      g.dst_block = s.out_h * s.out_w * f;
      g.src_block = 0;
      g.dst_row = s.out_w * f;
      g.src_group = icg * g.src_ic;
      g.dst_group = ocg * g.dst_block;
      g.wei_group = ocg * g.wei_block;
      g.bias_group = ocg * f;
      g.groups_looped = static_cast<int>(s.groups);
      break;
    case Strategy::winograd:  // addressed by WinogradSchedule, not by column tiles
      break;
  }
  return g;
}

int tile_columns(const KernelPlan& p, std::int64_t width) {
  return static_cast<int>(p.strategy == Strategy::width_vectors ? (width + p.lanes - 1) / p.lanes
                                                                 : width);
}

std::uint32_t width_lane_mask(const KernelPlan& p, std::int64_t ow_first, std::int64_t width,
                              int vector, std::int64_t kw) {
  const ConvShape& s = p.shape;
  std::uint32_t lanes = 0;
  for (int lane = 0; lane < p.lanes; ++lane) {
    const std::int64_t column = vector * p.lanes + lane;
    if (column < width && column_tap_in_bounds(s, ow_first + column, kw)) lanes |= 1u << lane;
  }
  return lanes;
}

std::int64_t channel_tiles_per_group(const KernelPlan& p) {
  return (p.oc_blocks + p.oc_tile - 1) / p.oc_tile;
}

std::int64_t channel_tile_count(const KernelPlan& p) {
  return make_tile_geometry(p).groups_looped * channel_tiles_per_group(p);
}

}  // namespace convjit
