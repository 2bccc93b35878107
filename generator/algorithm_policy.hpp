#pragma once
// Which algorithms may compute a shape: the one place that decides. The spec names an
// algorithm (or auto); the Jit has a default; the backend and the instruction set say what
// they can build; the shape says what Winograd can serve. The planner, the candidates for
// tuning and the Jit all ask these functions, and the shape is never rewritten to carry the
// answer.
#include "generator/backend_traits.hpp"

#include <convjit/shape.hpp>

#include <string>
#include <vector>

namespace convjit {

// The algorithm plans for `shape` on `backend` compute by: the spec's when it names one (an
// Error("algo") where the backend cannot build it), else the Jit's default where it applies
// to the shape, and direct on backends without Winograd.
Algorithm requested_algorithm(const ConvShape& shape, Backend backend, Algorithm jit_default);

// Why Winograd cannot compute `shape` at `isa` (empty when it can): the shape's own rules
// (winograd_ineligibility(shape), which resolve() applies to a spec that asks for Winograd)
// and the instruction set's (x86 plans only).
std::string winograd_ineligibility(const ConvShape& shape, Isa isa);

// The Winograd tile sizes `algorithm` lets the planner consider: none for direct or where
// Winograd cannot serve, m for winograd_fM, 2, 4 and 6 for winograd and auto. An algorithm
// that insists on Winograd where it cannot serve is Error("algo").
std::vector<int> winograd_tiles(const ConvShape& shape, Isa isa, Algorithm algorithm);

// Whether a direct kernel may compute `shape` when `algorithm` is asked for: for auto and
// direct, and for a Winograd request that cannot be served (which winograd_tiles refuses).
bool direct_allowed(Algorithm algorithm);

}  // namespace convjit
