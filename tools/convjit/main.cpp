// convjit: the command-line tool (docs/ARCHITECTURE.md, "Command-line contract").
// main() only dispatches; each command lives in its own cmd_*.cpp.
#include "tools/convjit/cli.hpp"

#include <cstring>
#include <exception>
#include <iostream>
#include <string_view>

namespace {

using namespace convjit::cli;

struct Command {
  std::string_view name;
  CommandFn run;
  std::string_view usage;  // first line: synopsis; then details
};

const Command kCommands[] = {
    {"demo", cmd_demo,
     "convjit demo\n"
     "  JIT-compiles the courses' worked examples (the vertical-line detector on an 8x8\n"
     "  image: valid, same, stride 2; the 3x3 input with a 2x2 kernel), prints their\n"
     "  feature maps, a Keras-style summary and a specialised-vs-generic timing table.\n"},
    {"shape", cmd_shape,
     "convjit shape SPEC [--json]\n"
     "  Output shape, resolved padding, parameter count and MFLOP of one convolution.\n"
     "  --json  one JSON object (out_h, out_w, pad [top,bottom,left,right], params, ...)\n"},
    {"summary", cmd_summary,
     "convjit summary --input HxWxC LAYER...\n"
     "  A Keras-style \"Layer (type) / Output Shape / Param #\" table for stacked layers.\n"
     "  Each LAYER is a spec without c, h, w (they come from the previous layer), e.g.\n"
     "    convjit summary --input 8x8x1 oc=1,k=3 oc=1,k=3\n"},
    {"plan", cmd_plan,
     "convjit plan SPEC [--backend B] [--threads N] [--tune [--mode fast|full]]\n"
     "  The kernel plan (strategy, register tile, row/column segments, unrolling), and the\n"
     "  backend that compiles it. B: auto (default), xbyak, llvm, generic, reference.\n"
     "  --threads N  the team the plan is made for (default 1): Winograd's blocks and the\n"
     "          choice of algorithm follow it\n"
     "  Without --tune: the cost model's plan (no tuning, whatever CONVJIT_TUNE says).\n"
     "  --tune  tune first (--mode full by default) and list the candidates with their\n"
     "          estimates and measured times, the winner marked '*' and why it won\n"},
    {"asm", cmd_asm,
     "convjit asm SPEC [--backend B] [--target host|aarch64]\n"
     "  Disassembly (Intel syntax, LLVM's MC disassembler) of the generated kernel: one\n"
     "  instruction per line with its offset and bytes. B: auto (default), xbyak, llvm.\n"
     "  --target aarch64  the AArch64 assembly LLVM compiles from the kernel's neon plan\n"
     "                   (4-lane NEON vectors, 32 registers); llvm only\n"},
    {"verify", cmd_verify,
     "convjit verify SPEC... [--backend B,...] [--seed N] [--threads N]\n"
     "  Runs random data (uniform in [-1,1]) through each backend and through the\n"
     "  reference, prints the worst absolute error per (spec, backend) against the\n"
     "  tolerance 4e-6 * (L + 8), L = kh*kw*c/g the accumulation length, and exits 1 on\n"
     "  any mismatch. Default backends: every available one except the reference.\n"},
    {"tune", cmd_tune,
     "convjit tune [SPEC...] [--shapes FILE] [--mode fast|full] [--backend B]\n"
     "  Tunes each shape as its first use would (default --mode fast) and prints the\n"
     "  winner, its kind, the candidates timed, the tuning time and the speed-up over the\n"
     "  cost model's pick. With CONVJIT_CACHE_DIR set the winners are stored there, and a\n"
     "  later process builds them without timing anything.\n"},
    {"bench", cmd_bench,
     "convjit bench [SPEC...] [--shapes FILE [--layout nhwc|nchw]] [--backend B,...] [--threads N] [--json]\n"
     "  Median time per (shape, backend), each backend checked against the reference first.\n"
     "  FILE lines: name N C H W OC KH KW SH SW PH PW DH DW [G [COUNT]] (e.g. bench/shapes.txt,\n"
     "  bench/networks/resnet50.txt); G groups, COUNT occurrences (weights the file's total).\n"
     "  --layout L       the file's layers on L tensors (default nhwc; nchw: PyTorch's layout)\n"
     "  B: xbyak, llvm, generic, reference, and the baselines built in (onednn,\n"
     "     onednn_winograd, xnnpack, im2col_openblas), or all; default: every available one.\n"
     "  --threads N      threads per call (default 1)\n"
     "  --json           one JSON object per line (name, spec, backend, median_us, gflops,\n"
     "                   compile_us, ...)\n"
     "  --json-env       --json, with the environment as a first line\n"
     "  --min-seconds S  measuring time per (shape, backend) (default 0.2)\n"
     "  --no-verify      skip the comparison with the reference\n"
     "  --isa avx2|native  avx2 (default): convjit generates AVX2 and oneDNN and OpenBLAS\n"
     "                   are capped to it; native: convjit and the baselines use AVX-512\n"
     "                   where the CPU has it\n"},
};

void print_usage(std::ostream& out) {
  out << "convjit " << "- JIT-compiled 2-D convolution kernels specialised per shape\n\n"
      << "usage: convjit <command> [arguments]   (convjit <command> --help for details)\n\n";
  for (const Command& c : kCommands) {
    const std::string_view synopsis = c.usage.substr(0, c.usage.find('\n'));
    out << "  " << synopsis << "\n";
  }
  out << "\nSPEC: comma-separated key=value, e.g. n=1,c=64,h=56,w=56,oc=64,k=3,p=same\n"
      << "  n c h w oc, k | kh kw, s | sh sw, d | dh dw, p=INT|same|same_lower|valid | ph pw |\n"
      << "  pt pb pl pr, g, layout=nhwc|nchw, bias=0|1, act=none|relu|clamp:LO:HI|\n"
      << "  leaky_relu[:ALPHA]|hardswish|silu|sigmoid\n"
      << "  defaults: n=1 s=1 d=1 p=valid g=1 layout=nhwc bias=1 act=none\n"
      << "\nExit status: 0 ok, 1 verify mismatch, 2 bad argument or error.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    print_usage(std::cerr);
    return kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "help" || name == "--help" || name == "-h") {
    if (argc > 2) {
      for (const Command& c : kCommands)
        if (c.name == argv[2]) {
          std::cout << "usage: " << c.usage;
          return kExitOk;
        }
    }
    print_usage(std::cout);
    return kExitOk;
  }
  const Command* command = nullptr;
  for (const Command& c : kCommands)
    if (c.name == name) command = &c;
  if (!command) {
    std::cerr << "convjit: " << name << ": unknown command (see convjit --help)\n";
    return kExitUsage;
  }
  std::vector<std::string> args(argv + 2, argv + argc);
  for (const std::string& a : args)
    if (a == "--help" || a == "-h") {
      std::cout << "usage: " << command->usage;
      return kExitOk;
    }
  try {
    return command->run(args);
  } catch (const convjit::Error& e) {
    std::cout.flush();
    std::cerr << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "convjit: " << name << ": " << e.what() << "\n";
    return kExitUsage;
  }
}
