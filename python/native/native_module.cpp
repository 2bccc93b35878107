// convjit._native: convjit for NumPy arrays, and the classes the Python package is built on
// (Kernel, PackedWeights, LayerParams, Error). Torch tensors are _torch_native's business.
#include "arrays.hpp"
#include "errors.hpp"
#include "kernel_handle.hpp"
#include "layer.hpp"
#include "quantized.hpp"

#include <convjit/convjit.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace convjit;
using namespace convjit::python;

namespace {

Layout parse_layout(const std::string& text) {
  if (text == "nchw") return Layout::nchw;
  if (text == "nhwc") return Layout::nhwc;
  throw_value_error("layout", "expected 'nchw' or 'nhwc', got '" + text + "'");
}

py::tuple as_tuple(const std::vector<std::int64_t>& dims) { return py::cast(dims); }

// An activation array's dims as (n, c, h, w), whichever layout it is in; 3-D means one image.
struct ImageDims {
  std::int64_t n, c, h, w;
  bool batched;
};

ImageDims image_dims(const FloatArray& array, Layout layout) {
  const std::vector<std::int64_t> d = dims_of(array);
  if (d.size() != 3 && d.size() != 4)
    throw_value_error("input", "expected a 3-D (unbatched) or 4-D (batched) array, got shape " +
                                   describe_dims(d));
  const bool batched = d.size() == 4;
  const std::size_t i = batched ? 1 : 0;
  if (layout == Layout::nchw) return {batched ? d[0] : 1, d[i], d[i + 1], d[i + 2], batched};
  return {batched ? d[0] : 1, d[i + 2], d[i], d[i + 1], batched};
}

std::vector<py::ssize_t> array_output_dims(const ImageDims& in, std::int64_t oc, std::int64_t oh,
                                     std::int64_t ow, Layout layout) {
  std::vector<py::ssize_t> d = layout == Layout::nchw ? std::vector<py::ssize_t>{in.n, oc, oh, ow}
                                                      : std::vector<py::ssize_t>{in.n, oh, ow, oc};
  if (!in.batched) d.erase(d.begin());
  return d;
}

std::optional<FloatArray> optional_bias(py::handle bias, std::int64_t oc) {
  if (bias.is_none()) return std::nullopt;
  FloatArray b = float32_array(bias, "bias");
  require_dims(b, "bias", {oc});
  return b;
}

// conv2d on NumPy arrays: a layer made for this one call.
FloatArray conv2d_array(py::handle input, py::handle weight, py::handle bias, const LayerParams& p,
                        const std::string& layout_name, int threads) {
  const Layout layout = parse_layout(layout_name);
  const FloatArray x = float32_array(input, "input");
  const ImageDims in = image_dims(x, layout);
  const FloatArray w = float32_array(weight, "weight");
  require_dims(w, "weight", {p.out_channels, p.in_channels / p.groups, p.kh, p.kw});
  const std::optional<FloatArray> b = optional_bias(bias, p.out_channels);
  require_input_channels(p, in.c);
  const auto [out_h, out_w] = output_size(p, in.h, in.w);
  FloatArray out(array_output_dims(in, p.out_channels, out_h, out_w, layout));
  if (in.n == 0 || out.size() == 0) return out;

  Layer layer(p, {w.data(), b ? b->data() : nullptr, nullptr});
  const auto compiled = layer.compiled(in.n, in.h, in.w, layout);
  run_compiled(*compiled, x.data(), out.mutable_data(), threads);
  return out;
}

// ------------------------------------------------------------------ Kernel

KernelHandle kernel_from_spec(const std::string& spec) {
  return {Jit::global().get(ConvSpec::parse(spec))};
}

KernelHandle kernel_for_layer(const LayerParams& p, std::int64_t n, std::int64_t h, std::int64_t w,
                              const std::string& layout) {
  return {kernel_for(p, n, h, w, parse_layout(layout))};
}

PackedWeights pack_arrays(const KernelHandle& k, py::handle weight, py::handle bias) {
  const ConvShape& s = k.kernel->shape();
  const FloatArray w = float32_array(weight, "weight");
  require_dims(w, "weight", weight_dims(s));
  if (!bias.is_none() && !s.bias)
    throw_value_error("bias", "given, but the kernel was compiled without one (bias=0)");
  const std::optional<FloatArray> b = optional_bias(bias, s.oc);
  return pack_oihw(*k.kernel, w.data(), b ? b->data() : nullptr);
}

// `out` is written in place, so it must already be what the kernel writes: no copies.
FloatArray output_array(py::handle out, const ConvShape& s) {
  if (out.is_none()) return FloatArray(output_dims(s));
  if (!py::isinstance<py::array>(out))
    throw_type_error("out", std::string("expected a NumPy array, got ") + Py_TYPE(out.ptr())->tp_name);
  auto array = py::reinterpret_borrow<py::array>(out);
  if (!array.dtype().is(py::dtype::of<float>()))
    throw_type_error("out", "expected float32, got " + py::str(array.dtype()).cast<std::string>());
  if (!(array.flags() & py::array::c_style) || !array.writeable())
    throw_value_error("out", "must be a writeable C-contiguous array");
  FloatArray typed = py::reinterpret_borrow<FloatArray>(out);
  require_dims(typed, "out", output_dims(s));
  return typed;
}

FloatArray run_arrays(const KernelHandle& k, py::handle input, const PackedWeights& packed,
                      py::handle out, int threads) {
  const ConvShape& s = k.kernel->shape();
  const FloatArray x = float32_array(input, "input");
  require_dims(x, "input", input_dims(s));
  FloatArray y = output_array(out, s);
  run_kernel(*k.kernel, x.data(), packed, y.mutable_data(), threads, worth_releasing_gil(s));
  return y;
}

std::string activation_name(const Activation& act) { return convjit::to_string(act); }

void bind_layer_params(py::module_& m) {
  py::class_<LayerParams>(m, "LayerParams")
      .def(py::init([](std::int64_t in_channels, std::int64_t out_channels, std::int64_t kh,
                       std::int64_t kw, std::int64_t sh, std::int64_t sw, std::int64_t dh,
                       std::int64_t dw, std::int64_t pad_top, std::int64_t pad_bottom,
                       std::int64_t pad_left, std::int64_t pad_right, std::int64_t groups,
                       bool bias, const std::string& act, float lo, float hi, float alpha) {
             LayerParams p;
             p.in_channels = in_channels;
             p.out_channels = out_channels;
             p.kh = kh;
             p.kw = kw;
             p.sh = sh;
             p.sw = sw;
             p.dh = dh;
             p.dw = dw;
             p.pad_top = pad_top;
             p.pad_bottom = pad_bottom;
             p.pad_left = pad_left;
             p.pad_right = pad_right;
             p.groups = groups;
             p.bias = bias;
             if (act == "relu") p.act.kind = ActivationKind::relu;
             else if (act == "clamp") p.act = {ActivationKind::clamp, lo, hi};
             else if (act == "leaky_relu") {
               if (!std::isfinite(alpha))
                 throw_value_error("activation", "the leaky_relu slope must be a finite number");
               p.act.kind = ActivationKind::leaky_relu;
               p.act.alpha = alpha;
             } else if (act == "hardswish") p.act.kind = ActivationKind::hardswish;
             else if (act == "silu") p.act.kind = ActivationKind::silu;
             else if (act == "sigmoid") p.act.kind = ActivationKind::sigmoid;
             else if (act != "none") throw_value_error("activation", "unknown kind '" + act + "'");
             return p;
           }),
           py::kw_only(), py::arg("in_channels"), py::arg("out_channels"), py::arg("kh"),
           py::arg("kw"), py::arg("sh"), py::arg("sw"), py::arg("dh"), py::arg("dw"),
           py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
           py::arg("groups"), py::arg("bias"), py::arg("act") = "none", py::arg("lo") = 0.0f,
           py::arg("hi") = 0.0f, py::arg("alpha") = 0.0f)
      .def_readonly("in_channels", &LayerParams::in_channels)
      .def_readonly("out_channels", &LayerParams::out_channels)
      .def_readonly("groups", &LayerParams::groups)
      .def_readonly("bias", &LayerParams::bias)
      .def("__repr__", [](const LayerParams& p) {
        return "LayerParams(" + spec_for(p, 1, 0, 0, Layout::nchw).to_string() + ")";
      });
}

void bind_kernel(py::module_& m) {
  py::class_<PackedWeights>(m, "PackedWeights")
      .def_property_readonly("size", &PackedWeights::size)
      .def_property_readonly("nbytes", [](const PackedWeights& p) { return p.size() * sizeof(float); })
      .def("__repr__", [](const PackedWeights& p) {
        return "<convjit.PackedWeights of " + std::to_string(p.size()) + " floats>";
      });

  py::class_<KernelHandle>(m, "Kernel")
      .def(py::init(&kernel_from_spec), py::arg("spec"))
      .def_static("for_layer", &kernel_for_layer, py::arg("params"), py::arg("n"), py::arg("h"),
                  py::arg("w"), py::arg("layout"))
      .def_property_readonly("spec", [](const KernelHandle& k) { return k.kernel->shape().to_string(); })
      .def_property_readonly("name", [](const KernelHandle& k) { return k.kernel->name(); })
      .def_property_readonly("backend", [](const KernelHandle& k) { return std::string(k.kernel->backend()); })
      .def_property_readonly("generation_us", [](const KernelHandle& k) { return k.kernel->generation_us(); })
      .def_property_readonly("layout", [](const KernelHandle& k) { return std::string(to_string(k.kernel->shape().layout)); })
      .def_property_readonly("input_shape", [](const KernelHandle& k) { return as_tuple(input_dims(k.kernel->shape())); })
      .def_property_readonly("output_shape", [](const KernelHandle& k) { return as_tuple(output_dims(k.kernel->shape())); })
      .def_property_readonly("weight_shape", [](const KernelHandle& k) { return as_tuple(weight_dims(k.kernel->shape())); })
      .def_property_readonly("bias", [](const KernelHandle& k) { return k.kernel->shape().bias; })
      .def_property_readonly("activation", [](const KernelHandle& k) { return activation_name(k.kernel->shape().act); })
      .def_property_readonly("flops", [](const KernelHandle& k) { return k.kernel->shape().flops(); })
      .def("describe", [](const KernelHandle& k) { return k.kernel->describe(); })
      .def("pack_weights", &pack_arrays, py::arg("weight"), py::arg("bias") = py::none())
      .def("run", &run_arrays, py::arg("input"), py::arg("weights"), py::arg("out") = py::none(),
           py::arg("threads") = 0)
      .def("__repr__", [](const KernelHandle& k) {
        return "<convjit.Kernel " + k.kernel->shape().to_string() + " (" + k.kernel->name() + ")>";
      });
}

py::dict cache_stats() {
  const CacheStats s = Jit::global().stats();
  py::dict d;
  d["hits"] = s.hits;
  d["misses"] = s.misses;
  d["evictions"] = s.evictions;
  d["size"] = s.size;
  d["capacity"] = s.capacity;
  d["generation_us_total"] = s.generation_us_total;
  return d;
}

void create_error_type(py::module_& m) {
  PyObject* type = PyErr_NewExceptionWithDoc(
      "convjit.Error",
      "A convjit argument or spec error. A ValueError; `field` names the argument (or spec key) "
      "at fault, `reason` says what is wrong with it.",
      PyExc_ValueError, nullptr);
  if (!type) throw py::error_already_set();
  set_error_type(type);
  m.attr("Error") = py::handle(type);
  py::register_exception_translator([](std::exception_ptr p) {
    if (!p) return;
    try {
      std::rethrow_exception(p);
    } catch (const Error&) {
      set_python_error_from_current_exception();
    }
  });
}

}  // namespace

PYBIND11_MODULE(_native, m) {
  m.doc() = "convjit's C++ side: kernels, packed weights and conv2d on NumPy arrays";
  create_error_type(m);
  bind_layer_params(m);
  bind_kernel(m);
  bind_quantized(m);
  m.def("conv2d_array", &conv2d_array, py::arg("input"), py::arg("weight"), py::arg("bias"),
        py::arg("params"), py::arg("layout"), py::arg("threads"));
  m.def("cache_stats", &cache_stats);
  m.def("backend", [] { return std::string(to_string(Jit::global().backend())); });
  m.def("isa", [] { return std::string(to_string(Jit::global().isa())); });
  m.def("default_threads", [] { return Jit::global().threads(); });
}
