// Placeholder until the emitter lands.
#include <convjit/error.hpp>
#include "runtime/backends.hpp"
namespace convjit {
std::shared_ptr<const KernelCode> make_xbyak_code(const KernelPlan&) {
  throw Error("backend", "xbyak is not implemented yet");
}
}  // namespace convjit
