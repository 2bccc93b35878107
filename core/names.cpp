// The names of backends and instruction sets, as spec strings, options and the tool spell them.
#include <convjit/backend.hpp>
#include <convjit/error.hpp>

#include <cstdlib>

#include <string>

namespace convjit {

std::string_view to_string(Isa isa) {
  switch (isa) {
    case Isa::automatic: return "auto";
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    case Isa::neon: return "neon";
  }
  return "?";
}

Isa parse_isa(std::string_view name) {
  for (Isa isa : {Isa::automatic, Isa::avx2, Isa::avx512, Isa::neon})
    if (name == to_string(isa)) return isa;
  throw Error("isa", "unknown instruction set '" + std::string(name) +
                         "' (expected auto, avx2, avx512 or neon)");
}

std::string_view to_string(Backend backend) {
  switch (backend) {
    case Backend::automatic: return "auto";
    case Backend::xbyak: return "xbyak";
    case Backend::llvm: return "llvm";
    case Backend::generic: return "generic";
    case Backend::reference: return "reference";
  }
  return "?";
}

Backend parse_backend(std::string_view name) {
  for (Backend b : {Backend::automatic, Backend::xbyak, Backend::llvm, Backend::generic,
                    Backend::reference})
    if (name == to_string(b)) return b;
  throw Error("backend", "unknown backend '" + std::string(name) +
                             "' (expected auto, xbyak, llvm, generic or reference)");
}

std::string_view to_string(Tuning tuning) {
  switch (tuning) {
    case Tuning::automatic: return "auto";
    case Tuning::off: return "off";
    case Tuning::fast: return "fast";
    case Tuning::full: return "full";
  }
  return "?";
}

Tuning parse_tuning(std::string_view name) {
  for (Tuning t : {Tuning::automatic, Tuning::off, Tuning::fast, Tuning::full})
    if (name == to_string(t)) return t;
  throw Error("tune", "unknown tuning '" + std::string(name) + "' (expected off, fast, full or auto)");
}

Tuning resolve_tuning(Tuning requested) {
  if (requested != Tuning::automatic) return requested;
  const char* env = std::getenv("CONVJIT_TUNE");
  const Tuning from_env = env && *env ? parse_tuning(env) : Tuning::automatic;
  return from_env == Tuning::automatic ? Tuning::fast : from_env;
}

}  // namespace convjit
