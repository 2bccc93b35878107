// Compiled with -mavx2 -mfma (bench/CMakeLists.txt); the AVX-512 loop carries its own target
// attribute. Callers check the CPU before any of this code runs.
#include "bench/fma_peak.hpp"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <ctime>

namespace convjit::bench {
namespace {

volatile float g_sink;  // keeps the chains' results alive

// 12 independent chains acc_i += m·a (vfmadd231ps): with a 4-cycle FMA latency and two FMA
// ports, 8 chains keep both ports busy; 12 leave slack. Each iteration issues 12 FMAs that
// depend only on their own chain's previous FMA.
__attribute__((noinline)) float fma_chains_avx2(std::int64_t iterations, float mul, float add) {
  __m256 m = _mm256_set1_ps(mul), a = _mm256_set1_ps(add);
  __m256 c0 = _mm256_set1_ps(0.0f), c1 = _mm256_set1_ps(0.1f), c2 = _mm256_set1_ps(0.2f);
  __m256 c3 = _mm256_set1_ps(0.3f), c4 = _mm256_set1_ps(0.4f), c5 = _mm256_set1_ps(0.5f);
  __m256 c6 = _mm256_set1_ps(0.6f), c7 = _mm256_set1_ps(0.7f), c8 = _mm256_set1_ps(0.8f);
  __m256 c9 = _mm256_set1_ps(0.9f), c10 = _mm256_set1_ps(1.0f), c11 = _mm256_set1_ps(1.1f);
  for (std::int64_t i = 0; i < iterations; ++i) {
    // The asm barrier keeps the compiler from folding or re-associating the chains while
    // leaving the accumulators in ymm registers.
    __asm__ volatile("vfmadd231ps %[m], %[a], %[c0]\n\t"
                     "vfmadd231ps %[m], %[a], %[c1]\n\t"
                     "vfmadd231ps %[m], %[a], %[c2]\n\t"
                     "vfmadd231ps %[m], %[a], %[c3]\n\t"
                     "vfmadd231ps %[m], %[a], %[c4]\n\t"
                     "vfmadd231ps %[m], %[a], %[c5]\n\t"
                     "vfmadd231ps %[m], %[a], %[c6]\n\t"
                     "vfmadd231ps %[m], %[a], %[c7]\n\t"
                     "vfmadd231ps %[m], %[a], %[c8]\n\t"
                     "vfmadd231ps %[m], %[a], %[c9]\n\t"
                     "vfmadd231ps %[m], %[a], %[c10]\n\t"
                     "vfmadd231ps %[m], %[a], %[c11]\n\t"
                     : [c0] "+x"(c0), [c1] "+x"(c1), [c2] "+x"(c2), [c3] "+x"(c3),
                       [c4] "+x"(c4), [c5] "+x"(c5), [c6] "+x"(c6), [c7] "+x"(c7),
                       [c8] "+x"(c8), [c9] "+x"(c9), [c10] "+x"(c10), [c11] "+x"(c11)
                     : [m] "x"(m), [a] "x"(a));
  }
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                           _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  return lanes[0] + lanes[7];
}

__attribute__((noinline, target("avx512f"))) float fma_chains_avx512(std::int64_t iterations,
                                                                      float mul, float add) {
  __m512 m = _mm512_set1_ps(mul), a = _mm512_set1_ps(add);
  __m512 c0 = _mm512_set1_ps(0.0f), c1 = _mm512_set1_ps(0.1f), c2 = _mm512_set1_ps(0.2f);
  __m512 c3 = _mm512_set1_ps(0.3f), c4 = _mm512_set1_ps(0.4f), c5 = _mm512_set1_ps(0.5f);
  __m512 c6 = _mm512_set1_ps(0.6f), c7 = _mm512_set1_ps(0.7f), c8 = _mm512_set1_ps(0.8f);
  __m512 c9 = _mm512_set1_ps(0.9f), c10 = _mm512_set1_ps(1.0f), c11 = _mm512_set1_ps(1.1f);
  for (std::int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile("vfmadd231ps %[m], %[a], %[c0]\n\t"
                     "vfmadd231ps %[m], %[a], %[c1]\n\t"
                     "vfmadd231ps %[m], %[a], %[c2]\n\t"
                     "vfmadd231ps %[m], %[a], %[c3]\n\t"
                     "vfmadd231ps %[m], %[a], %[c4]\n\t"
                     "vfmadd231ps %[m], %[a], %[c5]\n\t"
                     "vfmadd231ps %[m], %[a], %[c6]\n\t"
                     "vfmadd231ps %[m], %[a], %[c7]\n\t"
                     "vfmadd231ps %[m], %[a], %[c8]\n\t"
                     "vfmadd231ps %[m], %[a], %[c9]\n\t"
                     "vfmadd231ps %[m], %[a], %[c10]\n\t"
                     "vfmadd231ps %[m], %[a], %[c11]\n\t"
                     : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3),
                       [c4] "+v"(c4), [c5] "+v"(c5), [c6] "+v"(c6), [c7] "+v"(c7),
                       [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)
                     : [m] "v"(m), [a] "v"(a));
  }
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                           _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
  float lanes[16];
  _mm512_storeu_ps(lanes, s);
  return lanes[0] + lanes[15];
}

// The same chains with vpdpbusd: each instruction sums 4 u8·s8 products into each of 16
// int32 lanes, 64 multiply-adds (128 operations). The result is a checksum only.
__attribute__((noinline, target("avx512f,avx512vnni"))) float vnni_chains_avx512(
    std::int64_t iterations, float mul, float add) {
  const __m512i m = _mm512_set1_epi32(static_cast<int>(mul * 3)), a = _mm512_set1_epi32(static_cast<int>(add) + 1);
  __m512i c0 = _mm512_set1_epi32(0), c1 = _mm512_set1_epi32(1), c2 = _mm512_set1_epi32(2);
  __m512i c3 = _mm512_set1_epi32(3), c4 = _mm512_set1_epi32(4), c5 = _mm512_set1_epi32(5);
  __m512i c6 = _mm512_set1_epi32(6), c7 = _mm512_set1_epi32(7), c8 = _mm512_set1_epi32(8);
  __m512i c9 = _mm512_set1_epi32(9), c10 = _mm512_set1_epi32(10), c11 = _mm512_set1_epi32(11);
  for (std::int64_t i = 0; i < iterations; ++i) {
    __asm__ volatile("vpdpbusd %[m], %[a], %[c0]\n\t"
                     "vpdpbusd %[m], %[a], %[c1]\n\t"
                     "vpdpbusd %[m], %[a], %[c2]\n\t"
                     "vpdpbusd %[m], %[a], %[c3]\n\t"
                     "vpdpbusd %[m], %[a], %[c4]\n\t"
                     "vpdpbusd %[m], %[a], %[c5]\n\t"
                     "vpdpbusd %[m], %[a], %[c6]\n\t"
                     "vpdpbusd %[m], %[a], %[c7]\n\t"
                     "vpdpbusd %[m], %[a], %[c8]\n\t"
                     "vpdpbusd %[m], %[a], %[c9]\n\t"
                     "vpdpbusd %[m], %[a], %[c10]\n\t"
                     "vpdpbusd %[m], %[a], %[c11]\n\t"
                     : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3),
                       [c4] "+v"(c4), [c5] "+v"(c5), [c6] "+v"(c6), [c7] "+v"(c7),
                       [c8] "+v"(c8), [c9] "+v"(c9), [c10] "+v"(c10), [c11] "+v"(c11)
                     : [m] "v"(m), [a] "v"(a));
  }
  __m512i s = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(c0, c1), _mm512_add_epi32(c2, c3)),
                               _mm512_add_epi32(_mm512_add_epi32(c4, c5), _mm512_add_epi32(c6, c7)));
  s = _mm512_add_epi32(s, _mm512_add_epi32(_mm512_add_epi32(c8, c9), _mm512_add_epi32(c10, c11)));
  return static_cast<float>(_mm512_reduce_add_epi32(s));
}

// Thread CPU time: a burst during which the scheduler ran someone else is not mistaken for a
// slow core (the best burst is kept anyway).
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

template <typename Chains>
double best_rate(Chains chains, double flops_per_iteration, double seconds) {
  using clock = std::chrono::steady_clock;
  constexpr std::int64_t burst = 1 << 20;  // 12·2^20 FMAs: ~2 ms (ymm) at a few GHz
  g_sink = chains(burst, 0.999999f, 1e-6f);  // wake the vector unit (and the clock) up
  double best = 0;
  const auto end = clock::now() + std::chrono::duration<double>(seconds);
  int bursts = 0;
  do {
    const double c0 = thread_cpu_seconds();
    g_sink = chains(burst, 0.999999f, 1e-6f);
    const double s = thread_cpu_seconds() - c0;
    if (s > 0) best = std::max(best, flops_per_iteration * burst / s);
  } while (++bursts < 5 || clock::now() < end);
  return best * 1e-9;
}

}  // namespace

double measure_fma_peak_gflops(double seconds) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return 0;
  return best_rate(fma_chains_avx2, 12.0 * 8 * 2, seconds);
}

double measure_avx512_fma_peak_gflops(double seconds) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f")) return 0;
  return best_rate(fma_chains_avx512, 12.0 * 16 * 2, seconds);
}

double measure_vnni_peak_gops(double seconds) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vnni")) return 0;
  return best_rate(vnni_chains_avx512, 12.0 * 64 * 2, seconds);
}

}  // namespace convjit::bench
