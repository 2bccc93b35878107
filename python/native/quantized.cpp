#include "quantized.hpp"

#include "errors.hpp"

#include <convjit/convjit.hpp>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <vector>

namespace py = pybind11;

namespace convjit::python {
namespace {

template <class T>
const char* dtype_name() {
  if constexpr (std::is_same_v<T, std::uint8_t>) return "uint8";
  else if constexpr (std::is_same_v<T, std::int8_t>) return "int8";
  else if constexpr (std::is_same_v<T, std::int32_t>) return "int32";
  else return "float32";
}

// `obj` as a C-contiguous array of T with `elements` values, without a copy of the right kind.
template <class T>
py::array_t<T, py::array::c_style> typed_array(py::handle obj, const char* argument,
                                               std::int64_t elements) {
  if (!py::isinstance<py::array>(obj))
    throw_type_error(argument, std::string("expected a NumPy array, got ") + Py_TYPE(obj.ptr())->tp_name);
  auto array = py::reinterpret_borrow<py::array>(obj);
  if (!array.dtype().is(py::dtype::of<T>()))
    throw_type_error(argument, std::string("expected ") + dtype_name<T>() + ", got " +
                                   py::str(array.dtype()).cast<std::string>());
  auto typed = py::array_t<T, py::array::c_style>::ensure(array);
  if (static_cast<std::int64_t>(typed.size()) != elements)
    throw_value_error(argument, "holds " + std::to_string(typed.size()) + " values; the layer needs " +
                                    std::to_string(elements));
  return typed;
}

py::dtype dtype_of(DataType type) {
  switch (type) {
    case DataType::u8: return py::dtype::of<std::uint8_t>();
    case DataType::s8: return py::dtype::of<std::int8_t>();
    case DataType::s32: return py::dtype::of<std::int32_t>();
    case DataType::f32: break;
  }
  return py::dtype::of<float>();
}

}  // namespace

QuantizedLayer::QuantizedLayer(const std::string& spec, py::handle weight, float input_scale,
                               std::int32_t input_zero_point, const std::vector<float>& weight_scales,
                               float output_scale, std::int32_t output_zero_point, py::handle bias)
    : kernel_(Jit::global().get(ConvSpec::parse(spec))) {
  const ConvShape& s = kernel_->shape();
  Quantization q;
  q.input_type = s.src_type;
  q.input_scale = input_scale;
  q.input_zero_point = input_zero_point;
  q.weight_scales = weight_scales;
  q.output_type = s.dst_type;
  q.output_scale = output_scale;
  q.output_zero_point = output_zero_point;
  const auto w = typed_array<std::int8_t>(weight, "weight", s.weight_elems());
  py::array bias_array;
  const void* bias_data = nullptr;
  if (!bias.is_none()) {
    const bool floats = py::isinstance<py::array>(bias) &&
                        py::reinterpret_borrow<py::array>(bias).dtype().is(py::dtype::of<float>());
    q.bias_type = floats ? DataType::f32 : DataType::s32;
    if (floats) bias_array = typed_array<float>(bias, "bias", s.oc);
    else bias_array = typed_array<std::int32_t>(bias, "bias", s.oc);
    bias_data = bias_array.data();
  }
  packed_ = kernel_->pack_weights(w.data(), q, bias_data);
}

void QuantizedLayer::run_bytes(const void* src, void* dst, int threads) const {
  py::gil_scoped_release release;
  kernel_->run_bytes(src, packed_, dst, RunOptions{.threads = threads});
}

py::array QuantizedLayer::run(py::handle input, int threads) const {
  const ConvShape& s = kernel_->shape();
  py::array x = s.src_type == DataType::u8
                    ? py::array(typed_array<std::uint8_t>(input, "input", s.src_elems()))
                    : py::array(typed_array<std::int8_t>(input, "input", s.src_elems()));
  py::array out(dtype_of(s.dst_type), std::vector<py::ssize_t>{s.n, s.out_h, s.out_w, s.oc});
  run_bytes(x.data(), out.mutable_data(), threads);
  return out;
}

const ConvShape& QuantizedLayer::shape() const { return kernel_->shape(); }
std::string QuantizedLayer::name() const { return kernel_->name(); }

namespace {

py::array quantized_conv(const std::string& spec, py::handle input, py::handle weight,
                         float input_scale, std::int32_t input_zero_point,
                         const std::vector<float>& weight_scales, float output_scale,
                         std::int32_t output_zero_point, py::handle bias, int threads) {
  const QuantizedLayer layer(spec, weight, input_scale, input_zero_point, weight_scales,
                             output_scale, output_zero_point, bias);
  return layer.run(input, threads);
}

}  // namespace

void bind_quantized(py::module_& m) {
  py::class_<QuantizedLayer>(m, "QuantizedLayer")
      .def(py::init<const std::string&, py::handle, float, std::int32_t, const std::vector<float>&,
                    float, std::int32_t, py::handle>(),
           py::arg("spec"), py::arg("weight"), py::arg("input_scale"), py::arg("input_zero_point"),
           py::arg("weight_scales"), py::arg("output_scale"), py::arg("output_zero_point"),
           py::arg("bias"))
      .def("run", &QuantizedLayer::run, py::arg("input"), py::arg("threads"))
      .def_property_readonly("name", &QuantizedLayer::name);
  m.def("quantized_conv", &quantized_conv, py::arg("spec"), py::arg("input"), py::arg("weight"),
        py::arg("input_scale"), py::arg("input_zero_point"), py::arg("weight_scales"),
        py::arg("output_scale"), py::arg("output_zero_point"), py::arg("bias"), py::arg("threads"));
}

}  // namespace convjit::python
