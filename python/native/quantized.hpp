#pragma once
// 8-bit convolutions on NumPy arrays: the one native entry the Python quantized API
// (convjit/quantized.py: ONNX QLinearConv and ConvInteger, PyTorch's quantized conv2d) is built
// on. Layouts and zero-point bookkeeping are Python's; this runs one compiled 8-bit kernel.
#include <convjit/convjit.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace convjit::python {

// One 8-bit layer: the spec says the shape and types (src=, dst=), the weights are HWIO s8 and
// the numbers the Quantization's. Compiled and packed once. run() takes an NHWC input array of
// the spec's src type and returns NHWC output of its dst type; run_bytes() runs on memory the
// caller checked (the GIL released).
class QuantizedLayer {
 public:
  QuantizedLayer(const std::string& spec, pybind11::handle weight, float input_scale,
                 std::int32_t input_zero_point, const std::vector<float>& weight_scales,
                 float output_scale, std::int32_t output_zero_point, pybind11::handle bias);
  pybind11::array run(pybind11::handle input, int threads) const;
  void run_bytes(const void* src, void* dst, int threads) const;
  const ConvShape& shape() const;
  std::string name() const;

 private:
  std::shared_ptr<const Kernel> kernel_;
  PackedWeights packed_;
};

// Binds _native.QuantizedLayer(spec, weight, input_scale, input_zero_point, weight_scales,
// output_scale, output_zero_point, bias) with .run(input, threads), and
// _native.quantized_conv(spec, input, weight, ..., bias, threads): one call of a layer.
void bind_quantized(pybind11::module_& m);

}  // namespace convjit::python
