#include "errors.hpp"

#include <exception>
#include <string>

namespace py = pybind11;

namespace convjit::python {
namespace {

PyObject* g_error_type = nullptr;

void set_convjit_error(const Error& e) {
  PyObject* type = g_error_type ? g_error_type : PyExc_ValueError;
  py::object value = py::reinterpret_steal<py::object>(PyObject_CallFunction(type, "s", e.what()));
  if (!value) return;  // the call has set an error of its own
  if (g_error_type) {
    value.attr("field") = py::str(e.field());
    value.attr("reason") = py::str(e.reason());
  }
  PyErr_SetObject(type, value.ptr());
}

}  // namespace

PyObject* error_type() { return g_error_type; }

void set_error_type(PyObject* type) {
  Py_XINCREF(type);
  g_error_type = type;  // lives as long as the interpreter: never released
}

void set_python_error_from_current_exception() {
  try {
    throw;
  } catch (const Error& e) {
    set_convjit_error(e);
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const std::bad_alloc&) {
    PyErr_NoMemory();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "convjit: unknown C++ exception");
  }
}

void throw_type_error(const char* argument, const std::string& reason) {
  throw py::type_error(std::string(argument) + ": " + reason);
}

void throw_value_error(const char* argument, const std::string& reason) {
  throw py::value_error(std::string(argument) + ": " + reason);
}

}  // namespace convjit::python
