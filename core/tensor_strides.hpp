#pragma once
// Where element (channel, row, column) of one image lives, for both layouts and NHWC pixel
// strides, and which taps of a window lie inside the image: the fp32 and the 8-bit references
// index tensors and walk windows the same way, so they share it.
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

// Calls visit(y, x, ih, iw) for each kernel tap (y, x) of output pixel (oh, ow) whose input
// pixel (ih, iw) lies inside the image: padding contributes nothing to either reference.
template <class Visit>
void for_each_tap_in_bounds(const ConvShape& s, std::int64_t oh, std::int64_t ow, Visit visit) {
  for (std::int64_t y = 0; y < s.kh; ++y) {
    const std::int64_t ih = oh * s.sh - s.pad_top + y * s.dh;
    if (ih < 0 || ih >= s.h) continue;
    for (std::int64_t x = 0; x < s.kw; ++x) {
      const std::int64_t iw = ow * s.sw - s.pad_left + x * s.dw;
      if (iw >= 0 && iw < s.w) visit(y, x, ih, iw);
    }
  }
}

inline TensorStrides dst_strides(const ConvShape& s) {
  return s.layout == Layout::nhwc
             ? TensorStrides{1, s.out_w * s.dst_pixel_stride(), s.dst_pixel_stride()}
             : TensorStrides{s.out_h * s.out_w, s.out_w, 1};
}

}  // namespace convjit
