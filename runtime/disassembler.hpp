#pragma once
// Disassembly of generated machine code with LLVM's MC disassembler (Intel syntax), for
// `convjit asm` and CONVJIT_DUMP. The LLVM headers stay in disassembler.cpp.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace convjit {

struct DisassembledInstruction {
  std::uint64_t address = 0;  // base_address + offset
  std::uint32_t size = 0;     // bytes; 1 for an undecodable byte, up to 8 for data
  std::string text;           // e.g. "vfmadd231ps ymm0, ymm1, ymm2"; "(bad)"; "(data)"
  bool data = false;          // bytes after the end of the code (a constant pool, padding)
};

// One entry per instruction, in order. An undecodable byte becomes a one-byte "(bad)" entry
// and decoding resumes at the next byte.
//
// Generated kernels keep constants (masks, tables) after their code, so a plain linear
// sweep would print the constants as nonsense instructions. The sweep therefore stops
// (a) at the lowest address a rip-relative operand points to beyond the instruction, and
// (b) after a `ret` or an unconditional `jmp` that no earlier forward branch jumps past
// (then trailing nop/int3 padding still counts as code). The remaining bytes become
// "(data)" entries of up to 8 bytes each.
//
// Throws convjit::Error("disassembler", ...) when LLVM has no x86-64 disassembler.
std::vector<DisassembledInstruction> disassemble_x86_64_instructions(
    std::span<const std::uint8_t> code, std::uint64_t base_address);

// The same, as text: one instruction per line,
//   "    0010:  c5 fc 58 c1                    vaddps ymm0, ymm0, ymm1"
// (address in hex, the instruction's bytes, the instruction). Empty code gives "".
std::string disassemble_x86_64(std::span<const std::uint8_t> code, std::uint64_t base_address);

}  // namespace convjit
