#pragma once
// Switches read from the environment that more than one floor consults.
#include <cstddef>
#include <optional>

namespace convjit {

// Set, non-empty and not "0".
bool env_flag(const char* name);
// CONVJIT_VERBOSE: one line on stderr per cache lookup, run and object-cache event.
bool verbose_enabled();
// CONVJIT_BAND_BYTES: the bytes of L2 a band of output rows may take (planner, see
// WorkUnits::band_units; 0: whole images), or none when unset. Throws Error naming the variable
// when it is not a byte count. Read at each plan, so a host can change it between kernels.
std::optional<std::size_t> band_bytes_override();

}  // namespace convjit
