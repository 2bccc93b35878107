#include "generator/winograd_transform.hpp"

#include <convjit/error.hpp>

#include <string>

namespace convjit {
namespace {

// Coefficients of the polynomial prod_{l != skip} (x - points[l]), lowest power first.
std::vector<double> product_without(const std::vector<double>& points, std::size_t skip) {
  std::vector<double> poly{1.0};
  for (std::size_t l = 0; l < points.size(); ++l) {
    if (l == skip) continue;
    std::vector<double> next(poly.size() + 1, 0.0);
    for (std::size_t k = 0; k < poly.size(); ++k) {
      next[k + 1] += poly[k];
      next[k] -= points[l] * poly[k];
    }
    poly = next;
  }
  return poly;
}

// Finite points j = 0..alpha-2 and the point at infinity as row alpha-1:
//   Aᵀ[i][j] = p_j^i,            Aᵀ[i][∞] = [i == m-1]
//   G[j][k]  = p_j^k / f_j,      G[∞][k]  = [k == r-1],     f_j = prod_{l≠j} (p_j − p_l)
//   Bᵀ[j][l] = coefficient of x^l in prod_{l'≠j} (x − p_l')
//   Bᵀ[∞][l] = [l == alpha-1] − sum_j p_j^{alpha-1} Bᵀ[j][l] / f_j
// which makes sum_j Aᵀ[i][j] G[j][k] Bᵀ[j][l] = [l == i + k], the 1-D correlation.
WinogradTransform build(int m, const std::vector<double>& points) {
  WinogradTransform t;
  t.m = m;
  t.alpha = m + t.r - 1;
  const int a = t.alpha, r = t.r;
  const int finite = a - 1;
  t.bt.assign(a * a, 0.0);
  t.g.assign(a * r, 0.0);
  t.at.assign(m * a, 0.0);
  auto power = [](double x, int e) {
    double v = 1.0;
    for (int i = 0; i < e; ++i) v *= x;
    return v;
  };
  for (int j = 0; j < finite; ++j) {
    const double p = points[j];
    double f = 1.0;
    for (int l = 0; l < finite; ++l)
      if (l != j) f *= p - points[l];
    for (int i = 0; i < m; ++i) t.at[i * a + j] = power(p, i);
    for (int k = 0; k < r; ++k) t.g[j * r + k] = power(p, k) / f;
    const std::vector<double> poly = product_without(points, static_cast<std::size_t>(j));
    for (int l = 0; l < a; ++l) t.bt[j * a + l] = l < static_cast<int>(poly.size()) ? poly[l] : 0.0;
    for (int l = 0; l < a; ++l) t.bt[finite * a + l] -= power(p, a - 1) * t.bt[j * a + l] / f;
  }
  t.bt[finite * a + a - 1] += 1.0;
  t.at[(m - 1) * a + finite] = 1.0;
  t.g[finite * r + r - 1] = 1.0;
  return t;
}

}  // namespace

const WinogradTransform& winograd_transform(int m) {
  static const WinogradTransform f2 = build(2, {0.0, 1.0, -1.0});
  static const WinogradTransform f4 = build(4, {0.0, 1.0, -1.0, 2.0, -2.0});
  static const WinogradTransform f6 = build(6, {0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5});
  switch (m) {
    case 2: return f2;
    case 4: return f4;
    case 6: return f6;
  }
  throw Error("algo", "Winograd F(" + std::to_string(m) + "x" + std::to_string(m) +
                          ", 3x3) is not built (tile sizes 2, 4 and 6 are)");
}

}  // namespace convjit
