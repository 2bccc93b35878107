// A small host application: the courses' stacked networks built from convjit kernels.
//  1. three 'same' 3×3 layers on the 8×8 image with a two-pixel vertical line;
//  2. a LeNet-like stack on a 32×32 image (5×5 convolutions, ReLU, stride-2 downsampling);
//  3. what an inference engine does: a residual block (add=1, in place), two branches
//     written into one concatenated output (dst_stride), one kernel at two batch sizes,
//     weights packed into the host's arena, all on the host's own std::thread pool.
// It uses only the public API: ConvSpec, Jit, Kernel, PackedWeights, RunOptions, ThreadPool.
#include <convjit/convjit.hpp>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Layer {
  std::string spec;  // without the input keys; c, h, w come from the previous layer
  std::shared_ptr<const convjit::Kernel> kernel;
  convjit::PackedWeights weights;
};

// Deterministic weights: a vertical-line detector where the shape allows, else a small ramp.
std::vector<float> make_weights(const convjit::ConvShape& s) {
  std::vector<float> w(static_cast<std::size_t>(s.weight_elems()));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.02f * static_cast<float>((i * 7) % 11) - 0.1f;
  if (s.kh == 3 && s.kw == 3 && s.c == 1 && s.oc == 1) w = {0, 1, 0, 0, 1, 0, 0, 1, 0};
  return w;
}

void print_map(const char* title, const std::vector<float>& data, std::int64_t h, std::int64_t w,
               std::int64_t c) {
  std::printf("%s (%lldx%lld, channel 0)\n", title, static_cast<long long>(h), static_cast<long long>(w));
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) std::printf("%6.2f", data[(y * w + x) * c]);
    std::printf("\n");
  }
}

// Builds each layer's kernel from the previous layer's output, runs the stack, prints it.
std::vector<float> run_stack(const char* name, std::int64_t h, std::int64_t w, std::int64_t c,
                             std::vector<float> input, const std::vector<std::string>& layer_specs,
                             bool print_maps) {
  std::printf("\n== %s ==\n%-28s %-22s %8s\n", name, "Layer (type)", "Output Shape", "Param #");
  long long total = 0;
  for (std::size_t i = 0; i < layer_specs.size(); ++i) {
    const std::string spec = "c=" + std::to_string(c) + ",h=" + std::to_string(h) +
                             ",w=" + std::to_string(w) + "," + layer_specs[i];
    auto kernel = convjit::Jit::global().get(convjit::ConvSpec::parse(spec));
    const convjit::ConvShape& s = kernel->shape();
    const std::vector<float> bias(static_cast<std::size_t>(s.oc), 0.0f);
    const auto packed = kernel->pack_weights(make_weights(s).data(), bias.data());
    std::vector<float> output(static_cast<std::size_t>(s.dst_elems()));
    kernel->run(input.data(), packed, output.data());

    char shape_text[64];
    std::snprintf(shape_text, sizeof shape_text, "(None, %lld, %lld, %lld)",
                  static_cast<long long>(s.out_h), static_cast<long long>(s.out_w),
                  static_cast<long long>(s.oc));
    std::printf("conv2d_%-21zu %-22s %8lld\n", i + 1, shape_text, static_cast<long long>(s.params()));
    total += s.params();
    if (print_maps) print_map(("  after " + layer_specs[i]).c_str(), output, s.out_h, s.out_w, s.oc);
    input = std::move(output);
    h = s.out_h; w = s.out_w; c = s.oc;
  }
  std::printf("Total params: %lld\n", total);
  return input;
}

// The host's pool: a few std::threads that take task indices from a counter while the
// calling thread joins in (pthreadpool works the same way).
class HostPool final : public convjit::ThreadPool {
 public:
  explicit HostPool(int size) : size_(size) {
    for (int t = 1; t < size; ++t) workers_.emplace_back([this] { serve(); });
  }
  ~HostPool() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  int threads() const override { return size_; }
  void parallel_for(std::int64_t count, Task task, void* context) override {
    {
      std::lock_guard lock(mutex_);
      task_ = task;
      context_ = context;
      next_ = 0;
      count_ = count;
      left_ = count;
      ++round_;
    }
    wake_.notify_all();
    take_tasks();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return left_ == 0; });
  }

 private:
  void take_tasks() {
    std::unique_lock lock(mutex_);
    while (next_ < count_) {
      const std::int64_t i = next_++;
      lock.unlock();
      task_(context_, i);
      lock.lock();
      if (--left_ == 0) done_.notify_all();
    }
  }
  void serve() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || round_ != seen; });
        if (stop_) return;
        seen = round_;
      }
      take_tasks();
    }
  }
  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::int64_t next_ = 0, count_ = 0, left_ = 0;
  std::uint64_t round_ = 0;
  bool stop_ = false;
};

// A 64-float-aligned weight arena, the way an engine keeps all of a model's weights.
class WeightArena {
 public:
  explicit WeightArena(std::size_t floats)
      : memory_(static_cast<float*>(std::aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64)),
                &std::free),
        capacity_(floats) {}
  // The next `floats` floats, kept 64-byte aligned.
  std::span<float> take(std::size_t floats) {
    const std::size_t start = used_;
    used_ += (floats + 15) / 16 * 16;
    if (used_ > capacity_) throw std::runtime_error("weight arena is full");
    return {memory_.get() + start, floats};
  }

 private:
  std::unique_ptr<float, decltype(&std::free)> memory_;
  std::size_t capacity_, used_ = 0;
};

// A residual block and an inception-style concatenation on the host's pool.
void engine_example() {
  std::printf("\n== an inference engine's layers ==\n");
  auto pool = std::make_shared<HostPool>(2);
  convjit::Jit jit(convjit::JitOptions{.pool = pool});  // every run() of its kernels uses the pool

  // Block: x -> conv+relu -> conv, + x, relu. The second convolution adds the block's input
  // in its store and accumulates in place: dst is the residual.
  auto conv1 = jit.get(convjit::ConvSpec::parse("c=16,h=14,w=14,oc=16,k=3,p=same,act=relu"));
  auto conv2 = jit.get(convjit::ConvSpec::parse("c=16,h=14,w=14,oc=16,k=3,p=same,act=relu,add=1"));
  WeightArena arena(conv1->packed_size() + conv2->packed_size() + 64);
  const auto w1 = make_weights(conv1->shape()), w2 = make_weights(conv2->shape());
  const auto packed1 = conv1->pack_weights_into(arena.take(conv1->packed_size()), w1.data(), nullptr);
  const auto packed2 = conv2->pack_weights_into(arena.take(conv2->packed_size()), w2.data(), nullptr);

  for (std::int64_t batch : {1, 4}) {  // one kernel, any batch
    const std::size_t floats = static_cast<std::size_t>(batch * conv1->shape().src_elems());
    std::vector<float> x(floats), hidden(floats);
    for (std::size_t i = 0; i < floats; ++i) x[i] = 0.01f * static_cast<float>(i % 97);
    conv1->run(x.data(), packed1, hidden.data(), convjit::RunOptions{.batch = batch});
    std::vector<float> y = x;  // the block's output starts as its input ...
    conv2->run(hidden.data(), packed2, y.data(),  // ... and the convolution adds itself to it
               convjit::RunOptions{.batch = batch, .residual = y.data()});
    std::printf("residual block, batch %lld: y[0] = %.4f, y[last] = %.4f\n",
                static_cast<long long>(batch), y[0], y.back());
  }

  // Two branches write channels [0, 24) and [24, 64) of one 64-channel output.
  auto left = jit.get(convjit::ConvSpec::parse("c=16,h=14,w=14,oc=24,k=1,dst_stride=64"));
  auto right = jit.get(convjit::ConvSpec::parse("c=16,h=14,w=14,oc=40,k=3,p=same,dst_stride=64"));
  std::vector<float> x(static_cast<std::size_t>(left->shape().src_elems()), 0.5f);
  std::vector<float> concat(14 * 14 * 64, 0.0f);
  left->run(x.data(), left->pack_weights(make_weights(left->shape()).data(), nullptr), concat.data());
  right->run(x.data(), right->pack_weights(make_weights(right->shape()).data(), nullptr),
             concat.data() + 24);
  std::printf("concatenation: pixel 0 channels 0, 23, 24, 63 = %.4f %.4f %.4f %.4f\n", concat[0],
              concat[23], concat[24], concat[63]);
}

}  // namespace

int main() {
  try {
    std::vector<float> line(64, 0.0f);
    for (int y = 0; y < 8; ++y) line[y * 8 + 3] = line[y * 8 + 4] = 1.0f;
    run_stack("three 'same' 3x3 layers on the 8x8 line image", 8, 8, 1, line,
              {"oc=1,k=3,p=same,bias=0", "oc=1,k=3,p=same,bias=0", "oc=1,k=3,p=same,bias=0"}, true);

    std::vector<float> digit(32 * 32);
    for (int i = 0; i < 32 * 32; ++i) digit[i] = ((i / 32 - 16) * (i / 32 - 16) + (i % 32 - 16) * (i % 32 - 16) < 100) ? 1.0f : 0.0f;
    const auto features = run_stack("LeNet-like stack on 32x32", 32, 32, 1, digit,
                                    {"oc=6,k=5,act=relu", "oc=6,k=2,s=2", "oc=16,k=5,act=relu",
                                     "oc=16,k=2,s=2", "oc=120,k=5,act=relu"}, false);
    std::printf("final features: %zu values, first %.4f\n", features.size(), features[0]);
    engine_example();

    const convjit::CacheStats stats = convjit::Jit::global().stats();
    std::printf("kernel cache: %llu misses, %llu hits, %.0f us generating\n",
                static_cast<unsigned long long>(stats.misses), static_cast<unsigned long long>(stats.hits),
                stats.generation_us_total);
    return 0;
  } catch (const convjit::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
