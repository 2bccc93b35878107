#pragma once
// How C++ failures reach Python. convjit::Error becomes convjit.Error, a ValueError whose
// `field` names the argument (or spec key) at fault; pybind11's own exceptions keep their types.
#include <convjit/error.hpp>

#include <pybind11/pybind11.h>

namespace convjit::python {

// The convjit.Error type, created once by _native and looked up by _torch_native.
PyObject* error_type();
void set_error_type(PyObject* type);

// Sets the Python error for the exception being handled (call inside a catch block).
void set_python_error_from_current_exception();

// Throws TypeError("ARGUMENT: REASON"): the form PyTorch's own argument errors take.
[[noreturn]] void throw_type_error(const char* argument, const std::string& reason);
[[noreturn]] void throw_value_error(const char* argument, const std::string& reason);

}  // namespace convjit::python
