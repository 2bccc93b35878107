#include "core/environment.hpp"

#include <cstdlib>
#include <string_view>

namespace convjit {

bool env_flag(const char* name) {
  const char* v = std::getenv(name);
  return v && *v && std::string_view(v) != "0";
}

bool verbose_enabled() {
  static const bool enabled = env_flag("CONVJIT_VERBOSE");
  return enabled;
}

}  // namespace convjit
