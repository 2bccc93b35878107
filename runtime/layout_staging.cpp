#include "runtime/layout_staging.hpp"

#include "core/cpu_features.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace convjit {
namespace {

// 64 × 64 floats: a block's rows and columns both stay in L1 while it is copied, and a block
// is enough work to be worth handing to a thread.
constexpr std::int64_t kBlock = 64;

using BlockCopy = void (*)(const float* in, std::int64_t in_stride, float* out,
                           std::int64_t out_stride, std::int64_t rows, std::int64_t cols);

// out[j][i] = in[i][j] for a rows × cols block.
void transpose_block_scalar(const float* in, std::int64_t in_stride, float* out,
                            std::int64_t out_stride, std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) out[j * out_stride + i] = in[i * in_stride + j];
}

#if defined(__x86_64__)
// The same in 8×8 register transposes where the block has them. Compiled for AVX2 here alone
// (a target attribute), so the library still loads on CPUs without it: the scalar copy runs there.
__attribute__((target("avx2"))) void transpose_block_avx2(const float* in, std::int64_t in_stride,
                                                          float* out, std::int64_t out_stride,
                                                          std::int64_t rows, std::int64_t cols) {
  const std::int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (std::int64_t i = 0; i < rows8; i += 8) {
    for (std::int64_t j = 0; j < cols8; j += 8) {
      const float* s = in + i * in_stride + j;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + in_stride),
             r2 = _mm256_loadu_ps(s + 2 * in_stride), r3 = _mm256_loadu_ps(s + 3 * in_stride),
             r4 = _mm256_loadu_ps(s + 4 * in_stride), r5 = _mm256_loadu_ps(s + 5 * in_stride),
             r6 = _mm256_loadu_ps(s + 6 * in_stride), r7 = _mm256_loadu_ps(s + 7 * in_stride);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                   t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                   t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float* d = out + j * out_stride + i;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + out_stride, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 2 * out_stride, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 3 * out_stride, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 4 * out_stride, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 5 * out_stride, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 6 * out_stride, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 7 * out_stride, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
  }
  // The ragged right and bottom edges.
  transpose_block_scalar(in + cols8, in_stride, out + cols8 * out_stride, out_stride, rows8, cols - cols8);
  transpose_block_scalar(in + rows8 * in_stride, in_stride, out + rows8, out_stride, rows - rows8, cols);
}
#endif

BlockCopy block_copy() {
#if defined(__x86_64__)
  static const BlockCopy chosen = cpu_has_avx2_fma() ? transpose_block_avx2 : transpose_block_scalar;
  return chosen;
#else
  return transpose_block_scalar;
#endif
}

}  // namespace

BatchTranspose::BatchTranspose(const float* in, float* out, std::int64_t images, std::int64_t rows,
                               std::int64_t cols)
    : in_(in), out_(out), images_(images), rows_(rows), cols_(cols),
      row_blocks_((rows + kBlock - 1) / kBlock), col_blocks_((cols + kBlock - 1) / kBlock) {}

void BatchTranspose::run(std::int64_t first, std::int64_t last) const {
  const BlockCopy copy = block_copy();
  const std::int64_t matrix = rows_ * cols_;
  for (std::int64_t b = first; b < last; ++b) {
    const std::int64_t image = b / (row_blocks_ * col_blocks_);
    const std::int64_t i = b / col_blocks_ % row_blocks_ * kBlock, j = b % col_blocks_ * kBlock;
    copy(in_ + image * matrix + i * cols_ + j, cols_, out_ + image * matrix + j * rows_ + i, rows_,
         std::min(kBlock, rows_ - i), std::min(kBlock, cols_ - j));
  }
}

}  // namespace convjit
