#pragma once
// ConvShape: a validated convolution with every number explicit. It is the cache key
// (together with backend and ISA) and the planner's only input.
#include <convjit/spec.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace convjit {

// Padding before and after along one axis.
struct AxisPadding {
  std::int64_t before = 0;
  std::int64_t after = 0;
  bool operator==(const AxisPadding&) const = default;
};

// E = D·(K−1) + 1
std::int64_t effective_kernel(std::int64_t kernel, std::int64_t dilation);

// O = floor((I + Pb + Pa − E) / S) + 1; 0 when the padded input is smaller than E.
std::int64_t conv_output_size(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                              std::int64_t dilation, AxisPadding pad);

// 'same' padding (O = ceil(I/S)); the odd pixel goes after (SAME_UPPER) or before (lower).
AxisPadding same_padding(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                         std::int64_t dilation, bool extra_before);

struct ConvShape {
  std::int64_t n = 1, c = 1, h = 1, w = 1, oc = 1;
  std::int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t groups = 1;
  std::int64_t out_h = 1, out_w = 1;
  Layout layout = Layout::nhwc;
  bool bias = true;
  Activation act;
  bool add_residual = false;  // the store adds a residual tensor shaped and laid out like dst
  // NHWC pixel strides in floats when wider than the channels (a slice of a wider tensor);
  // 0 when dense, which is what resolve() makes of a stride equal to c or oc.
  std::int64_t src_stride = 0, dst_stride = 0;
  Algorithm algo = Algorithm::automatic;  // as the spec asked (key algo=)
  DataType src_type = DataType::f32, dst_type = DataType::f32;  // keys src=, dst=

  std::int64_t ic_per_group() const { return c / groups; }
  std::int64_t oc_per_group() const { return oc / groups; }
  // 8-bit input: the quantized kernels (weights s8, accumulators s32).
  bool quantized() const { return src_type != DataType::f32; }
  std::int64_t src_element_bytes() const { return static_cast<std::int64_t>(bytes_of(src_type)); }
  std::int64_t dst_element_bytes() const { return static_cast<std::int64_t>(bytes_of(dst_type)); }
  bool is_depthwise() const { return groups > 1 && groups == c && groups == oc; }

  // Elements (floats, or the 8-bit or s32 values) from one pixel to the next (NHWC; NCHW is
  // always dense). The "floats" below count elements of the tensor's own type.
  std::int64_t src_pixel_stride() const { return src_stride ? src_stride : c; }
  std::int64_t dst_pixel_stride() const { return dst_stride ? dst_stride : oc; }
  bool dense_src() const { return src_stride == 0; }
  bool dense_dst() const { return dst_stride == 0; }
  // Floats from one image to the next.
  std::int64_t src_image_floats() const { return h * w * src_pixel_stride(); }
  std::int64_t dst_image_floats() const { return out_h * out_w * dst_pixel_stride(); }
  // The extent of the whole batch in floats: the last pixel needs only its own channels, so
  // a strided tensor ends `stride - channels` floats before n image strides.
  std::int64_t src_elems() const { return n * src_image_floats() - (src_pixel_stride() - c); }
  std::int64_t dst_elems() const { return n * dst_image_floats() - (dst_pixel_stride() - oc); }
  // Weights as the user holds them: HWIO (nhwc) or OIHW (nchw), I = c / groups.
  std::int64_t weight_elems() const { return kh * kw * ic_per_group() * oc; }
  std::int64_t bias_elems() const { return bias ? oc : 0; }

  // Trainable parameters, as Keras counts them.
  std::int64_t params() const { return weight_elems() + bias_elems(); }
  // Multiply-adds × 2 over the whole batch (padded taps counted, as every library does).
  double flops() const;

  // Canonical spec string with explicit pt/pb/pl/pr; parses back to an equal shape.
  std::string to_string() const;
  // The spec with explicit padding that resolves to this shape.
  ConvSpec spec() const;
  // Throws convjit::Error unless this is exactly what ConvSpec::resolve() produces: a shape
  // filled in by hand must not reach a code generator with sizes that disagree.
  void validate() const;
  std::size_t hash() const;
  bool operator==(const ConvShape&) const = default;
};

}  // namespace convjit

template <>
struct std::hash<convjit::ConvShape> {
  std::size_t operator()(const convjit::ConvShape& s) const noexcept { return s.hash(); }
};
