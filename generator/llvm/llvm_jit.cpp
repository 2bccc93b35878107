#include "generator/llvm/llvm_jit.hpp"

#include <convjit/error.hpp>

#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/Object/ObjectFile.h>
#include <llvm/Object/SymbolSize.h>
#include <llvm/Support/TargetSelect.h>

#include <atomic>

namespace convjit {
namespace {

llvm::Error initialize_native_target() {
  static const bool failed = [] {
    return llvm::InitializeNativeTarget() || llvm::InitializeNativeTargetAsmPrinter();
  }();
  if (failed)
    return llvm::make_error<llvm::StringError>("LLVM has no code generator for this CPU",
                                               llvm::inconvertibleErrorCode());
  return llvm::Error::success();
}

// Size of function `name` in an object file, from its symbol table; 0 when not found.
std::uint64_t function_size(const llvm::MemoryBuffer& object, const std::string& name) {
  auto file = llvm::object::ObjectFile::createObjectFile(object.getMemBufferRef());
  if (!file) {
    llvm::consumeError(file.takeError());
    return 0;
  }
  for (const auto& [symbol, size] : llvm::object::computeSymbolSizes(**file)) {
    auto symbol_name = symbol.getName();
    if (!symbol_name) {
      llvm::consumeError(symbol_name.takeError());
      continue;
    }
    auto type = symbol.getType();
    if (!type) {
      llvm::consumeError(type.takeError());
      continue;
    }
    // The module's file symbol carries the same name; the function is the one wanted.
    if (*symbol_name == name && *type == llvm::object::SymbolRef::ST_Function) return size;
  }
  return 0;
}

}  // namespace

LlvmJit::LlvmJit(std::unique_ptr<llvm::orc::LLJIT> jit, llvm::orc::JITTargetMachineBuilder machine)
    : jit_(std::move(jit)), machine_(std::move(machine)) {}

LlvmJit::~LlvmJit() = default;

llvm::Expected<std::unique_ptr<LlvmJit>> LlvmJit::Create() {
  if (llvm::Error e = initialize_native_target()) return e;
  auto machine = llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!machine) return machine.takeError();
  machine->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  auto jit = llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(*machine).create();
  if (!jit) return jit.takeError();
  // Kernels call nothing, but a libcall LLVM might introduce resolves in this process.
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process) return process.takeError();
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  return std::unique_ptr<LlvmJit>(new LlvmJit(std::move(*jit), std::move(*machine)));
}

std::shared_ptr<LlvmJit> LlvmJit::shared() {
  static std::mutex mutex;
  static std::shared_ptr<LlvmJit> instance;  // kernels hold their own reference
  std::lock_guard lock(mutex);
  if (!instance) {
    auto created = Create();
    if (!created) throw Error("llvm", "cannot create the JIT: " + llvm::toString(created.takeError()));
    instance = std::move(*created);
  }
  return instance;
}

llvm::TargetMachine& LlvmJit::target_machine() {
  struct PerThread {
    const LlvmJit* owner = nullptr;
    std::unique_ptr<llvm::TargetMachine> machine;
  };
  thread_local PerThread mine;
  if (mine.owner != this || !mine.machine) {
    auto created = machine_.createTargetMachine();
    if (!created)
      throw Error("llvm", "cannot create a target machine: " + llvm::toString(created.takeError()));
    mine.machine = std::move(*created);
    mine.owner = this;
  }
  return *mine.machine;
}

const llvm::Triple& LlvmJit::triple() const { return jit_->getTargetTriple(); }

llvm::Expected<LlvmJit::Symbol> LlvmJit::add_object(std::unique_ptr<llvm::MemoryBuffer> object,
                                                    const std::string& name) {
  Symbol symbol;
  symbol.size = function_size(*object, name);
  std::lock_guard lock(link_mutex_);
  symbol.tracker = jit_->getMainJITDylib().createResourceTracker();
  if (llvm::Error e = jit_->addObjectFile(symbol.tracker, std::move(object))) return e;
  auto address = jit_->lookup(name);
  if (!address) {
    llvm::consumeError(symbol.tracker->remove());
    return address.takeError();
  }
  symbol.address = address->getValue();
  return symbol;
}

void LlvmJit::remove(const llvm::orc::ResourceTrackerSP& tracker) noexcept {
  if (!tracker) return;
  std::lock_guard lock(link_mutex_);
  llvm::consumeError(tracker->remove());
}

}  // namespace convjit
