#include "core/tolerance.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace convjit {

std::int64_t accumulation_length(const ConvShape& s) { return s.kh * s.kw * s.ic_per_group(); }

// Error bound for one output y = b + Σ_{j<L} x_j·w_j computed in float32 (any summation
// order, FMA or not) against the reference (exact in double, rounded once to float).
//
//   u = 2^-24 (unit roundoff of float32), n = L + 1 terms (the bias counted as one).
//   Higham's classic bound for any order: |fl(y) − y| ≤ γ_n · Σ|t_j| ≈ n·u·Σ|t_j|.
//   Higham & Mary's probabilistic bound (rounding errors as independent mean-zero random
//   variables): |fl(y) − y| ≤ λ·√n·u·Σ|t_j| with probability ≥ 1 − 2·exp(−λ²/2); λ = 6
//   gives a failure probability around 3e-8 per output. Both hold, so we take min(n, 6√n).
//
//   Σ|t_j|: |x|, |w|, |b| ≤ 1 (the data every check feeds: U(−1, 1)), so Σ|t_j| ≤ n. For independent uniform
//   [-1, 1] factors E|x·w| = 1/4 and sd(|x·w|) = √(1/9 − 1/16) ≈ 0.22, so for large n the
//   sum concentrates at n/4; n/4 + 2√n is about 9 standard deviations above the mean.
//   M = min(n, n/4 + 2√n).
//
//   The reference's own rounding to float adds ≤ u·|y| ≤ u·M. Activations (relu, clamp)
//   are 1-Lipschitz and exact, and add nothing. The others move the error by at most their
//   Lipschitz constant L (leaky_relu max(1, |α|), hardswish 1.5, silu 1.1, sigmoid 1/4) and
//   add their own evaluation error, relative to an output no larger than M + 1:
//   tolerance_act = L · tolerance + ε_act · (M + 1).
//
//   tolerance = (min(n, 6√n) + 1) · u · M
//
//   With a residual r (|r| ≤ 1, add=1) both sides add it in float after the sum: the kernel
//   rounds fl(y) + e + r, the reference fl(y) + r, each once, by at most u·(M + 1) each.
//   That adds 2 · u · (M + 1).
//
// Examples: 3×3, c=1 (n=10): ~4e-6. 3×3×64 (n=577): ~1.6e-3 (a single wrong or missing tap
// is ~0.25 on average, far above).
double pre_activation_tolerance(const ConvShape& s) {
  const double u = std::ldexp(1.0, -24);
  const double n = static_cast<double>(accumulation_length(s)) + 1.0;
  const double magnitude = std::min(n, n / 4.0 + 2.0 * std::sqrt(n));
  const double growth = std::min(n, 6.0 * std::sqrt(n));
  const double residual = s.add_residual ? 2.0 * u * (magnitude + 1.0) : 0.0;
  return (growth + 1.0) * u * magnitude + residual;
}

double activation_lipschitz(const Activation& act) {
  switch (act.kind) {
    case ActivationKind::leaky_relu: return std::max(1.0, std::abs(static_cast<double>(act.alpha)));
    case ActivationKind::hardswish: return 1.5;  // (2x + 3)/6 at x = 3
    case ActivationKind::silu: return 1.1;       // max of σ(x)(1 + x(1 − σ(x))) is 1.0998
    case ActivationKind::sigmoid: return 0.25;   // σ'(0)
    default: return 1.0;
  }
}

double activation_relative_error(const Activation& act) {
  const double u = std::ldexp(1.0, -24);
  switch (act.kind) {
    case ActivationKind::leaky_relu: return u;  // one rounded product
    case ActivationKind::hardswish: return 4.0 * u;  // x + 3, ·(1/6) and 1/6 itself, ·x
    // exp by range reduction and a degree-6 polynomial, then an add and a division: measured
    // at most 2.7e-7 relative over every float (tests/activation_test.cpp), bound with margin.
    case ActivationKind::silu:
    case ActivationKind::sigmoid: return kSmoothActivationRelativeError;
    default: return 0.0;
  }
}

double tolerance(const ConvShape& s) {
  const double n = static_cast<double>(accumulation_length(s)) + 1.0;
  const double magnitude = std::min(n, n / 4.0 + 2.0 * std::sqrt(n)) + (s.add_residual ? 1.0 : 0.0);
  return activation_lipschitz(s.act) * pre_activation_tolerance(s) +
         activation_relative_error(s.act) * (magnitude + 1.0);
}

double winograd_relative_bound(int m) {
  switch (m) {
    case 2: return 1e-5;
    case 4: return 1e-4;
    case 6: return 1e-4;
  }
  return 0.0;
}

double tolerance(const ConvShape& s, Algorithm algo, const float* expected, std::size_t n) {
  const int m = winograd_tile_of(algo);
  if (m == 0) return tolerance(s);
  // The largest output; the gaps between strided pixels' slices are not outputs.
  const std::size_t stride = static_cast<std::size_t>(s.layout == Layout::nhwc ? s.dst_pixel_stride() : 1);
  const std::size_t channels = static_cast<std::size_t>(s.layout == Layout::nhwc ? s.oc : 1);
  // A clamp can hide the largest pre-activation outputs, which set the transforms' rounding:
  // five standard deviations of an output of U(−1, 1) data, √(L/9) each, stand in for them.
  double largest = std::max(1.0, 5.0 * std::sqrt((static_cast<double>(accumulation_length(s)) + 1.0) / 9.0));
  for (std::size_t i = 0; i < n; ++i)
    if (i % stride < channels) largest = std::max(largest, std::abs(static_cast<double>(expected[i])));
  return activation_lipschitz(s.act) * winograd_relative_bound(m) * largest +
         activation_relative_error(s.act) * (largest + 1.0);
}

double tolerance(const ConvShape& s, Algorithm algo, const std::vector<float>& expected) {
  return tolerance(s, algo, expected.data(), expected.size());
}

double max_abs_error(const float* a, const float* b, std::size_t n) {
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;  // also equal infinities
    if (std::isnan(a[i]) || std::isnan(b[i])) return std::numeric_limits<double>::infinity();
    worst = std::max(worst, std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i])));
  }
  return worst;
}

double max_abs_error(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return std::numeric_limits<double>::infinity();
  return max_abs_error(a.data(), b.data(), a.size());
}

}  // namespace convjit
