#include "layer.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace convjit::python {
namespace {

// Input sizes a layer keeps kernels for; a model fed many sizes recompiles (through the Jit's
// cache) instead of holding packed weights for every size it ever saw.
constexpr std::size_t kInputsPerLayer = 8;
// About a microsecond of arithmetic at this library's speeds: more than a GIL hand-off costs.
constexpr double kReleaseGilFlops = 1e5;

std::string dims(std::int64_t a, std::int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }

}  // namespace

std::vector<float> oihw_to_hwio(const LayerParams& p, const float* oihw) {
  const std::int64_t ic = p.in_channels / p.groups, oc = p.out_channels;
  std::vector<float> hwio(static_cast<std::size_t>(p.weight_elems()));
  for (std::int64_t o = 0; o < oc; ++o)
    for (std::int64_t i = 0; i < ic; ++i)
      for (std::int64_t y = 0; y < p.kh; ++y)
        for (std::int64_t x = 0; x < p.kw; ++x)
          hwio[static_cast<std::size_t>(((y * p.kw + x) * ic + i) * oc + o)] =
              oihw[((o * ic + i) * p.kh + y) * p.kw + x];
  return hwio;
}

LayerParams params_of(const ConvShape& s) {
  LayerParams p;
  p.in_channels = s.c;
  p.out_channels = s.oc;
  p.kh = s.kh;
  p.kw = s.kw;
  p.sh = s.sh;
  p.sw = s.sw;
  p.dh = s.dh;
  p.dw = s.dw;
  p.pad_top = s.pad_top;
  p.pad_bottom = s.pad_bottom;
  p.pad_left = s.pad_left;
  p.pad_right = s.pad_right;
  p.groups = s.groups;
  p.bias = s.bias;
  p.act = s.act;
  return p;
}

PackedWeights pack_oihw(const Kernel& kernel, const float* oihw, const float* bias) {
  const ConvShape& s = kernel.shape();
  if (s.layout == Layout::nchw) return kernel.pack_weights(oihw, bias);
  const std::vector<float> hwio = oihw_to_hwio(params_of(s), oihw);
  return kernel.pack_weights(hwio.data(), bias);
}

void require_input_channels(const LayerParams& p, std::int64_t channels) {
  if (channels == p.in_channels) return;
  throw Error("input", "has " + std::to_string(channels) + " channels, but groups=" +
                           std::to_string(p.groups) + " and a weight of shape (" +
                           std::to_string(p.out_channels) + ", " +
                           std::to_string(p.in_channels / p.groups) + ", " + std::to_string(p.kh) +
                           ", " + std::to_string(p.kw) + ") expect " + std::to_string(p.in_channels));
}

std::pair<std::int64_t, std::int64_t> output_size(const LayerParams& p, std::int64_t h, std::int64_t w) {
  const AxisPadding vertical{p.pad_top, p.pad_bottom}, horizontal{p.pad_left, p.pad_right};
  const std::int64_t padded_h = h + p.pad_top + p.pad_bottom, padded_w = w + p.pad_left + p.pad_right;
  const std::int64_t extent_h = effective_kernel(p.kh, p.dh), extent_w = effective_kernel(p.kw, p.dw);
  if (padded_h < extent_h || padded_w < extent_w)
    throw Error("input", "padded input size " + dims(padded_h, padded_w) +
                             " is smaller than the (dilated) kernel " + dims(extent_h, extent_w));
  return {conv_output_size(h, p.kh, p.sh, p.dh, vertical), conv_output_size(w, p.kw, p.sw, p.dw, horizontal)};
}

ConvShape shape_for(const LayerParams& p, std::int64_t n, std::int64_t h, std::int64_t w, Layout layout) {
  output_size(p, h, w);
  try {
    return spec_for(p, n, h, w, layout).resolve();
  } catch (const Error& e) {
    const char* argument = conv2d_argument_for(e.field());
    if (!argument) throw;
    throw Error(argument, e.reason());
  }
}

std::shared_ptr<const Kernel> kernel_for(const LayerParams& p, std::int64_t n, std::int64_t h,
                                         std::int64_t w, Layout layout) {
  return Jit::global().get(shape_for(p, n, h, w, layout));
}

bool worth_releasing_gil(const ConvShape& shape) { return shape.flops() >= kReleaseGilFlops; }

ConvSpec spec_for(const LayerParams& p, std::int64_t n, std::int64_t h, std::int64_t w, Layout layout) {
  ConvSpec s;
  s.n = n;
  s.c = p.in_channels;
  s.h = h;
  s.w = w;
  s.oc = p.out_channels;
  s.kh = p.kh;
  s.kw = p.kw;
  s.sh = p.sh;
  s.sw = p.sw;
  s.dh = p.dh;
  s.dw = p.dw;
  s.padding = PaddingMode::explicit_pads;
  s.pad_top = p.pad_top;
  s.pad_bottom = p.pad_bottom;
  s.pad_left = p.pad_left;
  s.pad_right = p.pad_right;
  s.groups = p.groups;
  s.layout = layout;
  s.bias = p.bias;
  s.act = p.act;
  return s;
}

const char* conv2d_argument_for(const std::string& key) {
  static const std::pair<const char*, const char*> table[] = {
      {"n", "input"}, {"c", "input"}, {"h", "input"}, {"w", "input"}, {"src", "input"},
      {"dst", "input"}, {"oc", "weight"}, {"kh", "weight"}, {"kw", "weight"},
      {"weights", "weight"}, {"sh", "stride"}, {"sw", "stride"}, {"dh", "dilation"},
      {"dw", "dilation"}, {"pt", "padding"}, {"pb", "padding"}, {"pl", "padding"},
      {"pr", "padding"}, {"g", "groups"}, {"act", "activation"}, {"bias", "bias"}};
  for (const auto& [spec_key, argument] : table)
    if (key == spec_key) return argument;
  return nullptr;
}

Layer::Layer(LayerParams params, LayerWeights weights)
    : params_(params), weights_(std::move(weights)) {
  if (!weights_.oihw) throw Error("weight", "is missing");
}

std::shared_ptr<const CompiledInput> Layer::compiled(std::int64_t n, std::int64_t h, std::int64_t w,
                                                     Layout layout) {
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const CompiledInput& c = *inputs_[i];
    if (c.n == n && c.h == h && c.w == w && c.layout == layout) {
      if (i != 0) std::rotate(inputs_.begin(), inputs_.begin() + static_cast<std::ptrdiff_t>(i),
                              inputs_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return inputs_.front();
    }
  }
  auto fresh = compile(n, h, w, layout);
  if (inputs_.size() == kInputsPerLayer) inputs_.pop_back();
  inputs_.insert(inputs_.begin(), fresh);
  return fresh;
}

std::shared_ptr<const CompiledInput> Layer::compile(std::int64_t n, std::int64_t h, std::int64_t w,
                                                    Layout layout) const {
  auto c = std::make_shared<CompiledInput>();
  c->n = n;
  c->h = h;
  c->w = w;
  c->layout = layout;
  c->shape = shape_for(params_, n, h, w, layout);
  c->out_h = c->shape.out_h;
  c->out_w = c->shape.out_w;
  c->worth_releasing_gil = worth_releasing_gil(c->shape);
  c->kernel = Jit::global().get(c->shape);
  c->packed = pack_oihw(*c->kernel, weights_.oihw, weights_.bias);
  return c;
}

void Layer::replace_weights(LayerWeights weights) {
  if (!weights.oihw) throw Error("weight", "is missing");
  inputs_.clear();
  weights_ = std::move(weights);
}

}  // namespace convjit::python
