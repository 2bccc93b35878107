#pragma once
// Switches read from the environment that more than one floor consults.
namespace convjit {

// Set, non-empty and not "0".
bool env_flag(const char* name);
// CONVJIT_VERBOSE: one line on stderr per cache lookup, run and object-cache event.
bool verbose_enabled();

}  // namespace convjit
