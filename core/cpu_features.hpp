#pragma once
// What the host CPU runs, asked once per process.
namespace convjit {

bool cpu_has_avx2_fma();
bool cpu_has_avx512();  // AVX-512F and AVX-512VL (with AVX2 and FMA)

}  // namespace convjit
