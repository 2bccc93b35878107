// convjit plan SPEC [--backend B] [--threads N] [--tune [--mode M]]: the KernelPlan,
// human-readable, and the backend; with --tune, the candidates tuning timed and the winner.
#include "tools/convjit/cli.hpp"

#include "generator/plan.hpp"

#include <iostream>

namespace convjit::cli {

int cmd_plan(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "plan", {"--backend", "--mode", "--threads"}, {"--tune"});
  if (parsed.has("--mode") && !parsed.flag("--tune")) throw Error("--mode", "needs --tune");
  // The cost model's plan unless asked to tune: what `plan` prints should not depend on load.
  const Tuning tune = parsed.flag("--tune") ? parse_tuning(parsed.value("--mode", "full")) : Tuning::off;
  if (parsed.positional.size() != 1)
    throw Error("plan", parsed.positional.empty() ? "needs a SPEC (see convjit plan --help)"
                                                  : "takes one SPEC");
  const Backend requested = parse_backend(parsed.value("--backend", "auto"));
  const ConvShape shape = parse_shape(parsed.positional[0]);
  // The team the plan is made for (KernelPlan::threads).
  const int threads = static_cast<int>(parse_integer("--threads", parsed.value("--threads", "1"), 1, 4096));
  // The plan is a pure function of the shape; only the compile below can fail for a
  // backend this build or CPU cannot run. Then the plan is printed alone.
  std::shared_ptr<const Kernel> kernel;
  std::string unavailable;
  Backend resolved = requested;
  try {
    Jit jit(JitOptions{.backend = requested, .threads = threads, .tune = tune});
    resolved = jit.backend();
    kernel = jit.compile(shape);
  } catch (const Error& e) {
    unavailable = e.reason();
  }
  if (kernel) {
    std::cout << kernel->describe();
  } else {
    std::cout << "backend    " << to_string(resolved) << " (unavailable: " << unavailable
              << ")\n"
              << make_plan(shape, Isa::avx2, shape.algo, threads).describe();
  }
  return kExitOk;
}

}  // namespace convjit::cli
