#pragma once
// The one translation of a VectorStore (generator/vector_store.hpp) into LLVM IR, shared by
// the direct and the Winograd emitters.
#include "generator/vector_store.hpp"

#include <llvm/IR/IRBuilder.h>

namespace convjit {

// Stores `value`, a <vector_lanes x float>, at `pointer` as `store` says.
void emit_vector_store(llvm::IRBuilder<>& builder, llvm::Value* value, llvm::Value* pointer,
                       const VectorStore& store, int vector_lanes);

}  // namespace convjit
