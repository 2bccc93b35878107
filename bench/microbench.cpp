// Latency micro-benchmarks of the runtime (Google Benchmark): what a host application pays
// per call besides the convolution itself.
//   cache hit:  Jit::get of a shape already compiled (target: median <= 200 ns)
//   run():      Kernel::run on the 8x8 seed vs calling the generated entry point bare
//               (target: run() <= 1.2x the bare call)
//   generation: plan + emit + make executable, per public benchmark shape (target <= 200 us)
//   engine:     what an inference engine asks for, each against the path it replaces —
//               the fused residual add vs the same kernel without it and vs a separate add
//               pass (target: fused <= 1.05x), a strided output (64 of 256 channels) vs the
//               contiguous one (<= 1.05x), the RunOptions form of run() on the seed, and the
//               host's pool vs OpenMP at 2 threads (>= 0.95x)
#include <benchmark/benchmark.h>

#include <convjit/convjit.hpp>

#include "runtime/kernel_state.hpp"
#include "bench/bench_suite.hpp"
#include "generator/plan.hpp"
#include "generator/kernel_code.hpp"

#include <algorithm>
#include <atomic>
#include <thread>
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
                            s.packed.data() + kernel_plan(*s.kernel).packed.weight_floats, s.dst.data(),
                            0, kSeed.out_h};
  for (auto _ : state) {
    entry(&args);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(bare_entry_call_on_seed);

void run_with_options_on_seed(benchmark::State& state) {
  SeedRun s;
  const RunOptions options{.batch = 1};
  for (auto _ : state) {
    s.kernel->run(s.src.data(), s.packed, s.dst.data(), options);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(run_with_options_on_seed);

// ------------------------------------------------------------------ engine options

// One layer's buffers, for a kernel compiled from `spec` on one Jit.
struct Layer {
  std::shared_ptr<const Kernel> kernel;
  std::vector<float> src, residual, dst;
  PackedWeights packed;
  Layer(Jit& jit, const char* spec) : kernel(jit.get(ConvSpec::parse(spec))) {
    const ConvShape& s = kernel->shape();
    src.assign(static_cast<std::size_t>(s.src_elems()), 0.5f);
    residual.assign(static_cast<std::size_t>(s.dst_elems()), 0.25f);
    dst.assign(static_cast<std::size_t>(s.dst_elems()), 0.0f);
    const std::vector<float> w(static_cast<std::size_t>(s.weight_elems()), 0.01f);
    packed = kernel->pack_weights(w.data(), nullptr);
  }
  void run(const RunOptions& options) { kernel->run(src.data(), packed, dst.data(), options); }
};

constexpr const char* kResnet = "c=64,h=56,w=56,oc=64,k=3,p=1";

void resnet_relu(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, "c=64,h=56,w=56,oc=64,k=3,p=1,act=relu");
  for (auto _ : state) l.run({});
}
BENCHMARK(resnet_relu)->Unit(benchmark::kMicrosecond);

void resnet_relu_fused_add(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, "c=64,h=56,w=56,oc=64,k=3,p=1,act=relu,add=1");
  for (auto _ : state) l.run({.residual = l.residual.data()});
}
BENCHMARK(resnet_relu_fused_add)->Unit(benchmark::kMicrosecond);

void resnet_relu_fused_add_in_place(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, "c=64,h=56,w=56,oc=64,k=3,p=1,act=relu,add=1");
  for (auto _ : state) l.run({.residual = l.dst.data()});
}
BENCHMARK(resnet_relu_fused_add_in_place)->Unit(benchmark::kMicrosecond);

// What the fused add replaces: the convolution, then one pass adding and rectifying.
void resnet_then_separate_add_relu_pass(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, kResnet);
  for (auto _ : state) {
    l.run({});
    float* d = l.dst.data();
    const float* r = l.residual.data();
    for (std::size_t i = 0; i < l.dst.size(); ++i) d[i] = std::max(d[i] + r[i], 0.0f);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(resnet_then_separate_add_relu_pass)->Unit(benchmark::kMicrosecond);

void resnet_contiguous_output(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, kResnet);
  for (auto _ : state) l.run({});
}
BENCHMARK(resnet_contiguous_output)->Unit(benchmark::kMicrosecond);

void resnet_output_64_of_256_channels(benchmark::State& state) {
  Jit jit(JitOptions{.threads = 1});
  Layer l(jit, "c=64,h=56,w=56,oc=64,k=3,p=1,dst_stride=256");
  for (auto _ : state) l.run({});
}
BENCHMARK(resnet_output_64_of_256_channels)->Unit(benchmark::kMicrosecond);

// A small std::thread pool: the caller's thread takes share 0, one worker per other share.
class SpinPool final : public ThreadPool {
 public:
  explicit SpinPool(int size) : size_(size) {
    for (int t = 1; t < size; ++t) workers_.emplace_back([this, t] { work(t); });
  }
  ~SpinPool() override {
    stop_.store(true);
    for (std::thread& t : workers_) t.join();
  }
  int threads() const override { return size_; }
  void parallel_for(std::int64_t count, Task task, void* context) override {
    task_ = task;
    context_ = context;
    count_ = count;
    pending_.store(static_cast<int>(count) - 1);
    generation_.fetch_add(1, std::memory_order_release);
    if (count > 0) task(context, 0);
    while (pending_.load(std::memory_order_acquire) > 0) {}
  }

 private:
  void work(int t) {
    std::uint64_t seen = 0;
    while (!stop_.load()) {
      const std::uint64_t g = generation_.load(std::memory_order_acquire);
      if (g == seen) continue;
      seen = g;
      if (t < count_) {
        task_(context_, t);
        pending_.fetch_sub(1, std::memory_order_release);
      }
    }
  }
  int size_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::int64_t count_ = 0;
};

void two_threads(benchmark::State& state, const char* spec, bool pool) {
  Jit jit(JitOptions{.threads = 2});
  Layer l(jit, spec);
  SpinPool spin(2);
  const RunOptions options = pool ? RunOptions{.pool = &spin} : RunOptions{.threads = 2};
  for (auto _ : state) l.run(options);
}
BENCHMARK_CAPTURE(two_threads, resnet_3x3_56_openmp, kResnet, false)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(two_threads, resnet_3x3_56_pool, kResnet, true)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(two_threads, batch8_3x3_28_openmp, "n=8,c=64,h=28,w=28,oc=64,k=3,p=1", false)
    ->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(two_threads, batch8_3x3_28_pool, "n=8,c=64,h=28,w=28,oc=64,k=3,p=1", true)
    ->Unit(benchmark::kMicrosecond);

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
