// convjit asm SPEC [--backend B]: the disassembly of the generated kernel.
#include "runtime/kernel_state.hpp"
#include "tools/convjit/cli.hpp"

#include "runtime/disassembler.hpp"
#include "generator/kernel_code.hpp"

#include <iostream>

namespace convjit::cli {

int cmd_asm(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "asm", {"--backend"}, {});
  if (parsed.positional.size() != 1)
    throw Error("asm", parsed.positional.empty() ? "needs a SPEC (see convjit asm --help)"
                                                 : "takes one SPEC");
  const Backend requested = parse_backend(parsed.value("--backend", "auto"));
  const ConvShape shape = parse_shape(parsed.positional[0]);
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

}  // namespace convjit::cli
