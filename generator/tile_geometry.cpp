#include "generator/tile_geometry.hpp"

namespace convjit {

TileGeometry make_tile_geometry(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  constexpr std::int64_t f = sizeof(float);
  const std::int64_t icg = s.ic_per_group(), ocg = s.oc_per_group();
  TileGeometry g;
  if (p.strategy != Strategy::winograd) {  // the weights and bias, as they were packed
    const PackedLayout& w = p.packed;
    const std::int64_t e = w.element_bytes;
    g.wei_kh = w.row_stride * e;
    g.wei_kw = w.column_stride * e;
    g.wei_ic = w.input_stride * e;
    g.wei_block = w.block_stride * e;
    g.wei_group = w.group_stride * e;
    g.bias_block = w.lanes * f;
    g.bias_group = w.bias_group_stride * f;
    g.channel_part = w.part_floats() * f;
  }
  switch (p.strategy) {
    case Strategy::oc_vectors: {
      // 8-bit input steps over groups of four input channels (one 32-bit lane of vpdpbusd).
      const std::int64_t fs = s.src_element_bytes(), fd = s.dst_element_bytes();
      const std::int64_t step_channels = s.quantized() ? 4 : 1;
      g.src_row = s.w * s.src_pixel_stride() * fs;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * s.src_pixel_stride() * fs;
      g.src_ic = step_channels * fs;
      // A step's weights: every interleaved group of its input channels.
      g.wei_ic = p.packed.input_stride * p.packed.element_bytes * (step_channels / p.packed.input_interleave);
      g.reduction_ic = icg / step_channels;
      g.tail_channels = static_cast<int>(icg % step_channels);
      g.src_column = s.sw * s.src_pixel_stride() * fs;
      g.dst_column = s.dst_pixel_stride() * fd;
      g.dst_block = p.lanes * fd;
      g.src_block = 0;
      g.dst_row = s.out_w * s.dst_pixel_stride() * fd;
      g.src_group = icg * fs;
      g.dst_group = ocg * fd;
      g.groups_looped = static_cast<int>(s.groups);
      break;
    }
    case Strategy::depthwise: {
      const std::int64_t fs = s.src_element_bytes(), fd = s.dst_element_bytes();
      g.src_row = s.w * s.src_pixel_stride() * fs;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * s.src_pixel_stride() * fs;
      g.src_ic = 0;
      g.reduction_ic = 1;
      g.src_column = s.sw * s.src_pixel_stride() * fs;
      g.dst_column = s.dst_pixel_stride() * fd;
      g.dst_block = p.lanes * fd;
      g.src_block = p.lanes * fs;
      g.dst_row = s.out_w * s.dst_pixel_stride() * fd;
      g.groups_looped = 1;
      break;
    }
    case Strategy::width_vectors:
      g.src_row = s.w * f;
      g.src_kh = s.dh * g.src_row;
      g.src_kw = s.dw * f;
      g.src_ic = s.h * s.w * f;
      g.reduction_ic = icg;
      g.src_column = s.sw * f;
      g.dst_column = f;
      g.dst_block = s.out_h * s.out_w * f;
      g.src_block = 0;
      g.dst_row = s.out_w * f;
      g.src_group = icg * g.src_ic;
      g.dst_group = ocg * g.dst_block;
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
