#pragma once
// NumPy arrays in and out of convjit: float32, C-contiguous, with the dimensions a kernel wants.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>
#include <vector>

namespace convjit::python {

using FloatArray = pybind11::array_t<float, pybind11::array::c_style>;

// `obj` as a C-contiguous float32 array (a copy only when it is not one already). TypeError
// naming `argument` for anything that is not a float32 NumPy array.
FloatArray float32_array(pybind11::handle obj, const char* argument);

// ValueError naming `argument` unless the array has exactly these dimensions.
void require_dims(const FloatArray& array, const char* argument, const std::vector<std::int64_t>& dims);

std::string describe_dims(const std::vector<std::int64_t>& dims);
std::vector<std::int64_t> dims_of(const FloatArray& array);

}  // namespace convjit::python
