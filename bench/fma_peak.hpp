#pragma once
// This core's single-thread floating-point peak, measured in the same run as the benchmark
// so "fraction of peak" means something on whatever machine (and clock) the numbers came from.
namespace convjit::bench {

// AVX2 + FMA: 12 independent vfmadd231ps chains on ymm registers (8 lanes × 2 flops per
// FMA), best of several ~2 ms bursts within about `seconds`, each timed in thread CPU time so
// preemption on a busy machine does not lower it. 0 when the CPU lacks AVX2/FMA.
double measure_fma_peak_gflops(double seconds = 0.05);

// The same with zmm registers (16 lanes), for context on CPUs where libraries such as oneDNN
// run AVX-512 code. 0 when the CPU lacks AVX-512F.
double measure_avx512_fma_peak_gflops(double seconds = 0.05);

// The 8-bit peak: 12 chains of zmm vpdpbusd (64 u8·s8 multiply-adds each, counted as 128
// operations), in GOP/s. 0 when the CPU lacks AVX512-VNNI.
double measure_vnni_peak_gops(double seconds = 0.05);

}  // namespace convjit::bench
