#pragma once
// LlvmJit: a small ORC wrapper. One LLJIT for the host; each kernel is one object file added
// under its own ResourceTracker and removed with it. The object is compiled by the caller's
// thread (its own LLVMContext and TargetMachine), so compiles run in parallel; only linking
// into the JIT is serialised.
#include <llvm/ExecutionEngine/Orc/Core.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Target/TargetMachine.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace convjit {

class LlvmJit {
 public:
  // A JIT for the host CPU (getHostCPUName / getHostCPUFeatures via detectHost()).
  static llvm::Expected<std::unique_ptr<LlvmJit>> Create();
  // The process-wide instance, created on first use; throws convjit::Error("llvm", ...).
  static std::shared_ptr<LlvmJit> shared();

  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  // This thread's target machine for the host (TargetMachines are not thread-safe).
  llvm::TargetMachine& target_machine();
  const llvm::Triple& triple() const;

  // A linked kernel: its entry address and its size in bytes (0 when unknown).
  struct Symbol {
    llvm::orc::ResourceTrackerSP tracker;
    std::uint64_t address = 0;
    std::uint64_t size = 0;
  };
  // Links the object and resolves `name` in it.
  llvm::Expected<Symbol> add_object(std::unique_ptr<llvm::MemoryBuffer> object,
                                    const std::string& name);
  // Frees the kernel's memory; its entry must not be running or called again.
  void remove(const llvm::orc::ResourceTrackerSP& tracker) noexcept;

 private:
  LlvmJit(std::unique_ptr<llvm::orc::LLJIT> jit, llvm::orc::JITTargetMachineBuilder machine);

  std::unique_ptr<llvm::orc::LLJIT> jit_;
  llvm::orc::JITTargetMachineBuilder machine_;
  std::mutex link_mutex_;
};

}  // namespace convjit
