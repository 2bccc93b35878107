#include "arrays.hpp"

#include "errors.hpp"

namespace py = pybind11;

namespace convjit::python {

FloatArray float32_array(py::handle obj, const char* argument) {
  if (!py::isinstance<py::array>(obj))
    throw_type_error(argument, std::string("expected a NumPy array, got ") +
                                   Py_TYPE(obj.ptr())->tp_name);
  auto array = py::reinterpret_borrow<py::array>(obj);
  if (!array.dtype().is(py::dtype::of<float>()))
    throw_type_error(argument, "expected float32, got " + py::str(array.dtype()).cast<std::string>());
  FloatArray contiguous = FloatArray::ensure(array);
  if (!contiguous) throw_type_error(argument, "could not be read as a C-contiguous float32 array");
  return contiguous;
}

std::vector<std::int64_t> dims_of(const FloatArray& array) {
  std::vector<std::int64_t> dims;
  for (py::ssize_t i = 0; i < array.ndim(); ++i) dims.push_back(array.shape(i));
  return dims;
}

std::string describe_dims(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? ", " : "") + std::to_string(dims[i]);
  return text + (dims.size() == 1 ? ",)" : ")");
}

void require_dims(const FloatArray& array, const char* argument, const std::vector<std::int64_t>& dims) {
  if (dims_of(array) != dims)
    throw_value_error(argument, "expected shape " + describe_dims(dims) + ", got " +
                                    describe_dims(dims_of(array)));
}

}  // namespace convjit::python
