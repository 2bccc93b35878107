#include "generator/llvm/llvm_loop.hpp"

namespace convjit {

LlvmValues emit_llvm_loop(llvm::IRBuilder<>& builder, llvm::Function* function,
                          const std::vector<llvm::Metadata*>& loop_properties, llvm::Value* begin,
                          llvm::Value* end, bool guard, LlvmValues carried,
                          const std::function<LlvmValues(llvm::Value*, const LlvmValues&)>& body) {
  llvm::LLVMContext& context = builder.getContext();
  llvm::BasicBlock* preheader = builder.GetInsertBlock();
  auto* header = llvm::BasicBlock::Create(context, "loop", function);
  auto* exit = llvm::BasicBlock::Create(context, "loop.exit");
  if (guard) builder.CreateCondBr(builder.CreateICmpSLT(begin, end), header, exit);
  else builder.CreateBr(header);

  builder.SetInsertPoint(header);
  llvm::PHINode* iv = builder.CreatePHI(builder.getInt64Ty(), 2, "iv");
  iv->addIncoming(begin, preheader);
  std::vector<llvm::PHINode*> phis;
  LlvmValues current;
  for (llvm::Value* v : carried) {
    llvm::PHINode* phi = builder.CreatePHI(v->getType(), 2);
    phi->addIncoming(v, preheader);
    phis.push_back(phi);
    current.push_back(phi);
  }
  LlvmValues next = body(iv, current);

  llvm::BasicBlock* latch = builder.GetInsertBlock();
  llvm::Value* iv_next = builder.CreateAdd(iv, builder.getInt64(1), "iv.next", true, true);
  llvm::BranchInst* back = builder.CreateCondBr(builder.CreateICmpSLT(iv_next, end), header, exit);
  // A loop ID is a distinct node that names itself, followed by the shared properties.
  std::vector<llvm::Metadata*> operands{nullptr};
  operands.insert(operands.end(), loop_properties.begin(), loop_properties.end());
  llvm::MDNode* id = llvm::MDNode::getDistinct(context, operands);
  id->replaceOperandWith(0, id);
  back->setMetadata(llvm::LLVMContext::MD_loop, id);
  iv->addIncoming(iv_next, latch);
  for (std::size_t i = 0; i < phis.size(); ++i) phis[i]->addIncoming(next[i], latch);

  exit->insertInto(function);
  builder.SetInsertPoint(exit);
  if (!guard) return next;
  LlvmValues after;
  for (std::size_t i = 0; i < carried.size(); ++i) {
    llvm::PHINode* phi = builder.CreatePHI(carried[i]->getType(), 2);
    phi->addIncoming(carried[i], preheader);
    phi->addIncoming(next[i], latch);
    after.push_back(phi);
  }
  return after;
}

}  // namespace convjit
