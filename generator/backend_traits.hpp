#pragma once
// BackendTraits: what each backend can build, in one table, so that the planner's policy, the
// Jit and the tuner ask it instead of naming backends.
#include <convjit/backend.hpp>

namespace convjit {

struct BackendTraits {
  bool winograd = false;  // builds Winograd kernels (the JIT backends)
  // The least tuning mode that tunes its kernels (off: never). LLVM takes tens of
  // milliseconds per kernel, so only `full` tunes it; the ahead-of-time backends have one
  // kernel per shape.
  Tuning tuned_from = Tuning::off;
  // Its code computes by the plan (kernel layout, unit ranges), so the planner may stage NCHW
  // tensors and band rows for it (DirectMemory). The reference reads the user's tensors whole.
  bool memory_variants = false;

  bool tunes(Tuning mode) const {
    return tuned_from != Tuning::off && mode != Tuning::off && mode >= tuned_from;
  }
};

inline BackendTraits backend_traits(Backend backend) {
  switch (backend) {
    case Backend::xbyak: return {true, Tuning::fast, true};
    case Backend::llvm: return {true, Tuning::full, true};
    // generic: the direct baseline by definition, in the shape's layout over whole images;
    // reference: the definition.
    default: return {};
  }
}

}  // namespace convjit
