#pragma once
// LlvmWinogradEmitter: translates a WinogradSchedule into target-independent LLVM IR, the same
// walk XbyakWinogradEmitter translates. The entry point `void NAME(const KernelCallArgs*)`
// walks the call's blocks of tiles; per block it calls the input-transform routine of each
// tile's border class (`NAME.inK`), one products routine (`NAME.gemm`, or `NAME.gemm_last`
// for a shorter last block) and the output-transform routine of each tile's class
// (`NAME.outK`). The routines are internal functions, straight-line per channel vector, with
// the schedule's coefficients as constants and its padding terms absent; vectors are
// <lanes x float> of the plan's width, accumulators are SSA values, and the counted loops are
// marked so LLVM neither unrolls nor vectorises them (the plan decided both).
#include "generator/plan.hpp"
#include "generator/winograd_schedule.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace convjit {

class LlvmWinogradEmitter {
 public:
  LlvmWinogradEmitter(const KernelPlan& plan, llvm::Module& module);

  // Adds the kernel and its routines to the module; returns the entry point `name`.
  llvm::Function* emit(const std::string& name);

 private:
  using Values = std::vector<llvm::Value*>;

  llvm::Function* make_function(const std::string& name, llvm::Type* result,
                                const std::vector<llvm::Type*>& params, bool internal);
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
  llvm::Value* activation(llvm::Value* value);

  // IR helpers.
  llvm::Value* i64(std::int64_t value);
  llvm::Value* at(llvm::Value* base, std::int64_t bytes);
  llvm::Value* at(llvm::Value* base, llvm::Value* index, std::int64_t stride, std::int64_t bytes = 0);
  llvm::Value* load(llvm::Value* pointer, std::uint32_t lanes);
  void store(llvm::Value* value, llvm::Value* pointer, std::uint32_t lanes);
  llvm::Value* splat(float value);
  llvm::Constant* mask(std::uint32_t lanes);
  llvm::Value* table(const std::vector<std::uint8_t>& bytes, const std::string& name);
  // for (iv = begin; iv < end; ++iv) carried = body(iv, carried); runs at least once.
  Values emit_loop(llvm::Value* begin, llvm::Value* end, Values carried,
                   const std::function<Values(llvm::Value* iv, const Values& carried)>& body);
  // The same with a constant count (no loop for 1, nothing for 0).
  Values emit_counted_loop(std::int64_t count, Values carried,
                           const std::function<Values(llvm::Value* iv, const Values& carried)>& body);

  const KernelPlan& plan_;
  const WinogradSchedule w_;
  llvm::Module& module_;
  llvm::LLVMContext& context_;
  llvm::IRBuilder<> builder_;
  llvm::Function* function_ = nullptr;  // the function being emitted
  std::string name_;
  llvm::Type* float_ = nullptr;
  llvm::FixedVectorType* vector_ = nullptr;
  llvm::Type* i64_ = nullptr;
  llvm::Type* i8_ = nullptr;
  llvm::PointerType* ptr_ = nullptr;
  std::uint32_t all_lanes_ = 0;
  std::vector<llvm::Metadata*> loop_properties_;  // shared by every loop ID
};

}  // namespace convjit
