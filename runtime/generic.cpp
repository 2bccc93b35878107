// Placeholder until the generic kernel lands.
#include <convjit/error.hpp>
#include "runtime/backends.hpp"
namespace convjit {
std::shared_ptr<const KernelCode> make_generic_code(const KernelPlan&) {
  throw Error("backend", "generic is not implemented yet");
}
}  // namespace convjit
