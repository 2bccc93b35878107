// The MC disassembler through LLVM's C API (libLLVM-16.so is linked into the library).
#include "runtime/disassembler.hpp"

#include <convjit/error.hpp>

#include <llvm-c/Disassembler.h>
#include <llvm-c/Target.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <optional>
#include <cstdio>
#include <mutex>

namespace convjit {
namespace {

constexpr const char* kTriple = "x86_64-unknown-linux-gnu";
constexpr const char* kCpu = "x86-64-v3";  // AVX2 + FMA + BMI: everything the emitters use

void initialize_x86_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86Disassembler();
  });
}

// LLVM prints "\tvaddps\tymm0, ymm0, ymm1": drop the leading blanks, one space after the
// mnemonic.
std::string tidy(const char* raw) {
  std::string out;
  const char* p = raw;
  while (*p == ' ' || *p == '\t') ++p;
  for (; *p; ++p) out += (*p == '\t') ? ' ' : *p;
  while (!out.empty() && std::isspace(static_cast<unsigned char>(out.back()))) out.pop_back();
  return out;
}

// "mov rax, qword ptr [rip + 0x576]" -> 0x576 (relative to the next instruction).
std::optional<std::int64_t> rip_displacement(const std::string& text) {
  const std::size_t at = text.find("[rip");
  if (at == std::string::npos) return std::nullopt;
  std::size_t p = at + 4;
  while (p < text.size() && text[p] == ' ') ++p;
  if (p < text.size() && text[p] == ']') return 0;
  if (p >= text.size() || (text[p] != '+' && text[p] != '-')) return std::nullopt;
  const bool negative = text[p] == '-';
  ++p;
  while (p < text.size() && text[p] == ' ') ++p;
  char* end = nullptr;
  const long long value = std::strtoll(text.c_str() + p, &end, 0);
  if (end == text.c_str() + p) return std::nullopt;
  return negative ? -value : value;
}

// "jne -0x5d3", "jmp 0x10", "call 0x40" -> the displacement (relative to the next
// instruction). Indirect branches ("jmp rax") -> nullopt.
std::optional<std::int64_t> branch_displacement(const std::string& text) {
  const std::size_t space = text.find(' ');
  if (space == std::string::npos) return std::nullopt;
  const std::string mnemonic = text.substr(0, space);
  if (mnemonic[0] != 'j' && mnemonic != "call" && mnemonic.rfind("loop", 0) != 0)
    return std::nullopt;
  const char* start = text.c_str() + space + 1;
  char* end = nullptr;
  const long long value = std::strtoll(start, &end, 0);
  if (end == start || *end != '\0') return std::nullopt;
  return value;
}

bool ends_flow(const std::string& text) {
  return text == "ret" || text.rfind("ret ", 0) == 0 || text.rfind("jmp ", 0) == 0 ||
         text == "ud2";
}

bool is_padding(const std::string& text) {
  return text.rfind("nop", 0) == 0 || text == "int3";
}

class DisasmContext {
 public:
  DisasmContext() {
    initialize_x86_once();
    context_ = LLVMCreateDisasmCPU(kTriple, kCpu, nullptr, 0, nullptr, nullptr);
    if (!context_)
      throw Error("disassembler", std::string("LLVM has no disassembler for ") + kTriple);
    // Intel syntax (the x86 printer's variant 1) and hexadecimal immediates.
    LLVMSetDisasmOptions(context_, LLVMDisassembler_Option_AsmPrinterVariant);
    LLVMSetDisasmOptions(context_, LLVMDisassembler_Option_PrintImmHex);
  }
  ~DisasmContext() { LLVMDisasmDispose(context_); }
  DisasmContext(const DisasmContext&) = delete;
  DisasmContext& operator=(const DisasmContext&) = delete;
  LLVMDisasmContextRef get() const { return context_; }

 private:
  LLVMDisasmContextRef context_ = nullptr;
};

}  // namespace

std::vector<DisassembledInstruction> disassemble_x86_64_instructions(
    std::span<const std::uint8_t> code, std::uint64_t base_address) {
  std::vector<DisassembledInstruction> out;
  if (code.empty()) return out;
  DisasmContext context;
  // LLVMDisasmInstruction takes a non-const pointer but does not write through it.
  auto* bytes = const_cast<std::uint8_t*>(code.data());
  const std::size_t size = code.size();
  std::size_t data_start = size;   // lowest rip-relative target seen (rule a)
  std::size_t max_target = 0;      // furthest forward branch target seen (rule b)
  bool code_ended = false;         // rule b fired: only padding may follow as code
  std::size_t offset = 0;
  char text[256];
  while (offset < data_start) {
    text[0] = '\0';
    const std::size_t n = LLVMDisasmInstruction(context.get(), bytes + offset,
                                                data_start - offset, base_address + offset,
                                                text, sizeof text);
    DisassembledInstruction insn;
    insn.address = base_address + offset;
    if (n == 0) {
      if (code_ended) break;
      insn.size = 1;
      insn.text = "(bad)";
    } else {
      insn.size = static_cast<std::uint32_t>(n);
      insn.text = tidy(text);
    }
    const std::size_t next = offset + insn.size;
    if (code_ended && !is_padding(insn.text)) break;
    if (n != 0 && !code_ended) {
      if (auto disp = rip_displacement(insn.text)) {
        const std::int64_t target = static_cast<std::int64_t>(next) + *disp;
        if (target >= static_cast<std::int64_t>(next) && target < static_cast<std::int64_t>(data_start))
          data_start = static_cast<std::size_t>(target);
      }
      if (auto disp = branch_displacement(insn.text)) {
        const std::int64_t target = static_cast<std::int64_t>(next) + *disp;
        if (target > 0) max_target = std::max(max_target, static_cast<std::size_t>(target));
      }
      if (ends_flow(insn.text) && max_target < next) code_ended = true;
    }
    out.push_back(std::move(insn));
    offset = next;
  }
  while (offset < size) {  // the data after the code, 8 bytes a line
    DisassembledInstruction insn;
    insn.address = base_address + offset;
    insn.size = static_cast<std::uint32_t>(std::min<std::size_t>(8, size - offset));
    insn.text = "(data)";
    insn.data = true;
    offset += insn.size;
    out.push_back(std::move(insn));
  }
  return out;
}

std::string disassemble_x86_64(std::span<const std::uint8_t> code, std::uint64_t base_address) {
  const auto instructions = disassemble_x86_64_instructions(code, base_address);
  // Address column as wide as the last address needs (at least 4 hex digits).
  int digits = 4;
  for (std::uint64_t last = base_address + code.size(); digits < 16 && (last >> (4 * digits)) != 0; ++digits) {
  }
  constexpr std::size_t kBytesColumn = 3 * 10;  // room for 10 bytes; longer ones push right
  std::string out;
  char buf[32];
  for (const DisassembledInstruction& insn : instructions) {
    std::snprintf(buf, sizeof buf, "  %0*llx:  ", digits,
                  static_cast<unsigned long long>(insn.address));
    out += buf;
    std::string hex;
    const std::size_t offset = insn.address - base_address;
    for (std::uint32_t i = 0; i < insn.size; ++i) {
      std::snprintf(buf, sizeof buf, "%02x ", code[offset + i]);
      hex += buf;
    }
    if (hex.size() < kBytesColumn) hex.resize(kBytesColumn, ' ');
    out += hex;
    out += ' ';
    out += insn.text;
    out += '\n';
  }
  return out;
}

}  // namespace convjit
