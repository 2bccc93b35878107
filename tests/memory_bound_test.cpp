// Limits: sizes whose arithmetic would overflow 64 bits are a clear convjit::Error from
// resolve(), and a process that asks for tens of thousands of distinct shapes through a
// bounded cache keeps a bounded resident set (evicted kernels' code memory is given back).
#define BOOST_TEST_MODULE memory_bound
#include <boost/test/unit_test.hpp>

#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <string>

using namespace convjit;
using namespace convjit::testing;

namespace {

// Sanitizers keep freed memory in quarantine and map shadow memory: resident set sizes mean
// nothing there (LeakSanitizer checks leaks instead), so only the counts are checked.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

double test_scale() {
  const char* env = std::getenv("CONVJIT_TEST_SCALE");
  const double v = env ? std::atof(env) : 0.0;
  return v > 0 ? v : 1.0;
}

std::string resolve_error(const std::string& spec) {
  return error_field([&] { (void)ConvSpec::parse(spec).resolve(); });
}

// VmRSS of this process, in bytes.
std::int64_t resident_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6)) * 1024;  // "kB"
  BOOST_FAIL("no VmRSS in /proc/self/status");
  return 0;
}

// The i-th of 4·8·3·24·24 = 55,296 distinct tiny shapes (c 1-4, oc 1-8, k 1-3, h and w
// 3-26, 'same' padding): every one resolves, none above 0.5 MFLOP.
ConvShape tiny_shape(std::int64_t i) {
  ConvSpec s;
  s.c = 1 + i % 4; i /= 4;
  s.oc = 1 + i % 8; i /= 8;
  s.kh = s.kw = 1 + i % 3; i /= 3;
  s.h = 3 + i % 24; i /= 24;
  s.w = 3 + i % 24;
  s.padding = PaddingMode::same;
  return s.resolve();
}

constexpr std::int64_t kMiB = std::int64_t{1} << 20;

}  // namespace

BOOST_AUTO_TEST_SUITE(overflow)

BOOST_AUTO_TEST_CASE(each_size_above_its_maximum_is_an_error_naming_the_key) {
  const std::string max = std::to_string(std::numeric_limits<std::int64_t>::max());
  const std::string big = "4611686018427387904";  // 2^62: doubling it overflows
  const std::string base = "c=3,h=8,w=8,oc=4,k=3";
  BOOST_TEST(resolve_error(base) == "");
  BOOST_TEST(resolve_error("n=" + max + ",c=3,h=8,w=8,oc=4,k=3") == "n");
  BOOST_TEST(resolve_error("c=" + max + ",h=8,w=8,oc=4,k=3") == "c");
  BOOST_TEST(resolve_error("c=3,h=" + big + ",w=8,oc=4,k=3") == "h");
  BOOST_TEST(resolve_error("c=3,h=8,w=" + big + ",oc=4,k=3") == "w");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=" + max + ",k=3") == "oc");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,kh=" + big + ",kw=3") == "kh");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,k=3,sw=" + max) == "sw");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,k=3,dh=" + big) == "dh");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,k=3,g=" + max) == "g");
  // Padding: h + pt + pb would overflow.
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,k=3,pt=" + max + ",pb=" + max) == "pt");
  BOOST_TEST(resolve_error("c=3,h=8,w=8,oc=4,k=3,pl=0,pr=" + max) == "pr");
  // A kernel that fits, but whose dilated extent D·(K−1)+1 at the maxima is ~2^20: the
  // input must be that large, not an overflow.
  BOOST_TEST(resolve_error("c=1,h=8,w=8,oc=1,k=1024,d=1024") == "kh");
}

BOOST_AUTO_TEST_CASE(products_that_overflow_64_bits_are_errors_not_wraparounds) {
  // Each size within its own maximum, the tensor far beyond 2^64 elements.
  BOOST_TEST(resolve_error("n=16777216,c=1048576,h=16777216,w=16777216,oc=1,k=1") == "src");
  // src fits, dst does not: oc·out_h·out_w.
  BOOST_TEST(resolve_error("c=1,h=16777216,w=16777216,oc=1048576,k=1") == "src");
  BOOST_TEST(resolve_error("c=1,h=4096,w=4096,oc=1048576,k=1") == "dst");
  // src and dst fit, the weights do not: kh·kw·(c/g)·oc = 2^10·2^10·2^20·2^20.
  BOOST_TEST(resolve_error("c=1048576,h=1024,w=1024,oc=1048576,k=1024,s=1024") == "src");
  BOOST_TEST(resolve_error("c=1,h=1024,w=1024,oc=1048576,k=1024") == "weights");
  BOOST_TEST(resolve_error("c=16384,h=1024,w=1,oc=1048576,kh=1024,kw=1") == "weights");
  // Exactly at the limit of what is allowed: fine, and every count is exact.
  const ConvShape at = ConvSpec::parse("c=1024,h=4096,w=4096,oc=1,k=1").resolve();
  BOOST_TEST(at.src_elems() == std::int64_t{1} << 34);
  BOOST_TEST(resolve_error("c=1025,h=4096,w=4096,oc=1,k=1") == "src");
}

BOOST_AUTO_TEST_CASE(out_of_range_integers_in_the_spec_are_parse_errors) {
  for (const char* spec : {"c=3,h=99999999999999999999,w=8,oc=4,k=3",
                           "c=3,h=8,w=-99999999999999999999,oc=4,k=3",
                           "c=3,h=8,w=8,oc=4,k=3,p=18446744073709551616"}) {
    const std::string field = error_field([&] { (void)ConvSpec::parse(spec); });
    BOOST_TEST((field == "h" || field == "w" || field == "p"), spec << " -> '" << field << "'");
  }
}

BOOST_AUTO_TEST_CASE(a_hand_filled_spec_with_extreme_values_is_rejected_by_resolve) {
  // The struct, not the string: the same checks, no parser in between.
  constexpr std::int64_t max = std::numeric_limits<std::int64_t>::max();
  constexpr std::int64_t min = std::numeric_limits<std::int64_t>::min();
  auto base = [] {
    ConvSpec s;
    s.c = 3; s.h = 8; s.w = 8; s.oc = 4; s.kh = s.kw = 3;
    return s;
  };
  auto with = [&](auto&& change) {
    ConvSpec s = base();
    change(s);
    return error_field([&] { (void)s.resolve(); });
  };
  BOOST_TEST(with([](ConvSpec&) {}) == "");
  BOOST_TEST(with([&](ConvSpec& s) { s.n = max; }) == "n");
  BOOST_TEST(with([&](ConvSpec& s) { s.n = min; }) == "n");
  BOOST_TEST(with([&](ConvSpec& s) { s.h = max; }) == "h");
  BOOST_TEST(with([&](ConvSpec& s) { s.w = min; }) == "w");
  BOOST_TEST(with([&](ConvSpec& s) { s.kw = max; }) == "kw");
  BOOST_TEST(with([&](ConvSpec& s) { s.dw = max; }) == "dw");
  BOOST_TEST(with([&](ConvSpec& s) { s.sh = min; }) == "sh");
  BOOST_TEST(with([&](ConvSpec& s) { s.groups = min; }) == "g");
  BOOST_TEST(with([&](ConvSpec& s) {
               s.padding = PaddingMode::explicit_pads;
               s.pad_top = max;
               s.pad_bottom = max;
             }) == "pt");
  BOOST_TEST(with([&](ConvSpec& s) {
               s.padding = PaddingMode::explicit_pads;
               s.pad_left = min;
             }) == "pl");
  // 'same' padding at the largest allowed sizes: computed without overflow.
  BOOST_TEST(with([&](ConvSpec& s) {
               s.h = std::int64_t{1} << 24;  // h at its maximum, w = 1: 2^24 elements
               s.w = 1;
               s.c = s.oc = 1;
               s.kh = s.dh = s.sh = 1024;
               s.kw = s.dw = s.sw = 1;
               s.padding = PaddingMode::same;
             }) == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(resident_memory)

// 20,000 distinct tiny shapes through a cache of 256: after the first 2,000 the cache is
// full and every further shape evicts one kernel; if eviction did not give back the
// kernel's code memory (Xbyak: at least one 4 KiB page per kernel, ~8 KiB on these
// shapes), the 18,000 later shapes would add >= 70 MiB. Allowed growth: 16 MiB.
BOOST_AUTO_TEST_CASE(twenty_thousand_shapes_through_a_cache_of_256_keep_memory_bounded) {
  const std::int64_t total = kSanitized ? 4000 : 20000;
  const std::int64_t warm = 2000;
  Jit jit(JitOptions{.threads = 1, .cache_capacity = 256});
  const auto start = std::chrono::steady_clock::now();
  std::int64_t rss_warm = 0;
  std::string backend;
  for (std::int64_t i = 0; i < total; ++i) {
    const ConvShape s = tiny_shape(i);
    auto kernel = jit.get(s);
    if (i == 0) backend = kernel->backend();
    if (i % 500 == 0) {
      // Now and then run one, so code, packed weights and run() are all exercised.
      const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), i);
      const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), i + 1);
      std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()));
      kernel->run(src.data(), kernel->pack_weights(w.data(), nullptr), dst.data());
    }
    if (i + 1 == warm) rss_warm = resident_bytes();
  }
  const std::int64_t rss_end = resident_bytes();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const CacheStats stats = jit.stats();
  BOOST_TEST_MESSAGE(backend << ": " << total << " shapes in " << seconds << " s; VmRSS after " << warm
                     << ": " << rss_warm / kMiB << " MiB, after " << total << ": "
                     << rss_end / kMiB << " MiB");
  BOOST_TEST(stats.misses == static_cast<std::uint64_t>(total));
  BOOST_TEST(stats.evictions >= static_cast<std::uint64_t>(total - 256));
  BOOST_TEST(stats.size <= 256u);
  if (!kSanitized)
    BOOST_TEST(rss_end - rss_warm < 16 * kMiB,
               "resident set grew by " << (rss_end - rss_warm) / kMiB << " MiB from shape "
                                       << warm << " to shape " << total);
}

// The same for every JIT backend on its own. LLVM takes ~10 ms per tiny kernel, so it gets
// fewer shapes and a smaller cache: 1,400 shapes, 64 cached, measured after 200 (1,200
// evictions in between). A leaked LLVM kernel keeps at least its linked sections (a code
// page and a constant page, 8 KiB), so 1,200 of them would add >= 9.4 MiB, above the
// 6 MiB allowed; measured without a leak: VmRSS levels off at ~70 MiB and moves by about
// 2 MiB between shape 200 and 1,400 (malloc arenas warming up), and stays flat from 2,000
// to 4,000 shapes.
BOOST_AUTO_TEST_CASE(every_jit_backend_frees_evicted_kernels) {
  for (Backend backend : available_backends()) {
    if (backend != Backend::xbyak && backend != Backend::llvm) continue;
    const bool llvm = backend == Backend::llvm;
    const double scale = kSanitized ? std::min(test_scale(), 0.25) : test_scale();
    const std::int64_t warm = llvm ? 200 : 2000;
    const std::int64_t total = warm + static_cast<std::int64_t>((llvm ? 1200 : 18000) * scale);
    Jit jit(JitOptions{.backend = backend, .threads = 1, .cache_capacity = llvm ? 64u : 256u});
    std::int64_t rss_warm = 0;
    const auto start = std::chrono::steady_clock::now();
    for (std::int64_t i = 0; i < total; ++i) {
      // LLVM: the smallest shapes (quickest to compile); Xbyak: others than the test above's.
      (void)jit.get(tiny_shape(llvm ? i : 50000 - i));
      if (i + 1 == warm) rss_warm = resident_bytes();
    }
    const std::int64_t rss_end = resident_bytes();
    BOOST_TEST_MESSAGE(to_string(backend)
                       << ": " << total << " shapes in "
                       << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
                       << " s; VmRSS after " << warm << ": " << rss_warm / 1024 << " KiB, after "
                       << total << ": " << rss_end / 1024 << " KiB");
    BOOST_TEST(jit.stats().size <= (llvm ? 64u : 256u));
    if (!kSanitized)
      BOOST_TEST(rss_end - rss_warm < (llvm ? 6 : 16) * kMiB,
                 to_string(backend) << ": resident set grew by " << (rss_end - rss_warm) / kMiB
                                    << " MiB from shape " << warm << " to shape " << total);
  }
}

BOOST_AUTO_TEST_SUITE_END()
