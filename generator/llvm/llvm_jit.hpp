#pragma once
// LlvmJit: a small ORC wrapper around one LLJIT for the host. Each convjit::Jit that uses the
// LLVM backend owns one (through its LlvmSession, llvm_code.cpp), and every kernel linked into
// it holds a reference, so a kernel may outlive its Jit. Each kernel is one object file linked
// into its own JITDylib and removed with it: objects loaded from the on-disk cache all name
// their entry after the plan, so two kernels of one shape must not share a symbol table.
// The object is compiled by the caller's thread (its own LLVMContext and TargetMachine), so
// compiles run in parallel; only linking into the JIT is serialised.
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
  // A process-wide instance for callers without a Jit, created on first use; throws
  // convjit::Error("llvm", ...).
  static std::shared_ptr<LlvmJit> shared();

  ~LlvmJit();
  LlvmJit(const LlvmJit&) = delete;
  LlvmJit& operator=(const LlvmJit&) = delete;

  // This thread's target machine for the host (TargetMachines are not thread-safe). Every
  // LlvmJit targets the same host with the same options, so a thread keeps one for all.
  llvm::TargetMachine& target_machine();
  const llvm::Triple& triple() const;

  // A linked kernel: its entry address and its size in bytes (0 when unknown).
  struct Symbol {
    llvm::orc::JITDylib* dylib = nullptr;  // the kernel's own
    std::uint64_t address = 0;
    std::uint64_t size = 0;
  };
  // Links the object into a new JITDylib and resolves `name` in it.
  llvm::Expected<Symbol> add_object(std::unique_ptr<llvm::MemoryBuffer> object,
                                    const std::string& name);
  // Frees the kernel's memory; its entry must not be running or called again.
  void remove(const Symbol& symbol) noexcept;

 private:
  LlvmJit(std::unique_ptr<llvm::orc::LLJIT> jit, llvm::orc::JITTargetMachineBuilder machine);

  std::unique_ptr<llvm::orc::LLJIT> jit_;
  llvm::orc::JITTargetMachineBuilder machine_;
  std::mutex link_mutex_;
};

}  // namespace convjit
