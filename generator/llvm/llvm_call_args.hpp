#pragma once
// The one argument of every generated entry point, a const KernelCallArgs*, as both LLVM
// emitters see it: what LLVM may assume about it, and loads of its fields.
#include <llvm/IR/IRBuilder.h>

#include <cstddef>

namespace convjit {

// Names the argument and marks it read-only, uncaptured, aligned and dereferenceable for
// sizeof(KernelCallArgs), so LLVM may load the fields it needs wherever it likes.
void describe_call_args(llvm::Argument* args);

// The field of `type` at byte `offset` (offsetof(KernelCallArgs, ...)).
llvm::Value* load_call_arg(llvm::IRBuilder<>& builder, llvm::Argument* args, llvm::Type* type,
                           std::size_t offset, const char* name);

}  // namespace convjit
