#pragma once
// Transposes between one image's channel planes (NCHW: [c][pixel]) and its pixels (NHWC:
// [pixel][c]), for kernels that compute NHWC on NCHW tensors (Winograd). Cache-blocked, so
// each side is read or written in runs of whole cache lines.
#include <cstdint>

namespace convjit {

void planes_to_pixels(const float* planes, std::int64_t channels, std::int64_t pixels, float* out);
void pixels_to_planes(const float* pixels_in, std::int64_t channels, std::int64_t pixels, float* out);

}  // namespace convjit
