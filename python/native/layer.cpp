#include "layer.hpp"

#include "transpose.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace convjit::python {
namespace {

// Input sizes a layer keeps kernels for; a model fed many sizes recompiles (through the Jit's
// cache) instead of holding packed weights for every size it ever saw.
constexpr std::size_t kInputsPerLayer = 8;
// About a microsecond of arithmetic at this library's speeds: more than a GIL hand-off costs.
constexpr double kReleaseGilFlops = 1e5;

std::string dims(std::int64_t a, std::int64_t b) { return std::to_string(a) + "x" + std::to_string(b); }

// Reused across calls: the transposed copies of one layer's activations. Per thread, so calls
// from several threads (the GIL released) never share one; they only grow.
std::vector<float>& scratch(int which) {
  thread_local std::vector<float> buffers[2];
  return buffers[which];
}

float* scratch_floats(int which, std::size_t floats) {
  std::vector<float>& buffer = scratch(which);
  if (buffer.size() < floats) buffer.resize(floats);
  return buffer.data();
}

// Best of two runs (the first of each also warms caches and faults pages in).
double best_run_seconds(const CompiledInput& c, const float* src, float* dst, int threads) {
  double best = 1e30;
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    c.run(src, dst, threads);
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}

// What timing chose per (NCHW shape, threads), process-wide: each shape is timed once, however
// many layers (or conv2d calls, each with a layer of its own) run it.
class TimedChoices {
 public:
  std::optional<bool> find(const ConvShape& shape, int threads) const {
    std::lock_guard lock(mutex_);
    auto it = via_nhwc_.find({shape, threads});
    if (it == via_nhwc_.end()) return std::nullopt;
    return it->second;
  }
  void remember(const ConvShape& shape, int threads, bool via_nhwc) {
    std::lock_guard lock(mutex_);
    if (via_nhwc_.size() >= kMaxChoices) via_nhwc_.clear();
    via_nhwc_[{shape, threads}] = via_nhwc;
  }

 private:
  static constexpr std::size_t kMaxChoices = 65536;
  struct KeyHash {
    std::size_t operator()(const std::pair<ConvShape, int>& key) const {
      return key.first.hash() * 31 + static_cast<std::size_t>(key.second);
    }
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::pair<ConvShape, int>, bool, KeyHash> via_nhwc_;
};

TimedChoices& timed_choices() {
  static auto* choices = new TimedChoices;  // never destroyed: layers may outlive statics
  return *choices;
}

}  // namespace

NchwStrategy nchw_strategy() {
  const char* env = std::getenv("CONVJIT_NCHW_STRATEGY");
  if (!env || !*env || std::string_view(env) == "auto") return NchwStrategy::automatic;
  if (std::string_view(env) == "direct") return NchwStrategy::direct;
  if (std::string_view(env) == "nhwc") return NchwStrategy::via_nhwc;
  throw Error("CONVJIT_NCHW_STRATEGY", "expected auto, direct or nhwc, got '" + std::string(env) + "'");
}

void CompiledInput::run(const float* src, float* dst, int threads) const {
  if (!via_nhwc) {
    run_in_kernel_layout(src, dst, threads);
    return;
  }
  float* src_nhwc = scratch_floats(0, static_cast<std::size_t>(shape.src_elems()));
  float* dst_nhwc = scratch_floats(1, static_cast<std::size_t>(shape.dst_elems()));
  nchw_to_nhwc(src, src_nhwc, shape.n, shape.c, shape.h * shape.w, threads);
  run_in_kernel_layout(src_nhwc, dst_nhwc, threads);
  nhwc_to_nchw(dst_nhwc, dst, shape.n, shape.oc, shape.out_h * shape.out_w, threads);
}

void CompiledInput::run_in_kernel_layout(const float* src, float* dst, int threads) const {
  if (bands.size() == 1) {
    bands.front().kernel->run(src, bands.front().packed, dst, threads);
    return;
  }
  const std::size_t src_image = static_cast<std::size_t>(shape.c * shape.h * shape.w);
  const std::size_t dst_image = static_cast<std::size_t>(shape.oc * shape.out_h * shape.out_w);
  for (std::int64_t image = 0; image < shape.n; ++image)
    for (const Band& band : bands)
      band.kernel->run(src + image * src_image + band.src_offset, band.packed,
                       dst + image * dst_image + band.dst_offset, threads);
}

const Kernel& CompiledInput::main_kernel() const {
  const Band* widest = &bands.front();
  for (const Band& band : bands)
    if (band.kernel->shape().out_h > widest->kernel->shape().out_h) widest = &band;
  return *widest->kernel;
}

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
                                                     Layout layout, int threads) {
  for (std::size_t i = 0; i < inputs_.size(); ++i) {
    const CompiledInput& c = *inputs_[i];
    if (c.n == n && c.h == h && c.w == w && c.layout == layout) {
      if (i != 0) std::rotate(inputs_.begin(), inputs_.begin() + static_cast<std::ptrdiff_t>(i),
                              inputs_.begin() + static_cast<std::ptrdiff_t>(i) + 1);
      return inputs_.front();
    }
  }
  auto fresh = compile(n, h, w, layout, threads);
  if (inputs_.size() == kInputsPerLayer) inputs_.pop_back();
  inputs_.insert(inputs_.begin(), fresh);
  return fresh;
}

std::shared_ptr<CompiledInput> Layer::compile_for(std::int64_t n, std::int64_t h, std::int64_t w,
                                                  Layout requested, Layout kernel_layout) const {
  auto c = std::make_shared<CompiledInput>();
  c->n = n;
  c->h = h;
  c->w = w;
  c->layout = requested;
  c->via_nhwc = requested != kernel_layout;
  c->shape = shape_for(params_, n, h, w, kernel_layout);
  c->out_h = c->shape.out_h;
  c->out_w = c->shape.out_w;
  c->worth_releasing_gil = worth_releasing_gil(c->shape);
  if (kernel_layout == Layout::nhwc) c->bands = plan_bands(params_, c->shape, weights_, band_budget_bytes());
  if (c->bands.empty()) {
    Band whole;
    whole.kernel = Jit::global().get(c->shape);
    whole.packed = pack_oihw(*whole.kernel, weights_.oihw, weights_.bias);
    c->bands.push_back(std::move(whole));
  }
  return c;
}

std::shared_ptr<const CompiledInput> Layer::compile(std::int64_t n, std::int64_t h, std::int64_t w,
                                                    Layout layout, int threads) const {
  const NchwStrategy strategy = layout == Layout::nchw ? nchw_strategy() : NchwStrategy::direct;
  if (strategy == NchwStrategy::direct) return compile_for(n, h, w, layout, layout);
  if (strategy == NchwStrategy::via_nhwc) return compile_for(n, h, w, layout, Layout::nhwc);
  const ConvShape shape = shape_for(params_, n, h, w, Layout::nchw);
  if (const std::optional<bool> known = timed_choices().find(shape, threads))
    return compile_for(n, h, w, layout, *known ? Layout::nhwc : Layout::nchw);
  auto direct = compile_for(n, h, w, layout, Layout::nchw);
  auto transposed = compile_for(n, h, w, layout, Layout::nhwc);
  std::vector<float> src(static_cast<std::size_t>(shape.src_elems()));
  std::vector<float> dst(static_cast<std::size_t>(shape.dst_elems()));
  const double direct_s = best_run_seconds(*direct, src.data(), dst.data(), threads);
  const double transposed_s = best_run_seconds(*transposed, src.data(), dst.data(), threads);
  const bool via_nhwc = transposed_s < direct_s;
  timed_choices().remember(shape, threads, via_nhwc);
  return via_nhwc ? transposed : direct;
}

void Layer::replace_weights(LayerWeights weights) {
  if (!weights.oihw) throw Error("weight", "is missing");
  inputs_.clear();
  weights_ = std::move(weights);
}

}  // namespace convjit::python
