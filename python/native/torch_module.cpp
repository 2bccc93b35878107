// convjit._torch_native: convjit on torch tensors, without copies for NCHW-contiguous and
// channels_last inputs. Linked against libtorch so that reading a tensor, allocating the
// output and wrapping it for Python cost a few hundred nanoseconds instead of the
// microseconds the Python-level torch API takes: a converted nn.Conv2d on a tiny image spends
// most of its time here.
#include "errors.hpp"
#include "kernel_handle.hpp"
#include "layer.hpp"
#include "quantized.hpp"

#include <convjit/convjit.hpp>

#include <ATen/EmptyTensor.h>
#include <ATen/Parallel.h>
#include <ATen/ops/_empty_affine_quantized.h>
#include <ATen/core/Tensor.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/version.h>

#include <pybind11/pybind11.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace py = pybind11;
using namespace convjit;
using namespace convjit::python;

namespace {

std::string describe_sizes(at::IntArrayRef sizes) {
  std::string text = "(";
  for (std::size_t i = 0; i < sizes.size(); ++i) text += (i ? ", " : "") + std::to_string(sizes[i]);
  return text + (sizes.size() == 1 ? ",)" : ")");
}

const at::Tensor& tensor_argument(PyObject* obj, const char* argument) {
  if (!THPVariable_Check(obj))
    throw_type_error(argument, std::string("expected a torch.Tensor, got ") + Py_TYPE(obj)->tp_name);
  return THPVariable_Unpack(obj);
}

// float32, CPU, strided: what every convjit kernel reads and writes.
void require_float32_cpu(const at::Tensor& t, const char* argument) {
  if (t.layout() != at::kStrided)
    throw_type_error(argument, "expected a dense (strided) tensor, got layout " + c10::str(t.layout()));
  if (!t.device().is_cpu())
    throw_value_error(argument, "expected a CPU tensor, got one on " + t.device().str());
  if (t.scalar_type() != at::kFloat)
    throw_type_error(argument, std::string("expected float32, got ") + c10::toString(t.scalar_type()) +
                                   " (convjit kernels are float32)");
}

void require_sizes(const at::Tensor& t, const char* argument, const std::vector<std::int64_t>& sizes) {
  if (t.sizes() != at::IntArrayRef(sizes))
    throw_value_error(argument, "expected shape " + describe_sizes(sizes) + ", got " +
                                    describe_sizes(t.sizes()));
}

void require_no_grad(const at::Tensor& t) {
  if (t.requires_grad() && c10::GradMode::is_enabled())
    throw_value_error("input", "requires grad, but convjit computes no gradients: run under "
                               "torch.no_grad() or torch.inference_mode(), or detach() it");
}

at::MemoryFormat memory_format(Layout layout) {
  return layout == Layout::nhwc ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
}

// PyTorch's rule for conv2d's output: channels_last when the input or the weight suggests it.
Layout layout_like_pytorch(const at::Tensor& input, const at::Tensor& weight) {
  const bool channels_last = input.suggest_memory_format() == at::MemoryFormat::ChannelsLast ||
                             weight.suggest_memory_format() == at::MemoryFormat::ChannelsLast;
  return channels_last ? Layout::nhwc : Layout::nchw;
}

at::Tensor in_layout(const at::Tensor& t, Layout layout) {
  const at::MemoryFormat format = memory_format(layout);
  return t.is_contiguous(format) ? t : t.contiguous(format);
}

at::Tensor empty_output(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, Layout layout) {
  const std::int64_t sizes[] = {n, c, h, w};
  return at::detail::empty_cpu(sizes, at::kFloat, false, memory_format(layout));
}

int resolve_threads(int threads) { return threads < 0 ? at::get_num_threads() : threads; }

// What a tensor's contents were when they were packed: in-place writes bump the version,
// `.data = ...` and `.to(memory_format=...)` swap the storage.
struct TensorStamp {
  std::int64_t version = -1;
  const void* data = nullptr;
  static TensorStamp of(const at::Tensor& t) {
    if (!t.defined()) return {};
    const auto& counter = t.unsafeGetTensorImpl()->version_counter();
    // Inference tensors (made under torch.inference_mode) have no version counter.
    const std::int64_t version = counter.enabled() ? static_cast<std::int64_t>(counter.current_version()) : 0;
    return {version, t.data_ptr()};
  }
  bool operator==(const TensorStamp&) const = default;
};

// One nn.Conv2d's worth of state: the module's own weight and bias tensors (watched for
// changes) and the Layer that holds the kernels and packed weights per input size.
class TorchLayer {
 public:
  TorchLayer(LayerParams params, py::handle weight, py::handle bias, int threads)
      : params_(params),
        weight_(weight_tensor(weight)),
        bias_(bias_tensor(bias)),
        threads_(threads),
        layer_(params, snapshot()) {
    params_.bias = bias_.defined();
  }

  PyObject* call(PyObject* input) {
    const at::Tensor& x = tensor_argument(input, "input");
    require_float32_cpu(x, "input");
    require_no_grad(x);
    if (x.dim() == 4) return THPVariable_Wrap(run(x));
    if (x.dim() == 3) return THPVariable_Wrap(run(x.unsqueeze(0)).squeeze(0));
    throw_value_error("input", "expected a 3-D (unbatched) or 4-D (batched) tensor, got shape " +
                                   describe_sizes(x.sizes()));
  }

  // Re-reads the weight and bias (after changes the stamps cannot see).
  void refresh() { layer_.replace_weights(snapshot()); }

  // What the layer has compiled so far, most recently used first.
  py::list kernels() const {
    py::list list;
    for (const auto& c : layer_.inputs()) {
      py::dict d;
      d["input_size"] = py::make_tuple(c->n, params_.in_channels, c->h, c->w);
      d["layout"] = std::string(to_string(c->layout));
      d["name"] = c->kernel->name();
      d["backend"] = std::string(c->kernel->backend());
      d["spec"] = c->shape.to_string();
      list.append(d);
    }
    return list;
  }

 private:
  at::Tensor run(const at::Tensor& x) {
    require_input_channels(params_, x.size(1));
    if (!(TensorStamp::of(weight_) == weight_stamp_ && TensorStamp::of(bias_) == bias_stamp_)) refresh();
    const Layout layout = layout_like_pytorch(x, weight_);
    const at::Tensor src = in_layout(x, layout);
    const std::int64_t n = src.size(0), h = src.size(2), w = src.size(3);
    if (n == 0) {
      const auto [out_h, out_w] = output_size(params_, h, w);
      return empty_output(0, params_.out_channels, out_h, out_w, layout);
    }
    const int threads = resolve_threads(threads_);
    const auto compiled = layer_.compiled(n, h, w, layout);
    at::Tensor out = empty_output(n, params_.out_channels, compiled->out_h, compiled->out_w, layout);
    run_compiled(*compiled, src.data_ptr<float>(), out.data_ptr<float>(), threads);
    return out;
  }

  at::Tensor weight_tensor(py::handle obj) const {
    const at::Tensor& w = tensor_argument(obj.ptr(), "weight");
    require_float32_cpu(w, "weight");
    require_sizes(w, "weight", {params_.out_channels, params_.in_channels / params_.groups,
                                params_.kh, params_.kw});
    return w;
  }

  at::Tensor bias_tensor(py::handle obj) const {
    if (obj.is_none()) return {};
    const at::Tensor& b = tensor_argument(obj.ptr(), "bias");
    require_float32_cpu(b, "bias");
    require_sizes(b, "bias", {params_.out_channels});
    return b;
  }

  LayerWeights snapshot() {
    struct Owner {
      at::Tensor weight, bias;
    };
    require_float32_cpu(weight_, "weight");
    if (bias_.defined()) require_float32_cpu(bias_, "bias");
    auto owner = std::make_shared<Owner>();
    owner->weight = weight_.detach().contiguous();
    if (bias_.defined()) owner->bias = bias_.detach().contiguous();
    weight_stamp_ = TensorStamp::of(weight_);
    bias_stamp_ = TensorStamp::of(bias_);
    LayerWeights weights;
    weights.oihw = owner->weight.data_ptr<float>();
    weights.bias = owner->bias.defined() ? owner->bias.data_ptr<float>() : nullptr;
    weights.owner = owner;
    return weights;
  }

  LayerParams params_;
  at::Tensor weight_, bias_;
  TensorStamp weight_stamp_, bias_stamp_;
  int threads_;
  Layer layer_;
};

// ------------------------------------------------------------------ the per-call entry point
//
// A METH_O builtin bound to the layer: Python calls it with no argument parsing and no
// pybind11 dispatch, which is most of what a converted module's call costs besides the kernel.

constexpr const char* kCapsuleName = "convjit._torch_native.TorchLayer";

PyObject* call_layer(PyObject* capsule, PyObject* input) {
  auto* layer = static_cast<TorchLayer*>(PyCapsule_GetPointer(capsule, kCapsuleName));
  if (!layer) return nullptr;
  try {
    return layer->call(input);
  } catch (...) {
    set_python_error_from_current_exception();
    return nullptr;
  }
}

PyMethodDef call_layer_def = {"conv2d", call_layer, METH_O,
                              "conv2d(input) -> Tensor: this layer's convolution of `input`"};

// The layer's call, a builtin function of one tensor; it owns the layer.
py::object callable_for(const std::shared_ptr<TorchLayer>& layer) {
  auto* owned = new std::shared_ptr<TorchLayer>(layer);
  // The capsule's pointer is the layer itself (read on every call); its context the owner.
  PyObject* capsule = PyCapsule_New(layer.get(), kCapsuleName, [](PyObject* c) {
    delete static_cast<std::shared_ptr<TorchLayer>*>(PyCapsule_GetContext(c));
  });
  if (!capsule) {
    delete owned;
    throw py::error_already_set();
  }
  PyCapsule_SetContext(capsule, owned);
  PyObject* function = PyCFunction_New(&call_layer_def, capsule);
  Py_DECREF(capsule);
  if (!function) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(function);
}

// ------------------------------------------------------------------ convjit.torch.Conv2d.__call__
//
// nn.Module.__call__ minus its bookkeeping when there is nothing for it to do (no hooks on the
// module, none registered globally, one positional argument): that bookkeeping costs more than
// a small convolution. Anything else goes to nn.Module.__call__ itself.

struct ModuleCallNames {
  PyTypeObject* module_class;  // convjit.torch.Conv2d; subclasses may override forward
  PyObject* conv2d;
  PyObject* hooks[3];         // the module's own
  PyObject* global_hooks[3];  // in torch.nn.modules.module
  PyObject* torch_module_globals;
  PyObject* module_call;      // nn.Module.__call__
};

ModuleCallNames* module_call_names = nullptr;  // set once at import, kept for the interpreter's life

bool dict_entry_is_empty(PyObject* dict, PyObject* name) {
  PyObject* value = PyDict_GetItemWithError(dict, name);  // borrowed
  return value && PyDict_Check(value) && PyDict_GET_SIZE(value) == 0;
}

// The converted module's C++ entry point, when the fast path applies; else nullptr.
PyObject* fast_conv2d_of(PyObject* module) {
  const ModuleCallNames& n = *module_call_names;
  if (Py_TYPE(module) != n.module_class) return nullptr;
  for (PyObject* name : n.global_hooks)
    if (!dict_entry_is_empty(n.torch_module_globals, name)) return nullptr;
  PyObject* dict = PyObject_GenericGetDict(module, nullptr);
  if (!dict) {
    PyErr_Clear();
    return nullptr;
  }
  PyObject* conv2d = nullptr;
  if (dict_entry_is_empty(dict, n.hooks[0]) && dict_entry_is_empty(dict, n.hooks[1]) &&
      dict_entry_is_empty(dict, n.hooks[2]))
    conv2d = PyDict_GetItemWithError(dict, n.conv2d);
  Py_DECREF(dict);  // the module keeps it (and conv2d) alive
  PyErr_Clear();
  return conv2d && PyCFunction_Check(conv2d) ? conv2d : nullptr;
}

PyObject* module_call(PyObject*, PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames) {
  if (nargs == 2 && !kwnames) {
    if (PyObject* conv2d = fast_conv2d_of(args[0]))
      return call_layer(PyCFunction_GET_SELF(conv2d), args[1]);
  }
  return PyObject_Vectorcall(module_call_names->module_call, args, static_cast<std::size_t>(nargs), kwnames);
}

PyMethodDef module_call_def = {"__call__", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(module_call)),
                               METH_FASTCALL | METH_KEYWORDS,
                               "Calls the module: the convolution directly when no hooks are registered"};

// The function to install as convjit.torch.Conv2d.__call__ (bound to each instance).
py::object make_module_call(py::type module_class) {
  if (!module_call_names) {
    auto* n = new ModuleCallNames{};
    n->module_class = reinterpret_cast<PyTypeObject*>(module_class.release().ptr());
    n->conv2d = PyUnicode_InternFromString("_conv2d");
    const char* own[] = {"_forward_pre_hooks", "_forward_hooks", "_backward_hooks"};
    const char* global[] = {"_global_forward_pre_hooks", "_global_forward_hooks", "_global_backward_hooks"};
    for (int i = 0; i < 3; ++i) {
      n->hooks[i] = PyUnicode_InternFromString(own[i]);
      n->global_hooks[i] = PyUnicode_InternFromString(global[i]);
    }
    py::module_ torch_module = py::module_::import("torch.nn.modules.module");
    n->torch_module_globals = py::object(torch_module.attr("__dict__")).release().ptr();
    n->module_call = py::object(torch_module.attr("Module").attr("__call__")).release().ptr();
    module_call_names = n;
  }
  PyObject* function = PyCFunction_New(&module_call_def, nullptr);
  if (!function) throw py::error_already_set();
  PyObject* method = PyInstanceMethod_New(function);
  Py_DECREF(function);
  if (!method) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(method);
}

// ------------------------------------------------------------------ module functions

py::object conv2d_tensors(py::handle input, py::handle weight, py::handle bias,
                          const LayerParams& params, int threads) {
  TorchLayer layer(params, weight, bias, threads);
  PyObject* out = layer.call(input.ptr());
  if (!out) throw py::error_already_set();
  return py::reinterpret_steal<py::object>(out);
}

PackedWeights pack_tensors(const KernelHandle& k, py::handle weight, py::handle bias) {
  const ConvShape& s = k.kernel->shape();
  const at::Tensor& w = tensor_argument(weight.ptr(), "weight");
  require_float32_cpu(w, "weight");
  require_sizes(w, "weight", weight_dims(s));
  const at::Tensor w_oihw = w.detach().contiguous();
  at::Tensor b;
  if (!bias.is_none()) {
    if (!s.bias) throw_value_error("bias", "given, but the kernel was compiled without one (bias=0)");
    b = tensor_argument(bias.ptr(), "bias").detach();
    require_float32_cpu(b, "bias");
    require_sizes(b, "bias", {s.oc});
    b = b.contiguous();
  }
  return pack_oihw(*k.kernel, w_oihw.data_ptr<float>(), b.defined() ? b.data_ptr<float>() : nullptr);
}

// Kernel.run on tensors: logical NCHW sizes; the kernel's layout decides the memory format.
py::object run_tensors(const KernelHandle& k, py::handle input, const PackedWeights& packed,
                       py::handle out, int threads) {
  const ConvShape& s = k.kernel->shape();
  const at::Tensor& x = tensor_argument(input.ptr(), "input");
  require_float32_cpu(x, "input");
  require_no_grad(x);
  require_sizes(x, "input", {s.n, s.c, s.h, s.w});
  const at::Tensor src = in_layout(x, s.layout);
  at::Tensor dst;
  if (out.is_none()) {
    dst = empty_output(s.n, s.oc, s.out_h, s.out_w, s.layout);
  } else {
    dst = tensor_argument(out.ptr(), "out");
    require_float32_cpu(dst, "out");
    require_sizes(dst, "out", {s.n, s.oc, s.out_h, s.out_w});
    if (!dst.is_contiguous(memory_format(s.layout)))
      throw_value_error("out", std::string("must be ") +
                                   (s.layout == Layout::nhwc ? "channels_last" : "NCHW") +
                                   "-contiguous, as the kernel writes it");
    if (dst.requires_grad() && c10::GradMode::is_enabled())
      throw_value_error("out", "requires grad; convjit writes it in place");
  }
  run_kernel(*k.kernel, src.data_ptr<float>(), packed, dst.data_ptr<float>(),
             resolve_threads(threads), worth_releasing_gil(s));
  return py::reinterpret_steal<py::object>(THPVariable_Wrap(dst));
}

void require_matching_torch() {
  const std::string built = std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + ".";
  const std::string running = py::module_::import("torch").attr("__version__").cast<std::string>();
  if (running.rfind(built, 0) != 0)
    throw py::import_error("convjit._torch_native was built against PyTorch " + built +
                           "x headers, but PyTorch " + running + " is running; rebuild convjit");
}

// A quantized convolution on quint8 tensors: the input read where it lies when it is
// channels_last (else transposed once), the output made channels_last with the module's scale
// and zero point, and the kernel run between them.
class TorchQuantizedLayer {
 public:
  TorchQuantizedLayer(const std::string& spec, py::handle weight, float input_scale,
                      std::int32_t input_zero_point, const std::vector<float>& weight_scales,
                      float output_scale, std::int32_t output_zero_point, py::handle bias)
      : layer_(spec, weight, input_scale, input_zero_point, weight_scales, output_scale,
               output_zero_point, bias),
        output_scale_(output_scale),
        output_zero_point_(output_zero_point) {}

  py::object call(py::handle input, int threads) const {
    const at::Tensor& x = tensor_argument(input.ptr(), "input");
    const ConvShape& s = layer_.shape();
    if (x.scalar_type() != at::kQUInt8 || x.qscheme() != at::kPerTensorAffine || !x.device().is_cpu())
      throw_type_error("input", "expected a quint8 per-tensor quantized CPU tensor");
    require_sizes(x, "input", {s.n, s.c, s.h, s.w});
    const at::Tensor pixels = in_layout(x, Layout::nhwc);
    at::Tensor out = at::_empty_affine_quantized({s.n, s.oc, s.out_h, s.out_w},
                                                 at::device(at::kCPU).dtype(at::kQUInt8),
                                                 output_scale_, output_zero_point_,
                                                 at::MemoryFormat::ChannelsLast);
    layer_.run_bytes(pixels.data_ptr(), out.data_ptr(), threads > 0 ? threads : at::get_num_threads());
    return py::reinterpret_steal<py::object>(THPVariable_Wrap(std::move(out)));
  }

  std::string name() const { return layer_.name(); }

 private:
  QuantizedLayer layer_;
  double output_scale_;
  std::int64_t output_zero_point_;
};

}  // namespace

PYBIND11_MODULE(_torch_native, m) {
  m.doc() = "convjit on torch tensors (NCHW-contiguous or channels_last, float32, CPU)";
  require_matching_torch();
  set_error_type(py::module_::import("convjit._native").attr("Error").ptr());

  py::class_<TorchLayer, std::shared_ptr<TorchLayer>>(m, "TorchLayer")
      .def(py::init<LayerParams, py::handle, py::handle, int>(), py::arg("params"),
           py::arg("weight"), py::arg("bias"), py::arg("threads"))
      .def("refresh", &TorchLayer::refresh)
      .def("kernels", &TorchLayer::kernels)
      .def_property_readonly("conv2d", [](const std::shared_ptr<TorchLayer>& self) { return callable_for(self); });
  py::class_<TorchQuantizedLayer>(m, "TorchQuantizedLayer")
      .def(py::init<const std::string&, py::handle, float, std::int32_t, const std::vector<float>&,
                    float, std::int32_t, py::handle>(),
           py::arg("spec"), py::arg("weight"), py::arg("input_scale"), py::arg("input_zero_point"),
           py::arg("weight_scales"), py::arg("output_scale"), py::arg("output_zero_point"),
           py::arg("bias"))
      .def("__call__", &TorchQuantizedLayer::call, py::arg("input"), py::arg("threads"))
      .def_property_readonly("name", &TorchQuantizedLayer::name);
  m.def("module_call", &make_module_call, py::arg("module_class"));
  m.def("conv2d_tensors", &conv2d_tensors, py::arg("input"), py::arg("weight"), py::arg("bias"),
        py::arg("params"), py::arg("threads"));
  m.def("pack_tensors", &pack_tensors, py::arg("kernel"), py::arg("weight"), py::arg("bias"));
  m.def("run_tensors", &run_tensors, py::arg("kernel"), py::arg("input"), py::arg("weights"),
        py::arg("out"), py::arg("threads"));
}
