#pragma once
// 8-bit convolutions on NumPy arrays: the one native entry the Python quantized API
// (convjit/quantized.py: ONNX QLinearConv and ConvInteger, PyTorch's quantized conv2d) is built
// on. Layouts and zero-point bookkeeping are Python's; this runs one compiled 8-bit kernel.
#include <pybind11/pybind11.h>

namespace convjit::python {

// Binds _native.quantized_conv(spec, input, weight, input_scale, input_zero_point,
// weight_scales, output_scale, output_zero_point, bias, threads).
void bind_quantized(pybind11::module_& m);

}  // namespace convjit::python
