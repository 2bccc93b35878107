#pragma once
// RegisterBudget: the vector registers one register tile takes, by role. The planner sizes
// tiles with it and the Xbyak emitter hands registers out from it, so what is planned is
// exactly what is allocated.
#include "generator/strategy.hpp"

namespace convjit {

struct RegisterBudget {
  int accumulators = 0;   // columns × channel blocks
  int weights = 0;        // oc vectors: one vector per channel block; depthwise: one per
                          // channel block and held kernel column
  int inputs = 0;         // width vectors: one input vector per accumulator column
  int broadcast = 0;      // oc vectors: the broadcast input; width vectors: the weight
  int masked_input = 0;   // depthwise: an input vector that several held kernel columns use
  int lane_mask = 0;      // avx2 (no opmasks): a vector lane mask for tails
  int gather_index = 0;   // strided width vectors: the gather's lane offsets
  int product = 0;        // AVX2 8-bit: vpmaddwd's result before vpaddd adds it
  int pair_input = 0;     // AVX2 8-bit channel vectors: a quad's first byte pair (the
                          // broadcast register holds the second)
  // oc vectors on avx2: the tail mask of a residual's masked read at the store reuses the
  // broadcast register (stores come after the last broadcast), so it costs nothing. (The
  // tail stores themselves are pieces and need no mask: vector_store.hpp.)
  bool mask_in_broadcast = false;
  // The tile epilogue's activation temporaries that the reduction's registers (free at the
  // stores: weights, inputs, broadcast, masked input) cannot hold.
  int epilogue = 0;

  // Registers free once the reduction is over (the broadcast not when it holds the tail mask
  // the stores use), in the order the emitters hand them to the epilogue: weights, inputs,
  // masked input, broadcast, then the extra ones. The first also serves as a store's scratch
  // (a masked residual read, a tail's upper half).
  int free_at_store() const {
    return weights + inputs + masked_input + (mask_in_broadcast ? 0 : broadcast) + epilogue;
  }

  int total() const {
    return accumulators + weights + inputs + broadcast + masked_input + lane_mask + gather_index +
           product + pair_input + epilogue;
  }
};

// The budget of a tile of `columns` accumulator columns × `blocks` channel blocks.
// opmasks: tails use opmask registers (avx512); gathers: strided width vectors;
// epilogue_temporaries: what the tile epilogue's activation needs (TileEpilogue::temporaries);
// held_columns: the kernel columns whose weights a depthwise tile holds at once
// (KernelPlan::kernel_columns).
// product: how the kernel multiplies (AVX2 8-bit products need a register for vpmaddwd's
// result, and channel vectors two weight vectors per block and one more input).
RegisterBudget register_budget(Strategy strategy, int columns, int blocks, bool opmasks,
                               bool gathers, int epilogue_temporaries, int held_columns,
                               Product product = Product::fma);

}  // namespace convjit
