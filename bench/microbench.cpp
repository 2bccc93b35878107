// Latency micro-benchmarks of the runtime (Google Benchmark): what a host application pays
// per call besides the convolution itself.
//   cache hit:  Jit::get of a shape already compiled (target: median <= 200 ns)
//   run():      Kernel::run on the 8x8 seed vs calling the generated entry point bare
//               (target: run() <= 1.2x the bare call)
//   generation: plan + emit + make executable, per public benchmark shape (target <= 200 us)
#include <benchmark/benchmark.h>

#include <convjit/convjit.hpp>

#include "runtime/kernel_state.hpp"
#include "bench/bench_suite.hpp"
#include "generator/plan.hpp"
#include "generator/kernel_code.hpp"

#include <vector>

namespace {

using namespace convjit;

const ConvShape kSeed = ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3").resolve();

void cache_hit_by_shape(benchmark::State& state) {
  Jit jit;
  jit.get(kSeed);
  for (auto _ : state) benchmark::DoNotOptimize(jit.get(kSeed));
}
BENCHMARK(cache_hit_by_shape);

void cache_hit_by_spec_string(benchmark::State& state) {
  Jit jit;
  jit.get(kSeed);
  for (auto _ : state) benchmark::DoNotOptimize(jit.get(ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3")));
}
BENCHMARK(cache_hit_by_spec_string);

struct SeedRun {
  std::shared_ptr<const Kernel> kernel = Jit(JitOptions{.threads = 1}).compile(kSeed);
  std::vector<float> src = std::vector<float>(64, 0.5f);
  std::vector<float> weights = std::vector<float>(9, 0.25f);
  std::vector<float> dst = std::vector<float>(36);
  PackedWeights packed = kernel->pack_weights(weights.data(), nullptr);
};

void run_on_seed(benchmark::State& state) {
  SeedRun s;
  for (auto _ : state) {
    s.kernel->run(s.src.data(), s.packed, s.dst.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(run_on_seed);

void bare_entry_call_on_seed(benchmark::State& state) {
  SeedRun s;
  const KernelCode::Entry entry = kernel_code(*s.kernel).entry();
  const KernelCallArgs args{s.src.data(), s.packed.data(),
                            s.packed.data() + kernel_plan(*s.kernel).packed_weight_floats, s.dst.data(),
                            0, kSeed.out_h};
  for (auto _ : state) {
    entry(&args);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bare_entry_call_on_seed);

void generation(benchmark::State& state, ConvShape shape) {
  Jit jit(JitOptions{.backend = Backend::xbyak});
  double total = 0;
  for (auto _ : state) {
    auto kernel = jit.compile(shape);
    total += kernel->generation_us();
  }
  state.counters["generation_us"] = total / static_cast<double>(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  const char* shapes = CONVJIT_BENCH_SHAPES_FILE;
  for (const auto& [name, shape] : bench::load_shapes_file(shapes))
    benchmark::RegisterBenchmark(("generation/" + name).c_str(), generation, shape)
        ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
