#pragma once
// Activation layout changes for the NCHW inputs the Python module runs on NHWC kernels
// (layer.hpp says when): per image, a (channels × pixels) matrix transposed either way.
#include <cstdint>

namespace convjit::python {

// dst[n][p][c] = src[n][c][p] for p < pixels (h·w).
void nchw_to_nhwc(const float* src, float* dst, std::int64_t n, std::int64_t c, std::int64_t pixels,
                  int threads);
// dst[n][c][p] = src[n][p][c].
void nhwc_to_nchw(const float* src, float* dst, std::int64_t n, std::int64_t c, std::int64_t pixels,
                  int threads);

}  // namespace convjit::python
