#pragma once
// LlvmWinogradEmitter: translates a WinogradSchedule into target-independent LLVM IR, the same
// walk XbyakWinogradEmitter translates. The entry point `void NAME(const KernelCallArgs*)`
// walks the call's blocks of tiles; per block it calls the input-transform routine of each
// tile's border class (`NAME.inK`), one products routine (`NAME.gemm`, or `NAME.gemm_last`
// for a shorter last block) and the output-transform routine of each tile's class
// (`NAME.outK`). The routines are internal functions, straight-line per channel vector, with
// the schedule's coefficients as constants and its padding terms absent; vectors are
// <lanes x float> of the plan's width, accumulators are SSA values, and the counted loops are
// marked so LLVM neither unrolls nor vectorises them (the plan decided both). The IR helpers,
// and the epilogue of each output vector (bias, residual, activation, store), are
// LlvmBuilder's, shared with the direct emitter.
#include "generator/llvm/llvm_builder.hpp"
#include "generator/plan.hpp"
#include "generator/winograd_schedule.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace convjit {

class LlvmWinogradEmitter : private LlvmBuilder {
 public:
  // The schedule outlives the emitter, which reads it while emitting.
  LlvmWinogradEmitter(const KernelPlan& plan, const WinogradSchedule& schedule, llvm::Module& module);

  // Adds the kernel and its routines to the module; returns the entry point `name`.
  llvm::Function* emit(const std::string& name);

 private:
  // One routine per border class; `out` receives them in class order.
  llvm::Function* emit_input_routine(const TileTransform& x, const std::string& name);
  void emit_input_channel_vector(const TileTransform& x, llvm::Value* in, llvm::Value* out,
                                 llvm::Value* temp, std::uint32_t lanes);
  llvm::Function* emit_output_routine(const TileTransform& x, const std::string& name);
  void emit_output_channel_vector(const TileTransform& x, llvm::Value* in, llvm::Value* out,
                                  llvm::Value* bias, llvm::Value* temp,
                                  llvm::Value* residual_delta, std::uint32_t lanes);
  llvm::Function* emit_gemm(const GemmPass& pass, const std::string& name);
  // One register tile: `tiles` tiles of V × `blocks` vectors of U, summed over the channels.
  void emit_gemm_group(int tiles, int blocks, llvm::Value* v, llvm::Value* u, llvm::Value* m);
  // Per tile of the block: the tile's pointers, then a call of its class's routine.
  void emit_tile_walk(llvm::Value* block, const TileClasses& classes,
                      const std::vector<llvm::Function*>& routines,
                      const std::function<Values(llvm::Value* tile, llvm::Value* ty,
                                                 llvm::Value* tx)>& arguments);
  llvm::Value* combination(const LinearCombination& terms, const Values& inputs);
  llvm::Value* table(const std::vector<std::uint8_t>& bytes, const std::string& name);

  const WinogradSchedule& w_;
  std::string name_;
};

}  // namespace convjit
