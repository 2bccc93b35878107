#pragma once
// The LLVM backend's factory: IR from the plan's schedule, compiled by ORC's LLJIT for the
// host CPU.
#include "generator/backend_session.hpp"
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"

#include <memory>

namespace convjit {

// The session a Jit of the llvm backend keeps: its own LLJIT.
std::shared_ptr<BackendSession> make_llvm_session();
// The session's LLJIT (from make_llvm_session), or without one a process-wide LLJIT. With
// CONVJIT_CACHE_DIR set, objects are loaded from / stored to that directory
// (generator/llvm/object_cache.hpp).
std::shared_ptr<const KernelCode> make_llvm_code(const KernelPlan& plan,
                                                 BackendSession* session = nullptr);

}  // namespace convjit
