// LlvmCode: the KernelCode of the LLVM backend. The plan becomes IR (LlvmEmitter), the IR is
// optimised and compiled to an object for the host on the calling thread, and LlvmJit links
// it into the Jit's own LLJIT; the kernel's memory goes away with its JITDylib when the
// LlvmCode does. With CONVJIT_CACHE_DIR set, the object is first looked up on disk
// (ObjectCache) and, when found, only linked; a fresh object is stored for later processes.
#include "generator/llvm/llvm_emitter.hpp"
#include "generator/llvm/llvm_jit.hpp"
#include "generator/llvm/llvm_pipeline.hpp"
#include "generator/llvm/object_cache.hpp"
#include "generator/llvm/llvm_code.hpp"

#include <convjit/error.hpp>

#include <llvm/ADT/StringMap.h>
#include <llvm/Config/llvm-config.h>
#include <llvm/Support/SmallVectorMemoryBuffer.h>
#include <llvm/TargetParser/Host.h>

#include <elf.h>
#include <link.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace convjit {
namespace {

class LlvmCode final : public KernelCode {
 public:
  LlvmCode(const KernelPlan& plan, std::shared_ptr<LlvmJit> jit, LlvmJit::Symbol symbol)
      : plan_(plan),
        jit_(std::move(jit)),
        symbol_(std::move(symbol)),
        entry_(reinterpret_cast<Entry>(static_cast<std::uintptr_t>(symbol_.address))) {}
  ~LlvmCode() override { jit_->remove(symbol_); }

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

// A Jit's LLVM state: its own LLJIT, created on the Jit's first LLVM compile.
class LlvmSession final : public BackendSession {
 public:
  std::shared_ptr<LlvmJit> jit() {
    std::lock_guard lock(mutex_);
    if (!jit_) {
      auto created = LlvmJit::Create();
      if (!created)
        throw Error("llvm", "cannot create the JIT: " + llvm::toString(created.takeError()));
      jit_ = std::move(*created);
    }
    return jit_;
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<LlvmJit> jit_;
};

// The GNU build id of the binary this code is in (hex), or "unknown".
std::string library_build_id() {
  struct Search {
    std::uintptr_t address;
    std::string id;
  };
  Search search{reinterpret_cast<std::uintptr_t>(&library_build_id), {}};
  dl_iterate_phdr(
      [](dl_phdr_info* info, std::size_t, void* data) -> int {
        auto* s = static_cast<Search*>(data);
        bool mine = false;
        for (int i = 0; i < info->dlpi_phnum && !mine; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          const std::uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
          mine = ph.p_type == PT_LOAD && s->address >= begin && s->address - begin < ph.p_memsz;
        }
        if (!mine) return 0;
        for (int i = 0; i < info->dlpi_phnum; ++i) {
          const ElfW(Phdr)& ph = info->dlpi_phdr[i];
          if (ph.p_type != PT_NOTE) continue;
          const std::size_t align = ph.p_align == 8 ? 8 : 4;
          auto pad = [align](std::size_t n) { return (n + align - 1) & ~(align - 1); };
          const char* p = reinterpret_cast<const char*>(info->dlpi_addr + ph.p_vaddr);
          const char* end = p + ph.p_memsz;
          while (static_cast<std::size_t>(end - p) >= sizeof(ElfW(Nhdr))) {
            const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
            const char* name = p + sizeof(ElfW(Nhdr));
            const std::size_t left = static_cast<std::size_t>(end - name);
            if (pad(note->n_namesz) > left || pad(note->n_descsz) > left - pad(note->n_namesz))
              break;
            const char* desc = name + pad(note->n_namesz);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 &&
                std::memcmp(name, "GNU", 4) == 0) {
              static const char digits[] = "0123456789abcdef";
              for (std::size_t b = 0; b < note->n_descsz; ++b) {
                const auto byte = static_cast<unsigned char>(desc[b]);
                s->id += digits[byte >> 4];
                s->id += digits[byte & 15];
              }
              return 1;
            }
            p = desc + pad(note->n_descsz);
          }
        }
        return 1;
      },
      &search);
  return search.id.empty() ? "unknown" : search.id;
}

// Everything about this process that the objects it compiles depend on.
const std::string& host_key() {
  static const std::string key = [] {
    llvm::StringMap<bool> features;
    std::vector<std::string> list;
    if (llvm::sys::getHostCPUFeatures(features))
      for (const auto& feature : features) {
        std::string item(feature.getValue() ? "+" : "-");
        item += feature.getKey();
        list.push_back(std::move(item));
      }
    std::sort(list.begin(), list.end());
    auto line = [](std::string& text, std::string_view name, std::string_view value) {
      text.append(name).append(" ").append(value).append("\n");
    };
    std::string features_text;
    for (std::size_t i = 0; i < list.size(); ++i) features_text.append(i ? "," : "").append(list[i]);
    std::string text;
    line(text, "format", std::to_string(ObjectCache::kFormatVersion));
    line(text, "kernel_version", std::to_string(kLlvmKernelVersion));
    line(text, "llvm", LLVM_VERSION_STRING);
    line(text, "triple", llvm::sys::getProcessTriple());
    line(text, "cpu", llvm::sys::getHostCPUName());
    line(text, "features", features_text);
    line(text, "codegen", "O3 reloc=default code_model=default");
    line(text, "build_id", library_build_id());
    return text;
  }();
  return key;
}

std::shared_ptr<const KernelCode> link(const KernelPlan& plan, std::shared_ptr<LlvmJit> jit,
                                       LlvmJit::Symbol symbol) {
  return std::make_shared<LlvmCode>(plan, std::move(jit), std::move(symbol));
}

}  // namespace

std::string llvm_object_key(const KernelPlan& plan) {
  return "convjit llvm kernel object\n" + host_key() + "symbol " + plan.name + "\n" +
         plan.describe();
}

std::shared_ptr<BackendSession> make_llvm_session() { return std::make_shared<LlvmSession>(); }

std::shared_ptr<const KernelCode> make_llvm_code(const KernelPlan& plan, BackendSession* session) {
  std::shared_ptr<LlvmJit> jit;
  if (auto* mine = dynamic_cast<LlvmSession*>(session))
    jit = mine->jit();
  else
    jit = LlvmJit::shared();
  // Each kernel has its own JITDylib, so the entry is simply named after the plan: the same
  // name in every process, which is what lets a cached object be linked as it is.
  const std::string& symbol = plan.name;

  const std::optional<ObjectCache> cache = ObjectCache::from_environment();
  std::string key;
  if (cache) {
    key = llvm_object_key(plan);
    if (std::optional<std::vector<char>> object = cache->load(key)) {
      auto linked = jit->add_object(
          llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object->data(), object->size()),
                                               symbol),
          symbol);
      if (linked) return link(plan, std::move(jit), std::move(*linked));
      // A valid entry LLVM will not link (it should not happen): compile and replace it.
      llvm::consumeError(linked.takeError());
      cache->discard(key);
    }
  }

  llvm::LLVMContext context;
  llvm::TargetMachine& target = jit->target_machine();
  auto module = build_kernel_module(plan, symbol, context, target);
  optimize_module(*module, target);
  llvm::SmallVector<char, 0> object = generate_code(*module, target, llvm::CGFT_ObjectFile);
  if (!cache) {
    auto linked = jit->add_object(
        std::make_unique<llvm::SmallVectorMemoryBuffer>(std::move(object), symbol, false), symbol);
    if (!linked) throw Error("llvm", "cannot link " + symbol + ": " + llvm::toString(linked.takeError()));
    return link(plan, std::move(jit), std::move(*linked));
  }
  // Linked from a copy, so only an object that linked is stored.
  auto linked = jit->add_object(
      llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), symbol),
      symbol);
  if (!linked) throw Error("llvm", "cannot link " + symbol + ": " + llvm::toString(linked.takeError()));
  cache->store(key, std::span<const char>(object.data(), object.size()));
  return link(plan, std::move(jit), std::move(*linked));
}

}  // namespace convjit
