#pragma once
// Weight packing: from the user's layout (HWIO / OIHW) into the plan's blocked layout.
#include "generator/plan.hpp"

namespace convjit {

// Writes plan.packed_weight_floats weights then plan.packed_bias_floats bias values to out.
// bias may be nullptr (zeros). Padding lanes are zero so tail blocks compute zeros.
void pack_for_plan(const KernelPlan& plan, const float* weights, const float* bias, float* out);

}  // namespace convjit
