#pragma once
// WinogradTransform: the three matrices of Winograd's minimal filtering F(m, 3), built from
// interpolation points by the Cook-Toom construction (Lavin & Gray, 2016). In one dimension
//   y = Aᵀ [(G g) ⊙ (Bᵀ d)]
// turns m outputs of a 3-tap correlation of d (m + 2 inputs) into m + 2 products; in two
// dimensions V = Bᵀ d B, U = G g Gᵀ, Y = Aᵀ (U ⊙ V) A.
#include <vector>

namespace convjit {

struct WinogradTransform {
  int m = 0;      // outputs per tile and axis
  int r = 3;      // kernel taps per axis
  int alpha = 0;  // inputs per tile and axis, m + r - 1
  // Row-major: bt is alpha x alpha, g is alpha x r, at is m x alpha.
  std::vector<double> bt, g, at;

  double bt_at(int row, int col) const { return bt[row * alpha + col]; }
  double g_at(int row, int col) const { return g[row * r + col]; }
  double at_at(int row, int col) const { return at[row * alpha + col]; }
};

// m = 2, 4 or 6 (points 0, ±1, ±2, ±1/2 and infinity, as many as F(m, 3) takes).
const WinogradTransform& winograd_transform(int m);

}  // namespace convjit
