// convjit asm SPEC [--backend B] [--target host|aarch64]: the disassembly of the generated
// kernel, or the AArch64 assembly of its neon plan.
#include "tools/convjit/cli.hpp"

#include "generator/kernel_code.hpp"
#include "generator/llvm/llvm_cross_compiler.hpp"
#include "generator/plan.hpp"
#include "runtime/disassembler.hpp"
#include "runtime/kernel_state.hpp"

#include <iostream>

namespace convjit::cli {
namespace {

// This host cannot run AArch64 code, so nothing is disassembled: LLVM's assembly printer
// writes the kernel it compiles from the neon plan (valid input for an AArch64 assembler).
int print_aarch64_assembly(const ConvShape& shape, Backend requested) {
  if (requested != Backend::automatic && requested != Backend::llvm)
    throw Error("backend", "only the llvm backend generates AArch64 code (--target aarch64)");
  const KernelPlan plan = make_plan(shape, Isa::neon);
  const CrossCompiledKernel kernel = cross_compile_kernel(plan, cross_target(Isa::neon), plan.name);
  std::cout << "// " << plan.name << "\n"
            << "// backend llvm, compiled ahead of time for " << kernel.triple << " (NEON, "
            << plan.lanes << "-lane vectors, " << plan.vector_registers << " registers)\n"
            << "// shape " << shape.to_string() << "\n"
            << kernel.assembly;
  return kExitOk;
}

int print_host_disassembly(const ConvShape& shape, Backend requested) {
  Jit jit(JitOptions{.backend = requested});
  const std::shared_ptr<const Kernel> kernel = jit.compile(shape);  // Error if unavailable
  const std::span<const std::uint8_t> code = kernel_code(*kernel).machine_code();
  if (code.empty()) {
    const std::string_view backend = kernel->backend();
    if (backend == "generic" || backend == "reference")
      std::cerr << "convjit: asm: the " << backend
                << " kernel is compiled ahead of time; it has no generated machine code"
                   " (try --backend xbyak or llvm)\n";
    else
      std::cerr << "convjit: asm: the " << backend
                << " backend did not report the size of its generated code; nothing to show\n";
    return kExitUsage;
  }
  std::cout << "; " << kernel->name() << "\n"
            << "; backend " << kernel->backend() << ", " << code.size() << " bytes, generated in "
            << format_number(kernel->generation_us(), 3) << " us\n"
            << "; shape " << shape.to_string() << "\n"
            << disassemble_x86_64(code, 0);
  return kExitOk;
}

}  // namespace

int cmd_asm(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "asm", {"--backend", "--target"}, {});
  if (parsed.positional.size() != 1)
    throw Error("asm", parsed.positional.empty() ? "needs a SPEC (see convjit asm --help)"
                                                 : "takes one SPEC");
  const Backend requested = parse_backend(parsed.value("--backend", "auto"));
  const std::string target = parsed.value("--target", "host");
  if (target != "host" && target != "aarch64")
    throw Error("target", "unknown target '" + target + "' (expected host or aarch64)");
  const ConvShape shape = parse_shape(parsed.positional[0]);
  return target == "aarch64" ? print_aarch64_assembly(shape, requested)
                             : print_host_disassembly(shape, requested);
}

}  // namespace convjit::cli
