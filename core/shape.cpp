// ConvShape and the shape arithmetic of docs/ARCHITECTURE.md ("Shape arithmetic").
#include <convjit/error.hpp>
#include <convjit/shape.hpp>

#include <algorithm>
#include <functional>

namespace convjit {

std::int64_t effective_kernel(std::int64_t kernel, std::int64_t dilation) {
  return dilation * (kernel - 1) + 1;
}

std::int64_t conv_output_size(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                              std::int64_t dilation, AxisPadding pad) {
  const std::int64_t padded = input + pad.before + pad.after;
  const std::int64_t extent = effective_kernel(kernel, dilation);
  if (padded < extent) return 0;
  return (padded - extent) / stride + 1;
}

AxisPadding same_padding(std::int64_t input, std::int64_t kernel, std::int64_t stride,
                         std::int64_t dilation, bool extra_before) {
  const std::int64_t out = (input + stride - 1) / stride;
  const std::int64_t total =
      std::max<std::int64_t>((out - 1) * stride + effective_kernel(kernel, dilation) - input, 0);
  const std::int64_t small = total / 2;
  return extra_before ? AxisPadding{total - small, small} : AxisPadding{small, total - small};
}

ConvSpec ConvShape::spec() const {
  ConvSpec spec;
  spec.n = n; spec.c = c; spec.h = h; spec.w = w; spec.oc = oc;
  spec.kh = kh; spec.kw = kw; spec.sh = sh; spec.sw = sw; spec.dh = dh; spec.dw = dw;
  spec.padding = PaddingMode::explicit_pads;
  spec.pad_top = pad_top; spec.pad_bottom = pad_bottom;
  spec.pad_left = pad_left; spec.pad_right = pad_right;
  spec.groups = groups; spec.layout = layout; spec.bias = bias; spec.act = act;
  spec.add_residual = add_residual;
  spec.src_stride = src_stride;
  spec.dst_stride = dst_stride;
  spec.algo = algo;
  spec.src_type = src_type;
  spec.dst_type = dst_type;
  return spec;
}

std::string ConvShape::to_string() const { return spec().to_string(); }

void ConvShape::validate() const {
  const ConvShape resolved = spec().resolve();  // throws for invalid fields
  if (resolved.out_h != out_h || resolved.out_w != out_w)
    throw Error("shape", "output " + std::to_string(out_h) + "x" + std::to_string(out_w) +
                             " does not follow from the input, kernel, stride, dilation and "
                             "padding (expected " + std::to_string(resolved.out_h) + "x" +
                             std::to_string(resolved.out_w) + "); build shapes with ConvSpec::resolve()");
  if (!(resolved == *this)) throw Error("shape", "is not a resolved shape; build it with ConvSpec::resolve()");
}

double ConvShape::flops() const {
  return 2.0 * static_cast<double>(n) * static_cast<double>(out_h) * static_cast<double>(out_w) *
         static_cast<double>(oc) * static_cast<double>(kh * kw * ic_per_group());
}

std::size_t ConvShape::hash() const {
  std::size_t seed = 1469598103934665603ull;
  auto mix = [&](std::uint64_t v) { seed ^= v + 0x9e3779b97f4a7c15ull + (seed << 6) + (seed >> 2); };
  for (std::int64_t v : {n, c, h, w, oc, kh, kw, sh, sw, dh, dw, pad_top, pad_bottom, pad_left,
                         pad_right, groups, out_h, out_w, src_stride, dst_stride})
    mix(static_cast<std::uint64_t>(v));
  mix(static_cast<std::uint64_t>(layout));
  mix(bias ? 1 : 0);
  mix(add_residual ? 1 : 0);
  mix(static_cast<std::uint64_t>(algo) + 11);
  mix(static_cast<std::uint64_t>(src_type) * 16 + static_cast<std::uint64_t>(dst_type) + 101);
  mix(static_cast<std::uint64_t>(act.kind));
  mix(std::hash<float>{}(act.lo));
  mix(std::hash<float>{}(act.hi));
  mix(std::hash<float>{}(act.alpha));
  return seed;
}

}  // namespace convjit
