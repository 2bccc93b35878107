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
  // No platform: kernels have no static initialisers, and the generic one would add its
  // own module to every JITDylib.
  auto jit = llvm::orc::LLJITBuilder()
                 .setJITTargetMachineBuilder(*machine)
                 .setPlatformSetUp(llvm::orc::setUpInactivePlatform)
                 .create();
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
  thread_local std::unique_ptr<llvm::TargetMachine> mine;
  if (!mine) {
    auto created = machine_.createTargetMachine();
    if (!created)
      throw Error("llvm", "cannot create a target machine: " + llvm::toString(created.takeError()));
    mine = std::move(*created);
  }
  return *mine;
}

const llvm::Triple& LlvmJit::triple() const { return jit_->getTargetTriple(); }

llvm::Expected<LlvmJit::Symbol> LlvmJit::add_object(std::unique_ptr<llvm::MemoryBuffer> object,
                                                    const std::string& name) {
  static std::atomic<std::uint64_t> serial{0};
  Symbol symbol;
  symbol.size = function_size(*object, name);
  const std::string dylib_name = "convjit_kernel_" + std::to_string(serial++);
  std::lock_guard lock(link_mutex_);
  llvm::orc::JITDylib& dylib = jit_->getExecutionSession().createBareJITDylib(dylib_name);
  // Anything the object needs from outside (a libcall) resolves through the main JITDylib's
  // process-symbol generator.
  dylib.addToLinkOrder(jit_->getMainJITDylib());
  auto fail = [&](llvm::Error e) -> llvm::Expected<Symbol> {
    llvm::consumeError(jit_->getExecutionSession().removeJITDylib(dylib));
    return e;
  };
  if (llvm::Error e = jit_->addObjectFile(dylib, std::move(object))) return fail(std::move(e));
  auto address = jit_->lookup(dylib, name);
  if (!address) return fail(address.takeError());
  symbol.dylib = &dylib;
  symbol.address = address->getValue();
  return symbol;
}

void LlvmJit::remove(const Symbol& symbol) noexcept {
  if (!symbol.dylib) return;
  std::lock_guard lock(link_mutex_);
  llvm::consumeError(jit_->getExecutionSession().removeJITDylib(*symbol.dylib));
}

}  // namespace convjit
