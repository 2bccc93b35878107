#pragma once
// What the host CPU runs, asked once per process.
#include <cstddef>
#include <string>

namespace convjit {

bool cpu_has_avx2_fma();
bool cpu_has_avx512();  // AVX-512F and AVX-512VL (with AVX2 and FMA)
// What the 8-bit AVX-512 kernels use besides: vpdpbusd (AVX512-VNNI) and byte masks (AVX512-BW).
bool cpu_has_avx512_vnni();
// AVX-VNNI: vpdpbusd and vpdpwssd with VEX encodings on ymm (Intel since Alder Lake, AMD Zen 5),
// which the AVX2 8-bit kernels use unless CONVJIT_AVX_VNNI=0 asks for their int16 pairs.
bool cpu_has_avx_vnni();
bool avx2_kernels_use_vnni();
// AArch64 Advanced SIMD, which every AArch64 CPU has and no x86-64 one does.
bool cpu_has_neon();

// Bytes of one core's L2 cache (sysconf), or 1 MiB where the system does not say: what the
// planner sizes bands of rows by (WorkUnits::band_units).
std::size_t cpu_l2_bytes();

// The CPU as a persistent cache must tell it apart, one line: vendor, family, model and
// stepping, and the instruction-set features kernels and timings depend on, e.g.
// "AuthenticAMD family 25 model 17 stepping 1 features avx,avx2,fma,avx512f,...".
// Timings measured on one CPU say nothing about another.
const std::string& cpu_identity();

}  // namespace convjit
