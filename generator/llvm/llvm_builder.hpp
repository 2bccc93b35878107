#pragma once
// LlvmBuilder: what both LLVM kernel emitters (LlvmEmitter, direct; LlvmWinogradEmitter) build
// their IR with, so neither defines it again: the IRBuilder and the types of a plan
// (<lanes x float> of the plan's width), functions with the kernel attributes, the entry
// point's KernelCallArgs argument and its fields, byte-offset pointers, whole and masked
// vector loads and stores (and the schedule's VectorStore), the counted loops, and the one
// translation of a TileEpilogue (bias, residual, activation, store) into IR.
//
// Everything is generic IR: <lanes x float>, llvm.fmuladd/fma/maxnum/minnum/roundeven,
// llvm.masked.load/store; 8-bit kernels sum in <lanes x i32> with integer multiplies and adds.
// No x86 intrinsics, so the same IR compiles for x86-64 and AArch64.
#include "generator/plan.hpp"
#include "generator/tile_epilogue.hpp"
#include "generator/vector_store.hpp"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace convjit {

class LlvmBuilder {
 protected:
  using Values = std::vector<llvm::Value*>;
  using LoopBody = std::function<Values(llvm::Value* iv, const Values& carried)>;

  LlvmBuilder(const KernelPlan& plan, llvm::Module& module);

  // ---- functions
  enum class FunctionKind {
    entry,                // external: the kernel's `void NAME(const KernelCallArgs*)`
    internal,             // a routine the entry calls, which LLVM may inline
    internal_not_inlined  // a routine kept out of line (a shared row body)
  };
  // A `void` function with NoUnwind, NoFree, NoSync, WillReturn (NoInline too for
  // internal_not_inlined) and, on x86 plans, the plan's vector width as both the minimum
  // legal and the preferred width: x86 CPUs whose tuning prefers 256-bit vectors would
  // otherwise split a 16-lane plan's vectors in two. A neon plan's 128-bit vectors are
  // AArch64's only fixed width, so it gets none.
  llvm::Function* make_function(const std::string& name, const std::vector<llvm::Type*>& params,
                                FunctionKind kind);
  // Makes `f` the function being emitted, at the start of a new "entry" block.
  void enter(llvm::Function* f);
  // The entry point `void NAME(const KernelCallArgs*)`, entered. Its argument is marked
  // read-only, uncaptured, aligned and dereferenceable for sizeof(KernelCallArgs), so LLVM may
  // load the fields it needs wherever it likes.
  llvm::Function* begin_entry(const std::string& name);
  // The entry argument's field of `type` at byte `offset` (offsetof(KernelCallArgs, ...)).
  llvm::Value* call_arg(llvm::Type* type, std::size_t offset, const char* name);
  // KernelCallArgs::residual − `dst` in bytes: one distance serves every store, since the
  // residual is addressed like dst.
  llvm::Value* residual_delta(llvm::Value* dst);

  // ---- constants and pointers
  llvm::Value* i64(std::int64_t value);
  llvm::Constant* splat(float value);
  llvm::Constant* zero();
  // The <lanes x i1> constant with bit i of `lanes` in lane i.
  llvm::Constant* mask(std::uint32_t lanes);
  // base + bytes, and base + index · stride + bytes (index may be null). No `inbounds`: a
  // border vector's or tile's address may lie before its row or image (only lanes and rows
  // inside are read from it).
  llvm::Value* at(llvm::Value* base, std::int64_t bytes);
  llvm::Value* at(llvm::Value* base, llvm::Value* index, std::int64_t stride,
                  std::int64_t bytes = 0);

  // ---- vectors
  llvm::Value* load_vector(llvm::Value* pointer);
  // Only `lanes`; the others are zero.
  llvm::Value* load_vector_masked(llvm::Value* pointer, std::uint32_t lanes);
  // Whole when `lanes` are all the vector's lanes, else masked.
  llvm::Value* load_lanes(llvm::Value* pointer, std::uint32_t lanes);
  // One float, splat to every lane.
  llvm::Value* broadcast(llvm::Value* pointer);
  void store_vector(llvm::Value* value, llvm::Value* pointer);
  // As the schedule says: whole, masked, or (avx2 tails) plain stores of the pieces' lanes.
  void store_vector(llvm::Value* value, llvm::Value* pointer, const VectorStore& store);
  // a · b + acc, fused wherever the target can.
  llvm::Value* multiply_add(llvm::Value* a, llvm::Value* b, llvm::Value* acc);
  // <lanes x i32> (8-bit kernels' sums and channel parts), whole.
  llvm::Value* load_int_vector(llvm::Value* pointer);

  // ---- the epilogue
  // `value` on its way to base + bytes, as `e` says: plus `bias` (e.add_bias), plus the
  // residual at `residual_delta` bytes from there (e.add_residual; a partial store reads only
  // its own lanes, the others may lie outside the residual), through the activation's
  // operations (e.activation), then stored as `store` says. The address is computed where
  // each of those uses it.
  // 8-bit conversions (e.conversion) read the channel block's parts from `parameters`.
  void emit_tile_epilogue(const TileEpilogue& e, llvm::Value* value, llvm::Value* bias,
                          llvm::Value* residual_delta, llvm::Value* base, std::int64_t bytes,
                          const VectorStore& store, llvm::Value* parameters = nullptr);

  // ---- loops
  // for (iv = begin; iv < end; ++iv) carried = body(iv, carried), over an i64 induction
  // variable with the carried values in phis, marked so LLVM neither unrolls nor vectorises
  // it (the plan decided both). With `guard` the loop may run zero times (the carried values
  // then come out unchanged); without, the caller knows begin < end. Returns the carried
  // values after the loop.
  Values emit_loop(llvm::Value* begin, llvm::Value* end, bool guard, Values carried,
                   const LoopBody& body);
  // The same over [0, count): nothing for 0, no loop for 1.
  Values emit_counted_loop(std::int64_t count, Values carried, const LoopBody& body);

  const KernelPlan& plan_;
  llvm::Module& module_;
  llvm::LLVMContext& context_;
  llvm::IRBuilder<> builder_;
  llvm::Function* function_ = nullptr;  // the function being emitted
  llvm::Argument* call_args_ = nullptr;  // the entry point's KernelCallArgs*
  llvm::Type* float_ = nullptr;
  llvm::FixedVectorType* vector_ = nullptr;
  llvm::FixedVectorType* int_vector_ = nullptr;  // <lanes x i32>
  llvm::Type* i64_ = nullptr;
  llvm::Type* i8_ = nullptr;
  llvm::PointerType* ptr_ = nullptr;
  std::uint32_t all_lanes_ = 0;

 private:
  llvm::Value* activation_op(const VectorOp& op, const Values& v);
  // int32 sums to the output's type, as requantization.hpp says (Conversion).
  llvm::Value* convert(const TileEpilogue& e, llvm::Value* sums, llvm::Value* parameters);

  std::vector<llvm::Metadata*> loop_properties_;  // shared by every loop ID
};

}  // namespace convjit
