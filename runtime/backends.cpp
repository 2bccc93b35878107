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
      return make_generic_code(plan);
    case Backend::xbyak:
      if (!cpu_has_avx2_fma()) throw Error("backend", "xbyak needs a CPU with AVX2 and FMA");
      return make_xbyak_code(plan);
    case Backend::llvm: return make_llvm_code(plan, session);
    case Backend::automatic: return make_code(plan, resolve_backend(backend), session);
  }
  throw Error("backend", "unknown backend");
}

}  // namespace convjit
