// W^X: no page of the process is ever writable and executable at once — before, during and
// after the generation of many kernels with every JIT backend.
//
// Two independent witnesses:
//  - /proc/self/maps, parsed before, after, and continuously from a watcher thread while
//    the main thread generates kernels in a loop (what an outside observer sees; sampling,
//    so it catches a long-lived RWX mapping, not necessarily a microsecond-long one);
//  - mmap and mprotect themselves: this executable defines both (a program's definition
//    interposes libc's for every shared library, libconvjit and libLLVM included) and
//    records any request for PROT_WRITE | PROT_EXEC before forwarding it to the next
//    definition (libc, or a sanitizer's interceptor). That catches even a transient RWX
//    window, deterministically. Not under ThreadSanitizer: its runtime maps memory through
//    these symbols while it initialises, before dlsym can be used, and crashes; the
//    /proc/self/maps witness still runs there.
#define BOOST_TEST_MODULE wx
#include <boost/test/unit_test.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/kernel_code.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <dlfcn.h>
#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

using namespace convjit;
using namespace convjit::testing;

// ------------------------------------------------------------------ mmap / mprotect witness

namespace {

std::atomic<std::uint64_t> g_wx_requests{0};     // PROT_WRITE | PROT_EXEC asked for
std::atomic<std::uint64_t> g_exec_requests{0};   // PROT_EXEC asked for (any)
std::atomic<std::uintptr_t> g_last_wx_address{0};

[[maybe_unused]] void note_protection(void* address, int prot) {
  if (prot & PROT_EXEC) g_exec_requests.fetch_add(1, std::memory_order_relaxed);
  if ((prot & PROT_WRITE) && (prot & PROT_EXEC)) {
    g_wx_requests.fetch_add(1, std::memory_order_relaxed);
    g_last_wx_address.store(reinterpret_cast<std::uintptr_t>(address));
  }
}

template <typename F>
[[maybe_unused]] F next_definition(const char* name) {
  void* f = ::dlsym(RTLD_NEXT, name);
  if (!f) std::abort();
  return reinterpret_cast<F>(f);
}

}  // namespace

#if defined(__SANITIZE_THREAD__)
#define CONVJIT_WX_INTERPOSE 0
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONVJIT_WX_INTERPOSE 0
#endif
#endif
#ifndef CONVJIT_WX_INTERPOSE
#define CONVJIT_WX_INTERPOSE 1
#endif

#if CONVJIT_WX_INTERPOSE
extern "C" void* mmap(void* addr, std::size_t len, int prot, int flags, int fd, off_t offset) noexcept {
  using Fn = void* (*)(void*, std::size_t, int, int, int, off_t);
  static const Fn next = next_definition<Fn>("mmap");
  note_protection(addr, prot);
  return next(addr, len, prot, flags, fd, offset);
}

extern "C" int mprotect(void* addr, std::size_t len, int prot) noexcept {
  using Fn = int (*)(void*, std::size_t, int);
  static const Fn next = next_definition<Fn>("mprotect");
  note_protection(addr, prot);
  return next(addr, len, prot);
}
#endif

// ------------------------------------------------------------------ /proc/self/maps witness

namespace {

// Every writable+executable mapping, one line each; empty when W^X holds.
std::string wx_mappings() {
  std::ostringstream out;
  for (const MemoryMapping& m : read_memory_map())
    if (m.writable() && m.executable())
      out << std::hex << m.begin << "-" << m.end << std::dec << " " << m.permissions << " "
          << m.path << "\n";
  return out.str();
}

std::vector<Backend> jit_backends() {
  std::vector<Backend> out;
  for (Backend b : available_backends())
    if (b == Backend::xbyak || b == Backend::llvm) out.push_back(b);
  return out;
}

// How many kernels each backend generates: Xbyak takes microseconds, LLVM milliseconds.
int kernel_count(Backend backend) {
  double scale = 1.0;
  if (const char* env = std::getenv("CONVJIT_TEST_SCALE"); env && std::atof(env) > 0)
    scale = std::atof(env);
  const int base = backend == Backend::xbyak ? 600 : 80;
  return std::max(10, static_cast<int>(base * scale));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(w_xor_x)

BOOST_AUTO_TEST_CASE(no_mapping_is_writable_and_executable_before_generation) {
  BOOST_TEST(wx_mappings().empty(), "writable and executable mappings:\n" << wx_mappings());
}

BOOST_AUTO_TEST_CASE(none_while_kernels_are_generated_and_none_after) {
  const auto backends = jit_backends();
  BOOST_REQUIRE(!backends.empty());

  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> scans{0};
  std::string seen;  // written by the watcher only, read after join
  std::thread watcher([&] {
    while (!stop.load()) {
      std::string wx = wx_mappings();
      scans.fetch_add(1);
      if (!wx.empty() && seen.empty()) seen = std::move(wx);
    }
  });

  RandomShapeLimits limits;
  limits.max_flops = 2e5;
  std::vector<std::shared_ptr<const Kernel>> kept;  // alive at the end: checked below
  for (Backend backend : backends) {
    const std::uint64_t exec_before = g_exec_requests.load();
    Jit jit(JitOptions{.backend = backend, .threads = 1, .cache_capacity = 64});
    std::mt19937_64 rng(4242 + static_cast<int>(backend));
    const int count = kernel_count(backend);
    for (int i = 0; i < count; ++i) {
      const ConvShape s = random_shape(rng, limits);
      auto kernel = jit.get(s);  // the cache evicts (and frees code) as it goes
      if (i % 8 == 0) {
        // Run a few, so their code is mapped executable, and keep some alive.
        const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
        const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 1);
        std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()));
        kernel->run(src.data(), kernel->pack_weights(w.data(), nullptr), dst.data(), 1);
      }
      if (i % 50 == 0) kept.push_back(kernel);
    }
    // The witness works: generating code asked for executable memory at least once.
    if (CONVJIT_WX_INTERPOSE)
      BOOST_TEST(g_exec_requests.load() > exec_before,
                 to_string(backend) << ": no mmap/mprotect with PROT_EXEC was seen; the "
                                       "interposition does not reach this backend");
  }
  stop = true;
  watcher.join();

  BOOST_TEST_MESSAGE("W^X: " << scans.load() << " scans of /proc/self/maps during generation, "
                             << g_exec_requests.load() << " executable mmap/mprotect requests");
  BOOST_TEST(scans.load() >= 5u, "the watcher hardly ran");
  BOOST_TEST(seen.empty(), "writable and executable mappings during generation:\n" << seen);
  BOOST_TEST(g_wx_requests.load() == 0u,
             g_wx_requests.load() << " mmap/mprotect requests for PROT_WRITE|PROT_EXEC, the last at 0x"
                                  << std::hex << g_last_wx_address.load());

  // After: nothing writable and executable, and each live kernel's code is mapped
  // read+execute, not writable.
  BOOST_TEST(wx_mappings().empty(), "writable and executable mappings after generation:\n"
                                        << wx_mappings());
  for (const auto& kernel : kept) {
    const auto code = kernel_code(*kernel).machine_code();
    if (code.empty()) continue;
    const std::string perms = memory_permissions(code.data());
    BOOST_TEST(perms.substr(0, 3) == "r-x", kernel->backend() << " kernel " << kernel->name()
                                                             << " code mapped " << perms);
  }
}

BOOST_AUTO_TEST_CASE(none_after_every_kernel_is_released) {
  BOOST_TEST(wx_mappings().empty(), "writable and executable mappings:\n" << wx_mappings());
}

BOOST_AUTO_TEST_SUITE_END()
