#pragma once
// One factory per backend; each turns a plan into executable KernelCode.
#include <convjit/jit.hpp>

#include "generator/plan.hpp"
#include "runtime/kernel_code.hpp"

#include <memory>

namespace convjit {

// What one Jit keeps for its backend between compiles, opaque to the runtime. The LLVM
// backend's is the Jit's own LLJIT, created on its first compile and kept alive by every
// kernel linked into it (a kernel may outlive its Jit). Thread-safe.
class BackendSession {
 public:
  virtual ~BackendSession() = default;
};
// The session a Jit of this backend keeps; null for backends that need none.
std::shared_ptr<BackendSession> make_backend_session(Backend backend);
std::shared_ptr<BackendSession> make_llvm_session();

std::shared_ptr<const KernelCode> make_reference_code(const KernelPlan& plan);
std::shared_ptr<const KernelCode> make_generic_code(const KernelPlan& plan);
std::shared_ptr<const KernelCode> make_xbyak_code(const KernelPlan& plan);
// LLVM IR from the plan, compiled by ORC's LLJIT for the host CPU (generator/llvm/): the
// session's LLJIT (from make_llvm_session), or without one a process-wide LLJIT. With
// CONVJIT_CACHE_DIR set, objects are loaded from / stored to that directory
// (generator/llvm/object_cache.hpp).
std::shared_ptr<const KernelCode> make_llvm_code(const KernelPlan& plan,
                                                 BackendSession* session = nullptr);

// Dispatches on a concrete backend (not `automatic`); throws convjit::Error("backend", …)
// for one this build or CPU cannot run. `session`: from make_backend_session(backend).
std::shared_ptr<const KernelCode> make_code(const KernelPlan& plan, Backend backend,
                                            BackendSession* session = nullptr);

bool cpu_has_avx2_fma();
bool cpu_has_avx512();  // AVX-512F and AVX-512VL (with AVX2 and FMA)

}  // namespace convjit
