#pragma once
// The names a host application chooses code by: which backend generates a kernel and which
// vector instructions it may use. Vocabulary only; jit.hpp says what they resolve to here.
#include <cstdint>
#include <string_view>

namespace convjit {

enum class Backend : std::uint8_t { automatic, xbyak, llvm, generic, reference };

std::string_view to_string(Backend backend);
// "auto", "xbyak", "llvm", "generic", "reference"; throws convjit::Error("backend", ...).
Backend parse_backend(std::string_view name);

// The vector instructions the xbyak and llvm backends generate: avx2 (8-lane ymm, 16
// registers) or avx512 (zmm or ymm, 32 registers, opmask tails; needs AVX-512F and VL).
// automatic: CONVJIT_ISA if set, else the widest this CPU runs. On CPUs without AVX2 the llvm
// backend compiles avx2 plans (8-lane vectors) for what the CPU has. The generic (AVX2) and
// reference (scalar) backends run code compiled ahead of time: for them Jit::isa() is avx2
// and asking for avx512 is an error.
enum class Isa : std::uint8_t { automatic, avx2, avx512 };

std::string_view to_string(Isa isa);
// "auto", "avx2", "avx512"; throws convjit::Error("isa", ...).
Isa parse_isa(std::string_view name);

}  // namespace convjit
