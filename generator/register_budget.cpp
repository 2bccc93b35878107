#include "generator/register_budget.hpp"

#include <algorithm>

namespace convjit {

RegisterBudget register_budget(Strategy strategy, int columns, int blocks, bool opmasks,
                               bool gathers, int epilogue_temporaries, int held_columns,
                               Product product) {
  RegisterBudget b;
  b.accumulators = columns * blocks;
  switch (strategy) {
    case Strategy::oc_vectors:
      b.weights = blocks;
      b.broadcast = 1;
      b.mask_in_broadcast = !opmasks;
      break;
    case Strategy::depthwise:
      b.weights = blocks * held_columns;
      b.masked_input = 1;
      b.lane_mask = opmasks ? 0 : 1;
      break;
    case Strategy::width_vectors:
      b.inputs = columns;
      b.broadcast = 1;
      b.lane_mask = opmasks ? 0 : 1;
      b.gather_index = gathers ? 1 : 0;
      break;
    case Strategy::winograd:  // WinogradSchedule budgets its own phases
      break;
  }
  if (product == Product::pair_quads) {
    b.weights = 2 * blocks;  // the quad's two int16 pairs of each lane
    b.pair_input = 1;
  }
  if (product == Product::pair_quads || product == Product::widened_pairs) b.product = 1;
  b.epilogue = std::max(0, epilogue_temporaries - b.free_at_store());
  return b;
}

}  // namespace convjit
