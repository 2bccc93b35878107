#include "core/cpu_features.hpp"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <unistd.h>

#include <cstring>

namespace convjit {

bool cpu_has_avx2_fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}

bool cpu_has_avx512() {
  static const bool has = [] {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl");
  }();
  return has;
}

bool cpu_has_avx512_vnni() {
  static const bool has = [] {
    __builtin_cpu_init();
    return cpu_has_avx512() && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vnni");
  }();
  return has;
}

namespace {

// CPUID leaf 7, sub-leaf 1, EAX bit 4: not every compiler's __builtin_cpu_supports knows it.
bool avx_vnni_bit() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 4) & 1u;
}

}  // namespace

bool cpu_has_avx_vnni() {
  static const bool has = [] {
    __builtin_cpu_init();
    return cpu_has_avx2_fma() && avx_vnni_bit();
  }();
  return has;
}

bool avx2_kernels_use_vnni() {
  const char* setting = std::getenv("CONVJIT_AVX_VNNI");  // read at each plan, for tests
  const bool refused = setting && std::string_view(setting) == "0";
  return cpu_has_avx_vnni() && !refused;
}

bool cpu_has_neon() {
#if defined(__aarch64__)
  return true;
#else
  return false;
#endif
}

std::size_t cpu_l2_bytes() {
  static const std::size_t bytes = [] {
    constexpr std::size_t kFallback = std::size_t{1} << 20;
#if defined(_SC_LEVEL2_CACHE_SIZE)
    const long l2 = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
    if (l2 > 0) return static_cast<std::size_t>(l2);
#endif
    return kFallback;
  }();
  return bytes;
}

const std::string& cpu_identity() {
  static const std::string identity = [] {
    std::string text;
#if defined(__x86_64__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    __get_cpuid(0, &a, &b, &c, &d);
    char vendor[13] = {};
    std::memcpy(vendor, &b, 4);
    std::memcpy(vendor + 4, &d, 4);
    std::memcpy(vendor + 8, &c, 4);
    __get_cpuid(1, &a, &b, &c, &d);
    const unsigned base_family = (a >> 8) & 0xF, base_model = (a >> 4) & 0xF;
    const unsigned family = base_family == 0xF ? base_family + ((a >> 20) & 0xFF) : base_family;
    const unsigned model =
        base_family == 0x6 || base_family == 0xF ? base_model + (((a >> 16) & 0xF) << 4) : base_model;
    text = std::string(vendor) + " family " + std::to_string(family) + " model " +
           std::to_string(model) + " stepping " + std::to_string(a & 0xF) + " features ";
    __builtin_cpu_init();
    const char* sep = "";
    auto feature = [&](const char* name, bool has) {
      if (!has) return;
      text.append(sep).append(name);
      sep = ",";
    };
    feature("sse4.2", __builtin_cpu_supports("sse4.2"));
    feature("avx", __builtin_cpu_supports("avx"));
    feature("avx2", __builtin_cpu_supports("avx2"));
    feature("fma", __builtin_cpu_supports("fma"));
    feature("avx512f", __builtin_cpu_supports("avx512f"));
    feature("avx512vl", __builtin_cpu_supports("avx512vl"));
    feature("avx512bw", __builtin_cpu_supports("avx512bw"));
    feature("avx512dq", __builtin_cpu_supports("avx512dq"));
    feature("avx512vnni", __builtin_cpu_supports("avx512vnni"));
    feature("avxvnni", avx_vnni_bit());
#else
    text = "aarch64 features neon";
#endif
    return text;
  }();
  return identity;
}

}  // namespace convjit
