#include "generator/algorithm_policy.hpp"

#include <convjit/error.hpp>

namespace convjit {

Algorithm requested_algorithm(const ConvShape& shape, Backend backend, Algorithm jit_default) {
  const bool winograd = backend_traits(backend).winograd;
  if (shape.algo != Algorithm::automatic) {
    if (!winograd && shape.algo != Algorithm::direct)
      throw Error("algo", std::string(to_string(shape.algo)) +
                              " needs the xbyak or llvm backend; the " +
                              std::string(to_string(backend)) +
                              " backend computes direct convolution only");
    return shape.algo;
  }
  if (!winograd) return Algorithm::direct;
  // A Jit's Winograd default applies to the shapes Winograd can serve; the others plan auto.
  if (jit_default == Algorithm::direct || winograd_ineligibility(shape).empty()) return jit_default;
  return Algorithm::automatic;
}

std::string winograd_ineligibility(const ConvShape& shape, Isa isa) {
  if (std::string why = winograd_ineligibility(shape); !why.empty()) return why;
  if (isa != Isa::avx2 && isa != Isa::avx512) return "winograd kernels are built for avx2 and avx512 only";
  return {};
}

std::vector<int> winograd_tiles(const ConvShape& shape, Isa isa, Algorithm algorithm) {
  if (algorithm == Algorithm::direct) return {};
  const bool insists = algorithm != Algorithm::automatic;
  if (std::string why = winograd_ineligibility(shape, isa); !why.empty()) {
    if (insists) throw Error("algo", std::string(to_string(algorithm)) + " cannot compute this shape: " + why);
    return {};
  }
  if (const int m = winograd_tile_of(algorithm)) return {m};
  return {2, 4, 6};
}

bool direct_allowed(Algorithm algorithm) {
  return algorithm == Algorithm::automatic || algorithm == Algorithm::direct;
}

}  // namespace convjit
