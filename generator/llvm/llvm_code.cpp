// LlvmCode: the KernelCode of the LLVM backend. The plan becomes IR (LlvmEmitter), the IR is
// optimised and compiled to an object for the host on the calling thread, and LlvmJit links
// it; the kernel's memory goes away with its ResourceTracker when the LlvmCode does.
#include "generator/llvm/llvm_jit.hpp"
#include "generator/llvm/llvm_pipeline.hpp"
#include "runtime/backends.hpp"

#include <convjit/error.hpp>

#include <llvm/Support/SmallVectorMemoryBuffer.h>

#include <atomic>
#include <memory>

namespace convjit {
namespace {

class LlvmCode final : public KernelCode {
 public:
  LlvmCode(const KernelPlan& plan, std::shared_ptr<LlvmJit> jit, LlvmJit::Symbol symbol)
      : plan_(plan),
        jit_(std::move(jit)),
        symbol_(std::move(symbol)),
        entry_(reinterpret_cast<Entry>(static_cast<std::uintptr_t>(symbol_.address))) {}
  ~LlvmCode() override { jit_->remove(symbol_.tracker); }

  std::string_view backend() const noexcept override { return "llvm"; }
  void call(const KernelCallArgs& args) const override { entry_(&args); }
  Entry entry() const noexcept override { return entry_; }
  bool splits_channel_tiles() const noexcept override { return true; }
  // The linked function's bytes (constants live in a separate read-only section).
  std::span<const std::uint8_t> machine_code() const override {
    return {reinterpret_cast<const std::uint8_t*>(entry_), static_cast<std::size_t>(symbol_.size)};
  }
  // The optimised module this kernel was compiled from (built again on request).
  std::string ir() const override {
    llvm::LLVMContext context;
    llvm::TargetMachine& target = jit_->target_machine();
    auto module = build_kernel_module(plan_, plan_.name, context, target);
    optimize_module(*module, target);
    return module_text(*module);
  }

 private:
  KernelPlan plan_;
  std::shared_ptr<LlvmJit> jit_;
  LlvmJit::Symbol symbol_;
  Entry entry_;
};

}  // namespace

std::shared_ptr<const KernelCode> make_llvm_code(const KernelPlan& plan) {
  static std::atomic<std::uint64_t> serial{0};
  std::shared_ptr<LlvmJit> jit = LlvmJit::shared();
  // Every kernel has its own symbol: the JIT's one dylib holds all of them.
  const std::string symbol = plan.name + "_" + std::to_string(serial++);
  llvm::LLVMContext context;
  llvm::TargetMachine& target = jit->target_machine();
  auto module = build_kernel_module(plan, symbol, context, target);
  optimize_module(*module, target);
  llvm::SmallVector<char, 0> object = generate_code(*module, target, llvm::CGFT_ObjectFile);
  auto linked = jit->add_object(
      std::make_unique<llvm::SmallVectorMemoryBuffer>(std::move(object), symbol, false), symbol);
  if (!linked) throw Error("llvm", "cannot link " + symbol + ": " + llvm::toString(linked.takeError()));
  return std::make_shared<LlvmCode>(plan, std::move(jit), std::move(*linked));
}

}  // namespace convjit
