// The caller's threads: a ThreadPool the host implements, given per Jit or per run(); the
// same bits as OpenMP and as one thread, for every pool size.
#define BOOST_TEST_MODULE thread_pool
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <atomic>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

namespace {

// A minimal pool: `size` threads that take indices from a shared counter; the caller's
// thread joins in, as pthreadpool's does.
class CountingPool final : public ThreadPool {
 public:
  explicit CountingPool(int size) : size_(size) {
    for (int t = 1; t < size; ++t) workers_.emplace_back([this] { work(); });
  }
  ~CountingPool() override {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : workers_) t.join();
  }
  int threads() const override { return size_; }
  void parallel_for(std::int64_t count, Task task, void* context) override {
    ++calls;
    {
      std::lock_guard lock(mutex_);
      task_ = task;
      context_ = context;
      next_ = 0;
      count_ = count;
      pending_ = count;
      ++generation_;
    }
    wake_.notify_all();
    drain();
    std::unique_lock lock(mutex_);
    done_.wait(lock, [&] { return pending_ == 0; });
  }
  std::atomic<int> calls{0};

 private:
  void drain() {
    for (;;) {
      std::int64_t i;
      {
        std::lock_guard lock(mutex_);
        if (next_ >= count_) return;
        i = next_++;
      }
      task_(context_, i);
      std::lock_guard lock(mutex_);
      if (--pending_ == 0) done_.notify_all();
    }
  }
  void work() {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      drain();
    }
  }

  int size_;
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  Task task_ = nullptr;
  void* context_ = nullptr;
  std::int64_t next_ = 0, count_ = 0, pending_ = 0;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
};

class NoThreads final : public ThreadPool {
 public:
  int threads() const override { return 0; }
  void parallel_for(std::int64_t, Task, void*) override {}
};

}  // namespace

BOOST_AUTO_TEST_SUITE(thread_pool)

BOOST_AUTO_TEST_CASE(every_pool_size_gives_the_bits_of_openmp_and_of_one_thread) {
  RandomShapeLimits limits;
  limits.max_flops = 1e6;
  std::mt19937_64 rng(2718);
  CountingPool pool1(1), pool2(2), pool3(3), pool5(5);
  Jit jit(JitOptions{.threads = 1});
  for (int i = 0; i < 40; ++i) {
    const ConvShape s = with_random_engine_options(random_shape(rng, limits), rng);
    auto kernel = jit.get(s);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 100);
    const auto residual = random_floats(static_cast<std::size_t>(s.dst_elems()), i + 200);
    const float* r = s.add_residual ? residual.data() : nullptr;
    const auto packed = kernel->pack_weights(w.data(), nullptr);
    std::vector<float> one(static_cast<std::size_t>(s.dst_elems()), 0.0f);
    kernel->run(src.data(), packed, one.data(), RunOptions{.threads = 1, .residual = r});
    auto same = [&](const RunOptions& options, const char* what) {
      std::vector<float> out(one.size(), 0.0f);
      kernel->run(src.data(), packed, out.data(), options);
      BOOST_TEST(std::memcmp(one.data(), out.data(), one.size() * sizeof(float)) == 0,
                 s.to_string() << " " << what);
    };
    same(RunOptions{.threads = 2, .residual = r}, "openmp 2");
    for (CountingPool* pool : {&pool1, &pool2, &pool3, &pool5})
      same(RunOptions{.pool = pool, .residual = r}, "pool");
    same(RunOptions{.threads = 4, .pool = &pool2, .residual = r}, "pool2 in 4 shares");
  }
}

BOOST_AUTO_TEST_CASE(a_jits_pool_runs_its_kernels_and_a_run_may_choose_another) {
  auto pool = std::make_shared<CountingPool>(2);
  Jit jit(JitOptions{.pool = pool});
  auto kernel = jit.get(ConvSpec::parse("c=8,h=16,w=16,oc=16,k=3,p=1"));
  const auto w = random_floats(static_cast<std::size_t>(kernel->shape().weight_elems()), 1);
  const auto packed = kernel->pack_weights(w.data(), nullptr);
  const auto src = random_floats(static_cast<std::size_t>(kernel->shape().src_elems()), 2);
  std::vector<float> dst(static_cast<std::size_t>(kernel->shape().dst_elems()));
  kernel->run(src.data(), packed, dst.data());
  BOOST_TEST(pool->calls.load() == 1);
  kernel->run(src.data(), packed, dst.data(), RunOptions{.batch = 1});
  BOOST_TEST(pool->calls.load() == 2);
  CountingPool other(3);
  kernel->run(src.data(), packed, dst.data(), RunOptions{.pool = &other});
  BOOST_TEST(pool->calls.load() == 2);
  BOOST_TEST(other.calls.load() == 1);
  // One share of work needs no pool.
  kernel->run(src.data(), packed, dst.data(), RunOptions{.threads = 1});
  BOOST_TEST(pool->calls.load() == 2);
}

BOOST_AUTO_TEST_CASE(a_null_pool_or_one_without_threads_is_an_error_naming_the_pool) {
  Jit jit;
  auto kernel = jit.get(ConvSpec::parse("c=4,h=8,w=8,oc=4,k=3"));
  const auto w = random_floats(static_cast<std::size_t>(kernel->shape().weight_elems()), 1);
  const auto packed = kernel->pack_weights(w.data(), nullptr);
  std::vector<float> src(static_cast<std::size_t>(kernel->shape().src_elems()));
  std::vector<float> dst(static_cast<std::size_t>(kernel->shape().dst_elems()));
  BOOST_TEST(error_field([&] {
               kernel->run(src.data(), packed, dst.data(),
                           RunOptions{.pool = static_cast<ThreadPool*>(nullptr)});
             }) == "pool");
  NoThreads none;
  BOOST_TEST(error_field([&] {
               kernel->run(src.data(), packed, dst.data(), RunOptions{.pool = &none});
             }) == "pool");
}

BOOST_AUTO_TEST_SUITE_END()
