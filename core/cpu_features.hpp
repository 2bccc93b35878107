#pragma once
// What the host CPU runs, asked once per process.
namespace convjit {

bool cpu_has_avx2_fma();
bool cpu_has_avx512();  // AVX-512F and AVX-512VL (with AVX2 and FMA)
// AArch64 Advanced SIMD, which every AArch64 CPU has and no x86-64 one does.
bool cpu_has_neon();

}  // namespace convjit
