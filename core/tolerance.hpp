#pragma once
// What "correct" means for a direct-convolution kernel: one bound on |kernel − reference| per
// output element, for data drawn from U(−1, 1). The tests, `convjit verify`, the bench suite
// and the fuzzer all judge with it. (Kernels with another error profile get their own bound
// beside this one, never a looser one for everyone.)
#include <convjit/shape.hpp>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace convjit {

// Accumulation length L = kh * kw * c / g (terms summed into one output, bias excluded).
std::int64_t accumulation_length(const ConvShape& s);

// Bound on |kernel − reference| for one output element when inputs, weights and bias lie in
// [-1, 1]; see the derivation in tolerance.cpp.
double tolerance(const ConvShape& s);

// max_i |a_i − b_i|; +infinity when sizes differ or an element is NaN/inf in one and not
// identical in the other (so unwritten NaN-filled outputs always fail).
double max_abs_error(const std::vector<float>& a, const std::vector<float>& b);
double max_abs_error(const float* a, const float* b, std::size_t n);

}  // namespace convjit
