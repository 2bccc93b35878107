#include "transpose.hpp"

#include <algorithm>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace convjit::python {
namespace {

// Tiles small enough that a tile's rows and columns both stay in L1 while it is copied.
constexpr std::int64_t kTile = 64;

using BlockFn = void (*)(const float* src, std::int64_t src_stride, float* dst, std::int64_t dst_stride,
                         std::int64_t rows, std::int64_t cols);

// dst[j][i] = src[i][j] for a rows × cols block.
void transpose_block_scalar(const float* src, std::int64_t src_stride, float* dst, std::int64_t dst_stride,
                            std::int64_t rows, std::int64_t cols) {
  for (std::int64_t i = 0; i < rows; ++i)
    for (std::int64_t j = 0; j < cols; ++j) dst[j * dst_stride + i] = src[i * src_stride + j];
}

#if defined(__x86_64__)
// The same, in 8×8 register transposes where the block has them; compiled for AVX2 only
// here, so the module still loads on older CPUs (the scalar version runs there).
__attribute__((target("avx2"))) void transpose_block_avx2(const float* src, std::int64_t src_stride,
                                                          float* dst, std::int64_t dst_stride,
                                                          std::int64_t rows, std::int64_t cols) {
  const std::int64_t rows8 = rows / 8 * 8, cols8 = cols / 8 * 8;
  for (std::int64_t i = 0; i < rows8; i += 8) {
    for (std::int64_t j = 0; j < cols8; j += 8) {
      const float* s = src + i * src_stride + j;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + src_stride),
             r2 = _mm256_loadu_ps(s + 2 * src_stride), r3 = _mm256_loadu_ps(s + 3 * src_stride),
             r4 = _mm256_loadu_ps(s + 4 * src_stride), r5 = _mm256_loadu_ps(s + 5 * src_stride),
             r6 = _mm256_loadu_ps(s + 6 * src_stride), r7 = _mm256_loadu_ps(s + 7 * src_stride);
      const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
                   t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
                   t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
                   t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
                   u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
                   u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
                   u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      r0 = _mm256_permute2f128_ps(u0, u4, 0x20);
      r1 = _mm256_permute2f128_ps(u1, u5, 0x20);
      r2 = _mm256_permute2f128_ps(u2, u6, 0x20);
      r3 = _mm256_permute2f128_ps(u3, u7, 0x20);
      r4 = _mm256_permute2f128_ps(u0, u4, 0x31);
      r5 = _mm256_permute2f128_ps(u1, u5, 0x31);
      r6 = _mm256_permute2f128_ps(u2, u6, 0x31);
      r7 = _mm256_permute2f128_ps(u3, u7, 0x31);
      float* d = dst + j * dst_stride + i;
      _mm256_storeu_ps(d, r0);
      _mm256_storeu_ps(d + dst_stride, r1);
      _mm256_storeu_ps(d + 2 * dst_stride, r2);
      _mm256_storeu_ps(d + 3 * dst_stride, r3);
      _mm256_storeu_ps(d + 4 * dst_stride, r4);
      _mm256_storeu_ps(d + 5 * dst_stride, r5);
      _mm256_storeu_ps(d + 6 * dst_stride, r6);
      _mm256_storeu_ps(d + 7 * dst_stride, r7);
    }
  }
  // The ragged right and bottom edges.
  transpose_block_scalar(src + cols8, src_stride, dst + cols8 * dst_stride, dst_stride, rows8, cols - cols8);
  transpose_block_scalar(src + rows8 * src_stride, src_stride, dst + rows8, dst_stride, rows - rows8, cols);
}
#endif

BlockFn block_function() {
#if defined(__x86_64__)
  static const BlockFn chosen = __builtin_cpu_supports("avx2") ? transpose_block_avx2 : transpose_block_scalar;
  return chosen;
#else
  return transpose_block_scalar;
#endif
}

// Each of n matrices of rows × cols, transposed into cols × rows.
void transpose_batch(const float* src, float* dst, std::int64_t n, std::int64_t rows, std::int64_t cols,
                     int threads) {
  const BlockFn block = block_function();
  const std::int64_t row_tiles = (rows + kTile - 1) / kTile, col_tiles = (cols + kTile - 1) / kTile;
  const std::int64_t tiles = n * row_tiles * col_tiles;
  const std::int64_t matrix = rows * cols;
#pragma omp parallel for num_threads(std::max(1, threads)) schedule(static) if (threads > 1 && tiles > 1)
  for (std::int64_t t = 0; t < tiles; ++t) {
    const std::int64_t image = t / (row_tiles * col_tiles);
    const std::int64_t i = t / col_tiles % row_tiles * kTile, j = t % col_tiles * kTile;
    block(src + image * matrix + i * cols + j, cols, dst + image * matrix + j * rows + i, rows,
          std::min(kTile, rows - i), std::min(kTile, cols - j));
  }
}

}  // namespace

void nchw_to_nhwc(const float* src, float* dst, std::int64_t n, std::int64_t c, std::int64_t pixels,
                  int threads) {
  transpose_batch(src, dst, n, c, pixels, threads);
}

void nhwc_to_nchw(const float* src, float* dst, std::int64_t n, std::int64_t c, std::int64_t pixels,
                  int threads) {
  transpose_batch(src, dst, n, pixels, c, threads);
}

}  // namespace convjit::python
