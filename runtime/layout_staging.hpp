#pragma once
// Transposes between images' channel planes (NCHW: [c][pixel]) and their pixels (NHWC:
// [pixel][c]), for kernels that compute NHWC on NCHW tensors (KernelPlan::stages_nchw()). A
// batch is cut into square blocks that run()'s threads share; each block is copied through
// 8×8 register transposes (AVX2, where the CPU has it; plain loads and stores elsewhere), so
// both sides are read and written in runs of whole cache lines. Copies are exact, so the split
// never changes a bit.
#include <cstdint>

namespace convjit {

// Each of `images` dense rows × cols matrices of `in` into a cols × rows matrix of `out`.
class BatchTranspose {
 public:
  BatchTranspose(const float* in, float* out, std::int64_t images, std::int64_t rows,
                 std::int64_t cols);

  std::int64_t blocks() const { return images_ * row_blocks_ * col_blocks_; }
  // Blocks [first, last), in image, row block, column block order.
  void run(std::int64_t first, std::int64_t last) const;

 private:
  const float* in_;
  float* out_;
  std::int64_t images_, rows_, cols_, row_blocks_, col_blocks_;
};

// NCHW src to NHWC: rows are channels, columns pixels.
inline BatchTranspose planes_to_pixels(const float* planes, float* pixels, std::int64_t images,
                                       std::int64_t channels, std::int64_t pixel_count) {
  return {planes, pixels, images, channels, pixel_count};
}
// NHWC dst back to NCHW.
inline BatchTranspose pixels_to_planes(const float* pixels, float* planes, std::int64_t images,
                                       std::int64_t channels, std::int64_t pixel_count) {
  return {pixels, planes, images, pixel_count, channels};
}

}  // namespace convjit
