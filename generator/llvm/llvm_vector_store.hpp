#pragma once
// The one translation of a VectorStore (generator/vector_store.hpp) into LLVM IR, shared by
// the direct and the Winograd emitters.
#include "generator/vector_store.hpp"

#include <llvm/IR/IRBuilder.h>

namespace convjit {

// The <vector_lanes x i1> constant with bit i of `lanes` in lane i.
llvm::Constant* llvm_lane_mask(llvm::IRBuilder<>& builder, std::uint32_t lanes, int vector_lanes);

// Stores `value`, a <vector_lanes x float>, at `pointer` as `store` says.
void emit_vector_store(llvm::IRBuilder<>& builder, llvm::Value* value, llvm::Value* pointer,
                       const VectorStore& store, int vector_lanes);

}  // namespace convjit
