#include "runtime/backends.hpp"

#include "core/cpu_features.hpp"
#include "generator/generic/generic_code.hpp"
#include "generator/llvm/llvm_code.hpp"
#include "generator/reference/reference_code.hpp"
#include "generator/xbyak/xbyak_code.hpp"

#include <convjit/error.hpp>

#include <cstdlib>
#include <string>

namespace convjit {

std::vector<Isa> available_isas() {
  std::vector<Isa> out{Isa::avx2};
  if (cpu_has_avx512()) out.push_back(Isa::avx512);
  return out;
}

namespace {

// neon plans are AArch64 code: only LLVM generates them, and only an AArch64 host runs them.
void require_a_neon_host(Backend backend) {
  if (backend != Backend::llvm)
    throw Error("isa", "the " + std::string(to_string(backend)) +
                           " backend does not generate neon; only llvm does");
  if (!cpu_has_neon())
    throw Error("isa", "neon kernels are AArch64 code and this host cannot run them; "
                       "cross-compile them instead (convjit asm SPEC --target aarch64)");
}

}  // namespace

Isa resolve_isa(Isa requested, Backend backend) {
  backend = resolve_backend(backend);
  const char* env = std::getenv("CONVJIT_ISA");
  const Isa from_env = env && *env ? parse_isa(env) : Isa::automatic;  // checked for every backend
  // The generic and reference kernels are compiled ahead of time (AVX2, scalar).
  if (backend != Backend::xbyak && backend != Backend::llvm) {
    if (requested == Isa::avx512 || requested == Isa::neon)
      throw Error("isa", "the " + std::string(to_string(backend)) +
                             " backend runs code compiled ahead of time; only xbyak and llvm "
                             "generate " + std::string(to_string(requested)));
    return Isa::avx2;
  }
  if (requested == Isa::automatic) requested = from_env;
  if (requested == Isa::neon) require_a_neon_host(backend);
  if (requested == Isa::automatic) return cpu_has_avx512() ? Isa::avx512 : Isa::avx2;
  if (requested == Isa::avx512 && !cpu_has_avx512())
    throw Error("isa", "avx512 needs a CPU with AVX-512F and AVX-512VL; this one has neither "
                       "or not both");
  return requested;
}

std::vector<Backend> available_backends() {
  std::vector<Backend> out;
  if (cpu_has_avx2_fma()) out.push_back(Backend::xbyak);
  out.push_back(Backend::llvm);  // LLVM generates code for whatever CPU this is
  if (cpu_has_avx2_fma()) out.push_back(Backend::generic);
  out.push_back(Backend::reference);
  return out;
}

Backend resolve_backend(Backend requested) {
  if (requested == Backend::automatic) {
    if (const char* env = std::getenv("CONVJIT_BACKEND"); env && *env) {
      requested = parse_backend(env);
      if (requested != Backend::automatic) return requested;
    }
    if (cpu_has_avx2_fma()) return Backend::xbyak;
    return Backend::llvm;  // the portable JIT: no AVX2+FMA needed
  }
  return requested;
}

std::shared_ptr<BackendSession> make_backend_session(Backend backend) {
  if (resolve_backend(backend) == Backend::llvm) return make_llvm_session();
  return nullptr;
}

std::shared_ptr<const KernelCode> make_code(const KernelPlan& plan, Backend backend,
                                            BackendSession* session) {
  switch (backend) {
    case Backend::reference: return make_reference_code(plan);
    case Backend::generic:
      if (!cpu_has_avx2_fma()) throw Error("backend", "generic needs a CPU with AVX2 and FMA");
      if (plan.lanes != 8) throw Error("isa", "the generic kernel runs 8-lane (AVX2) plans only");
      return make_generic_code(plan);
    case Backend::xbyak:
      if (!cpu_has_avx2_fma()) throw Error("backend", "xbyak needs a CPU with AVX2 and FMA");
      if (plan.isa == Isa::avx512 && !cpu_has_avx512())
        throw Error("isa", "avx512 needs a CPU with AVX-512F and AVX-512VL");
      if (plan.isa == Isa::neon) require_a_neon_host(backend);
      return make_xbyak_code(plan);
    case Backend::llvm:
      if (plan.isa == Isa::neon) require_a_neon_host(backend);
      return make_llvm_code(plan, session);
    case Backend::automatic: return make_code(plan, resolve_backend(backend), session);
  }
  throw Error("backend", "unknown backend");
}

}  // namespace convjit
