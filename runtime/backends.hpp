#pragma once
// The runtime's view of the four backends: which one a Jit uses, and one call that turns a
// plan into executable code with whichever it is.
#include <convjit/jit.hpp>

#include "generator/backend_session.hpp"
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"

#include <memory>

namespace convjit {

// The session a Jit of this backend keeps; null for backends that need none.
std::shared_ptr<BackendSession> make_backend_session(Backend backend);

// Dispatches on a concrete backend (not `automatic`); throws convjit::Error("backend", …)
// for one this build or CPU cannot run. `session`: from make_backend_session(backend).
std::shared_ptr<const KernelCode> make_code(const KernelPlan& plan, Backend backend,
                                            BackendSession* session = nullptr);

}  // namespace convjit
