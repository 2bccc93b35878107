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
// [-1, 1]; see the derivation in tolerance.cpp. With an activation, the pre-activation bound
// times the activation's Lipschitz constant, plus its evaluation error relative to the largest
// output (activation_relative_error).
double tolerance(const ConvShape& s);
double pre_activation_tolerance(const ConvShape& s);

// How far an activation can move an error in its input (its Lipschitz constant), and the error
// of its evaluation in float relative to its output's magnitude.
double activation_lipschitz(const Activation& act);
double activation_relative_error(const Activation& act);
// silu and sigmoid: the bound on the kernels' exp-based evaluation, relative (see activation_test).
inline constexpr double kSmoothActivationRelativeError = 1e-6;

// Winograd F(m×m, 3×3) kernels round differently (the transforms' coefficients grow with m):
// their bound is relative, max |y − y_ref| ≤ winograd_relative_bound(m) · max(max |y_ref|, 5σ),
// with σ = √((L+1)/9) the spread of an output of U(−1, 1) data (a clamp may hide the largest),
// pinned per tile size by tests/winograd_test.cpp over random shapes up to 512 channels.
double winograd_relative_bound(int m);

// The bound for outputs of a kernel computed by `algo` (direct, or a winograd_f* tile size)
// against the reference's `expected` (n floats of dst, gaps between strided pixels ignored):
// tolerance(s) for direct kernels.
double tolerance(const ConvShape& s, Algorithm algo, const float* expected, std::size_t n);
double tolerance(const ConvShape& s, Algorithm algo, const std::vector<float>& expected);

// max_i |a_i − b_i|; +infinity when sizes differ or an element is NaN/inf in one and not
// identical in the other (so unwritten NaN-filled outputs always fail).
double max_abs_error(const std::vector<float>& a, const std::vector<float>& b);
double max_abs_error(const float* a, const float* b, std::size_t n);

}  // namespace convjit
