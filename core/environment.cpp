#include "core/environment.hpp"

#include <convjit/error.hpp>

#include <cstdlib>
#include <string>
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

std::optional<std::size_t> band_bytes_override() {
  const char* env = std::getenv("CONVJIT_BAND_BYTES");
  if (!env || !*env) return std::nullopt;
  char* end = nullptr;
  const long long bytes = std::strtoll(env, &end, 10);
  if (*end != '\0' || bytes < 0)
    throw Error("CONVJIT_BAND_BYTES", "expected a byte count (0: no bands), got '" + std::string(env) + "'");
  return static_cast<std::size_t>(bytes);
}

}  // namespace convjit
