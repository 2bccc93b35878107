#pragma once
// BackendSession: what one Jit keeps for its backend between compiles, opaque to the runtime.
// The LLVM backend's is the Jit's own LLJIT, created on its first compile and kept alive by
// every kernel linked into it (a kernel may outlive its Jit). Thread-safe.
namespace convjit {

class BackendSession {
 public:
  virtual ~BackendSession() = default;
};

}  // namespace convjit
