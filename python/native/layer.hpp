#pragma once
// One convolution layer as the Python module sees it: conv2d's arguments with everything but
// batch and spatial size fixed, PyTorch-layout (OIHW) weights, and the kernels compiled for the
// input sizes the layer has met, each with its own packed weights. Both extension modules
// (_native for NumPy, _torch_native for tensors) run their layers through this class.
#include <convjit/convjit.hpp>

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace convjit::python {

// conv2d's arguments after the Python side applied PyTorch's rules (padding is explicit).
struct LayerParams {
  std::int64_t in_channels = 1, out_channels = 1;
  std::int64_t kh = 1, kw = 1;
  std::int64_t sh = 1, sw = 1, dh = 1, dw = 1;
  std::int64_t pad_top = 0, pad_bottom = 0, pad_left = 0, pad_right = 0;
  std::int64_t groups = 1;
  bool bias = false;
  Activation act;

  std::int64_t weight_elems() const { return out_channels * (in_channels / groups) * kh * kw; }
};

// OIHW weights and the bias (nullptr: none) a layer packs from; `owner` keeps them alive.
struct LayerWeights {
  const float* oihw = nullptr;
  const float* bias = nullptr;
  std::shared_ptr<const void> owner;
};

// What running one input size takes: the library's kernel for it (from Jit::global(), which
// plans NCHW staging and bands of rows, and times them, as for any C++ caller) and the weights
// packed for it.
struct CompiledInput {
  std::int64_t n = 0, h = 0, w = 0;
  Layout layout = Layout::nchw;  // of the activations the caller hands over
  ConvShape shape;               // the whole convolution
  std::shared_ptr<const Kernel> kernel;
  PackedWeights packed;
  std::int64_t out_h = 0, out_w = 0;
  bool worth_releasing_gil = false;

  // src and dst in `layout`; needs no GIL (call it without, when worth_releasing_gil).
  void run(const float* src, float* dst, int threads) const { kernel->run(src, packed, dst, threads); }
};

class Layer {
 public:
  Layer(LayerParams params, LayerWeights weights);

  // The kernel and packed weights for an input of n images of h×w; compiled and packed on
  // first use. Throws convjit::Error naming conv2d's argument at fault ('input' for a size the
  // layer cannot take). Callers keep the result while they run it: a later call may evict it.
  std::shared_ptr<const CompiledInput> compiled(std::int64_t n, std::int64_t h, std::int64_t w,
                                                Layout layout);

  // Forgets every packed copy; the next run packs from `weights`.
  void replace_weights(LayerWeights weights);

  const LayerParams& params() const noexcept { return params_; }
  // Most recently used first.
  const std::vector<std::shared_ptr<const CompiledInput>>& inputs() const noexcept { return inputs_; }
  const LayerWeights& weights() const noexcept { return weights_; }

 private:
  std::shared_ptr<const CompiledInput> compile(std::int64_t n, std::int64_t h, std::int64_t w,
                                               Layout layout) const;

  LayerParams params_;
  LayerWeights weights_;
  std::vector<std::shared_ptr<const CompiledInput>> inputs_;  // most recently used first
};

// PyTorch's OIHW weights in the HWIO order convjit's NHWC kernels take.
std::vector<float> oihw_to_hwio(const LayerParams& params, const float* oihw);

// The layer parameters a compiled shape stands for.
LayerParams params_of(const ConvShape& shape);

// Packs OIHW weights (and bias, or nullptr) for the kernel, reordering them for NHWC kernels.
PackedWeights pack_oihw(const Kernel& kernel, const float* oihw, const float* bias);

// Throws convjit::Error("input", ...) unless the input has the layer's channel count.
void require_input_channels(const LayerParams& params, std::int64_t channels);

// Output height and width for an input of h×w; throws convjit::Error("input", ...) when the
// padded input is smaller than the dilated kernel (PyTorch's complaint too).
std::pair<std::int64_t, std::int64_t> output_size(const LayerParams& params, std::int64_t h,
                                                  std::int64_t w);

// The shape of one input of a layer, and its kernel (from Jit::global()'s cache); errors name
// conv2d's argument at fault.
ConvShape shape_for(const LayerParams& params, std::int64_t n, std::int64_t h, std::int64_t w,
                    Layout layout);
std::shared_ptr<const Kernel> kernel_for(const LayerParams& params, std::int64_t n, std::int64_t h,
                                         std::int64_t w, Layout layout);

// Kernels shorter than a GIL hand-off keep the GIL: releasing it would cost more than they do.
bool worth_releasing_gil(const ConvShape& shape);

// The ConvSpec for one input of a layer (padding explicit).
ConvSpec spec_for(const LayerParams& params, std::int64_t n, std::int64_t h, std::int64_t w,
                  Layout layout);

// conv2d's argument a convjit spec key belongs to ("kh" -> "input" when the input is too small
// for the kernel, "sh" -> "stride", ...).
const char* conv2d_argument_for(const std::string& spec_key);

}  // namespace convjit::python
