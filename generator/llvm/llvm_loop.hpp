#pragma once
// The counted loop both LLVM emitters build: [begin, end) over an i64 induction variable,
// values carried around it in phis, and a loop ID with the emitter's properties (which keep
// LLVM from unrolling or vectorising what the plan already decided).
#include <llvm/IR/IRBuilder.h>

#include <functional>
#include <vector>

namespace convjit {

using LlvmValues = std::vector<llvm::Value*>;

// With `guard`, an empty range skips the body and the carried values come out unchanged;
// without it the caller knows begin < end. Returns the carried values after the loop.
LlvmValues emit_llvm_loop(llvm::IRBuilder<>& builder, llvm::Function* function,
                          const std::vector<llvm::Metadata*>& loop_properties, llvm::Value* begin,
                          llvm::Value* end, bool guard, LlvmValues carried,
                          const std::function<LlvmValues(llvm::Value*, const LlvmValues&)>& body);

}  // namespace convjit
