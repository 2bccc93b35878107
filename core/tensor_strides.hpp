#pragma once
// Where element (channel, row, column) of one image lives, for both layouts and NHWC pixel
// strides: the fp32 and the 8-bit references index tensors the same way, so they share it.
#include <convjit/shape.hpp>

#include <cstdint>

namespace convjit {

// Elements (not bytes) between neighbours along each axis of one image.
struct TensorStrides {
  std::int64_t channel, row, column;

  std::int64_t at(std::int64_t ch, std::int64_t y, std::int64_t x) const {
    return ch * channel + y * row + x * column;
  }
};

inline TensorStrides src_strides(const ConvShape& s) {
  return s.layout == Layout::nhwc
             ? TensorStrides{1, s.w * s.src_pixel_stride(), s.src_pixel_stride()}
             : TensorStrides{s.h * s.w, s.w, 1};
}

inline TensorStrides dst_strides(const ConvShape& s) {
  return s.layout == Layout::nhwc
             ? TensorStrides{1, s.out_w * s.dst_pixel_stride(), s.dst_pixel_stride()}
             : TensorStrides{s.out_h * s.out_w, s.out_w, 1};
}

}  // namespace convjit
