#include "generator/llvm/llvm_call_args.hpp"

#include "generator/kernel_call_args.hpp"

namespace convjit {

void describe_call_args(llvm::Argument* args) {
  llvm::LLVMContext& context = args->getContext();
  args->setName("args");
  args->addAttr(llvm::Attribute::NoCapture);
  args->addAttr(llvm::Attribute::ReadOnly);
  args->addAttr(llvm::Attribute::getWithDereferenceableBytes(context, sizeof(KernelCallArgs)));
  args->addAttr(llvm::Attribute::getWithAlignment(context, llvm::Align(alignof(KernelCallArgs))));
}

llvm::Value* load_call_arg(llvm::IRBuilder<>& builder, llvm::Argument* args, llvm::Type* type,
                           std::size_t offset, const char* name) {
  llvm::Value* at = builder.CreateConstInBoundsGEP1_64(builder.getInt8Ty(), args, offset);
  return builder.CreateAlignedLoad(type, at, llvm::Align(8), name);
}

}  // namespace convjit
