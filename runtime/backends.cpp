#include "runtime/backends.hpp"

#include <convjit/error.hpp>

#include <cstdlib>
#include <string>

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

std::string_view to_string(Isa isa) {
  switch (isa) {
    case Isa::automatic: return "auto";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::automatic, Isa::avx2, Isa::avx512})
    if (name == to_string(isa)) return isa;
  throw Error("isa", "unknown instruction set '" + std::string(name) +
                         "' (expected auto, avx2 or avx512)");
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out{Isa::avx2};
  if (cpu_has_avx512()) out.push_back(Isa::avx512);
  return out;
}

Isa resolve_isa(Isa requested, Backend backend) {
  backend = resolve_backend(backend);
  const char* env = std::getenv("CONVJIT_ISA");
  const Isa from_env = env && *env ? parse_isa(env) : Isa::automatic;  // checked for every backend
  // The generic and reference kernels are compiled ahead of time (AVX2, scalar).
  if (backend != Backend::xbyak && backend != Backend::llvm) {
    if (requested == Isa::avx512)
      throw Error("isa", "the " + std::string(to_string(backend)) +
                             " backend runs code compiled ahead of time; only xbyak and llvm "
                             "generate avx512");
    return Isa::avx2;
  }
  if (requested == Isa::automatic) requested = from_env;
  if (requested == Isa::automatic) return cpu_has_avx512() ? Isa::avx512 : Isa::avx2;
  if (requested == Isa::avx512 && !cpu_has_avx512())
    throw Error("isa", "avx512 needs a CPU with AVX-512F and AVX-512VL; this one has neither "
                       "or not both");
  return requested;
}

std::string_view to_string(Backend backend) {
  switch (backend) {
    case Backend::automatic: return "auto";
    case Backend::xbyak: return "xbyak";
    case Backend::llvm: return "llvm";
    case Backend::generic: return "generic";
    case Backend::reference: return "reference";
  }
  return "?";
}

Backend parse_backend(std::string_view name) {
  for (Backend b : {Backend::automatic, Backend::xbyak, Backend::llvm, Backend::generic,
                    Backend::reference})
    if (name == to_string(b)) return b;
  throw Error("backend", "unknown backend '" + std::string(name) +
                             "' (expected auto, xbyak, llvm, generic or reference)");
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
      return make_xbyak_code(plan);
    case Backend::llvm: return make_llvm_code(plan, session);
    case Backend::automatic: return make_code(plan, resolve_backend(backend), session);
  }
  throw Error("backend", "unknown backend");
}

}  // namespace convjit
