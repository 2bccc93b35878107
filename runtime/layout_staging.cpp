#include "runtime/layout_staging.hpp"

#include <algorithm>

namespace convjit {
namespace {

// 16 × 16 floats: a cache line of each of 16 rows on both sides.
constexpr std::int64_t kBlock = 16;

// out[j][i] = in[i][j] for an rows × cols matrix.
void transpose(const float* in, std::int64_t rows, std::int64_t cols, float* out) {
  for (std::int64_t i0 = 0; i0 < rows; i0 += kBlock) {
    const std::int64_t i1 = std::min(rows, i0 + kBlock);
    for (std::int64_t j0 = 0; j0 < cols; j0 += kBlock) {
      const std::int64_t j1 = std::min(cols, j0 + kBlock);
      for (std::int64_t i = i0; i < i1; ++i)
        for (std::int64_t j = j0; j < j1; ++j) out[j * rows + i] = in[i * cols + j];
    }
  }
}

}  // namespace

void planes_to_pixels(const float* planes, std::int64_t channels, std::int64_t pixels, float* out) {
  transpose(planes, channels, pixels, out);
}

void pixels_to_planes(const float* pixels_in, std::int64_t channels, std::int64_t pixels, float* out) {
  transpose(pixels_in, pixels, channels, out);
}

}  // namespace convjit
