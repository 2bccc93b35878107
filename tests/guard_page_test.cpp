// Out-of-bounds accesses by every backend, caught at the exact boundary: input, user weights,
// bias and output each live in their own mmap'd pages with a PROT_NONE page on both sides,
// flush against the trailing guard (over-reads / over-writes past the end) and, in a second
// pass, flush against the leading guard (accesses before the start). Inputs are read-only,
// so a write to them faults too. The packed weights the library allocates are guarded the
// same way (see "Packed weights" below).
//
// A fault is the failure signal: Boost.Test turns the SIGSEGV into a fatal "memory access
// violation" error of the test case, printed with the shape, the backend and the side (run
// with --catch_system_errors=no to get a plain SIGSEGV and a core instead).
// AddressSanitizer cannot help here: it does not see the loads and stores of JIT-generated
// code, so this test (and fuzz/differential_fuzzer) is the only boundary check of the Xbyak
// and LLVM kernels.
//
// CONVJIT_TEST_SCALE (a positive number, default 1) scales the number of random shapes, for
// slow builds (sanitizers); the shapes file is always run whole.
#define BOOST_TEST_MODULE guard_page
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "runtime/backends.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <new>
#include <random>
#include <unordered_map>

using namespace convjit;
using namespace convjit::testing;

// ------------------------------------------------------------------ packed weights
//
// PackedWeights' storage is allocated inside the library (Kernel::pack_weights, with
// ::operator new[](bytes, std::align_val_t{64})) and is private, so a test cannot place it.
// It can still be guarded: the aligned array forms of operator new/delete are replaceable
// (a program's definition wins over the standard library's, also for calls from the shared
// libconvjit), so while a GuardLibraryAllocations is alive, aligned new[] returns blocks
// flush against a trailing guard page (the start moved down to the requested alignment,
// which leaves < 64 bytes unguarded after a block whose size is not a multiple of 64).
//
// If the library ever allocates packed weights differently, `packed_weights_are_guarded`
// fails and says so: the guard is then silently gone and the test must follow.
namespace {

std::atomic<int> g_guarding{0};
std::atomic<std::size_t> g_guarded_allocations{0};

struct GuardedBlock {
  std::size_t bytes;
  std::size_t alignment;
};

std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::unordered_map<void*, GuardedBlock>& registry() {
  static auto* r = new std::unordered_map<void*, GuardedBlock>;  // never destroyed
  return *r;
}

void* plain_aligned_allocate(std::size_t bytes, std::size_t alignment) {
  // aligned_alloc wants a size that is a multiple of the alignment.
  const std::size_t rounded = (std::max<std::size_t>(bytes, 1) + alignment - 1) / alignment * alignment;
  return std::aligned_alloc(std::max(alignment, sizeof(void*)), rounded);
}

void* aligned_array_new(std::size_t bytes, std::align_val_t al) {
  const auto alignment = static_cast<std::size_t>(al);
  if (g_guarding.load(std::memory_order_relaxed) > 0) {
    if (void* p = guarded_allocate(bytes, alignment)) {
      std::lock_guard lock(registry_mutex());
      registry().emplace(p, GuardedBlock{bytes, alignment});
      ++g_guarded_allocations;
      return p;
    }
    throw std::bad_alloc();
  }
  if (void* p = plain_aligned_allocate(bytes, alignment)) return p;
  throw std::bad_alloc();
}

void aligned_array_delete(void* p) noexcept {
  if (!p) return;
  {
    std::lock_guard lock(registry_mutex());
    if (auto it = registry().find(p); it != registry().end()) {
      const GuardedBlock block = it->second;
      registry().erase(it);
      guarded_free(p, block.bytes, block.alignment);
      return;
    }
  }
  std::free(p);
}

// While alive, the library's aligned array allocations (packed weights) are guarded.
struct GuardLibraryAllocations {
  GuardLibraryAllocations() { ++g_guarding; }
  ~GuardLibraryAllocations() { --g_guarding; }
  GuardLibraryAllocations(const GuardLibraryAllocations&) = delete;
  GuardLibraryAllocations& operator=(const GuardLibraryAllocations&) = delete;
};

}  // namespace

void* operator new[](std::size_t bytes, std::align_val_t al) { return aligned_array_new(bytes, al); }
void* operator new[](std::size_t bytes, std::align_val_t al, const std::nothrow_t&) noexcept {
  try {
    return aligned_array_new(bytes, al);
  } catch (...) {
    return nullptr;
  }
}
void operator delete[](void* p, std::align_val_t) noexcept { aligned_array_delete(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { aligned_array_delete(p); }
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  aligned_array_delete(p);
}

// ------------------------------------------------------------------ the test

namespace {

double test_scale() {
  const char* env = std::getenv("CONVJIT_TEST_SCALE");
  if (!env || !*env) return 1.0;
  const double v = std::atof(env);
  return v > 0 ? v : 1.0;
}

const char* side_name(GuardSide side) {
  return side == GuardSide::trailing ? "flush against the trailing guard"
                                     : "flush against the leading guard";
}

GuardedBuffer guarded_copy(const std::vector<float>& values, GuardSide side) {
  GuardedBuffer b(values.size(), side);
  b.assign(values.data(), values.size());
  b.make_read_only();
  return b;
}

// Shapes: random small ones (every padding kind, groups, depthwise, both layouts, bias,
// activations), hand-picked edges, and every shape of the benchmark list.
std::vector<std::pair<std::string, ConvShape>> guard_shapes() {
  std::vector<std::pair<std::string, ConvShape>> shapes;
  RandomShapeLimits limits;
  limits.max_flops = 3e5;
  std::mt19937_64 rng(20260707);
  const int random_count = std::max(20, static_cast<int>(std::lround(320 * test_scale())));
  for (int i = 0; i < random_count; ++i)
    shapes.emplace_back("random #" + std::to_string(i), random_shape(rng, limits));
  for (const char* spec : {
           "c=1,h=1,w=1,oc=1,k=1",
           "c=1,h=1,w=1,oc=1,k=1,bias=0,layout=nchw",
           "c=3,h=1,w=1,oc=5,k=3,p=same",
           "c=9,h=5,w=5,oc=17,k=11,p=5",
           "c=8,h=7,w=9,oc=8,kh=1,kw=7,pl=6,pr=0",
           "c=1,h=1,w=9,oc=1,kh=1,kw=9,pl=8,pr=8",
           "c=1,h=9,w=1,oc=1,kh=9,kw=1,pt=8,pb=8,layout=nchw",
           "c=5,h=17,w=19,oc=7,k=3,d=6,p=6",
           "c=12,h=12,w=12,oc=12,k=3,g=12,p=1,act=relu",
           "c=13,h=7,w=7,oc=13,k=3,g=13,p=same",
           "c=20,h=11,w=13,oc=20,k=5,g=20,s=2,p=2,bias=0",
           "c=6,h=10,w=10,oc=9,k=3,g=3,p=1,act=clamp:-0.25:0.5",
           "c=1,h=31,w=45,oc=1,k=4,s=3,p=same,layout=nchw",
           "c=1,h=3,w=37,oc=1,k=3,p=same,layout=nchw",
           "c=4,h=6,w=70,oc=3,kh=2,kw=5,sw=2,pt=1,pb=0,pl=3,pr=1,layout=nchw",
           "c=3,h=9,w=9,oc=1,k=3,s=4,pt=0,pb=3,pl=0,pr=3",
           "n=3,c=2,h=5,w=5,oc=3,k=2,p=valid",
           "n=2,c=7,h=3,w=11,oc=9,k=3,p=same_lower,layout=nchw",
           "c=17,h=4,w=4,oc=1,k=1",
           "c=1,h=4,w=4,oc=17,k=1",
       })
    shapes.emplace_back(spec, ConvSpec::parse(spec).resolve());
  for (auto& named : load_shapes_file(shapes_file_path())) shapes.push_back(std::move(named));
  return shapes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(guard_pages)

BOOST_AUTO_TEST_CASE(guarded_buffers_are_flush_against_inaccessible_pages) {
  const std::size_t page = GuardedBuffer::page_size();
  for (std::size_t count : {0u, 1u, 3u, 1024u, 1025u, 5000u}) {
    GuardedBuffer trailing(count, GuardSide::trailing);
    BOOST_TEST(static_cast<const void*>(trailing.data() + count) == trailing.trailing_guard());
    GuardedBuffer leading(count, GuardSide::leading);
    BOOST_TEST(static_cast<const void*>(leading.data()) ==
               static_cast<const std::uint8_t*>(leading.leading_guard()) + page);
    // The guards really are inaccessible and the data pages are not.
    BOOST_TEST(memory_permissions(trailing.trailing_guard()) == "---p");
    BOOST_TEST(memory_permissions(leading.leading_guard()) == "---p");
    if (count) {
      trailing.data()[count - 1] = 1.0f;
      leading.data()[0] = 1.0f;
      BOOST_TEST(memory_permissions(trailing.data()) == "rw-p");
    }
    if (count) {
      trailing.make_read_only();
      BOOST_TEST(memory_permissions(trailing.data()) == "r--p");
    }
  }
  GuardedBuffer aligned(3, GuardSide::trailing, 64);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(aligned.data()) % 64 == 0u);
  BOOST_TEST(aligned.unguarded_gap_bytes() == 64u - 12u);

  // guarded_allocate / guarded_free round trip, as the operator new[] replacement uses it.
  for (std::size_t bytes : {0u, 4u, 100u, 4096u, 4100u}) {
    void* p = guarded_allocate(bytes, 64);
    BOOST_REQUIRE(p != nullptr);
    BOOST_TEST(reinterpret_cast<std::uintptr_t>(p) % 64 == 0u);
    std::fill_n(static_cast<unsigned char*>(p), bytes, 0xAB);
    guarded_free(p, bytes, 64);
  }
}

// The failure signal itself: touching one float past either end kills the process.
BOOST_AUTO_TEST_CASE(one_float_past_either_end_faults) {
  auto faults = [](auto&& access) {
    const pid_t child = ::fork();
    if (child == 0) {
      // Boost.Test's own handler would turn the fault into a report and go on running the
      // rest of the module in the child; the default action ends the child.
      std::signal(SIGSEGV, SIG_DFL);
      std::signal(SIGBUS, SIG_DFL);
      access();
      ::_exit(0);
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
  };
  GuardedBuffer trailing(10, GuardSide::trailing);
  GuardedBuffer leading(10, GuardSide::leading);
  BOOST_TEST(faults([&] { static_cast<volatile float*>(trailing.data())[10] = 1.0f; }));
  BOOST_TEST(faults([&] { (void)static_cast<volatile float*>(trailing.data())[10]; }));
  BOOST_TEST(faults([&] { (void)static_cast<volatile float*>(leading.data())[-1]; }));
  GuardedBuffer read_only(10, GuardSide::trailing);
  read_only.make_read_only();
  BOOST_TEST(faults([&] { static_cast<volatile float*>(read_only.data())[0] = 1.0f; }));
  BOOST_TEST(!faults([&] { (void)static_cast<volatile float*>(read_only.data())[9]; }));
}

BOOST_AUTO_TEST_CASE(packed_weights_are_guarded) {
  const ConvShape s = ConvSpec::parse("c=3,h=8,w=8,oc=5,k=3,p=same").resolve();
  for (const JitTarget& target : all_targets()) {
    const std::string backend = target.name();
    Jit jit(target.options());
    auto kernel = jit.compile(s);
    const auto w = random_floats(static_cast<std::size_t>(s.weight_elems()), 1);
    const std::size_t before = g_guarded_allocations.load();
    PackedWeights packed;
    {
      GuardLibraryAllocations guard;
      packed = kernel->pack_weights(w.data(), nullptr);
    }
    BOOST_TEST(g_guarded_allocations.load() > before,
               backend << ": pack_weights did not allocate through aligned "
                                     "operator new[]; the packed weights are no longer guarded");
    // The last packed float ends within 64 bytes of an inaccessible page.
    const auto end = reinterpret_cast<std::uintptr_t>(packed.data() + packed.size());
    const std::size_t page = GuardedBuffer::page_size();
    BOOST_TEST((page - end % page) % page < 64u, backend);
  }
}

BOOST_AUTO_TEST_CASE(every_backend_stays_inside_its_buffers) {
  const auto shapes = guard_shapes();
  BOOST_TEST_MESSAGE("guard-page test: " << shapes.size() << " shapes x "
                                         << all_targets().size() << " backends x 2 sides");
  BOOST_REQUIRE_GE(shapes.size(), 300u * std::min(1.0, test_scale()));

  // The reference output of each shape, computed once (the oracle reads plain vectors).
  struct Case {
    std::vector<float> src, weights, bias, expected;
  };
  std::vector<Case> cases(shapes.size());
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    const ConvShape& s = shapes[i].second;
    Case& c = cases[i];
    c.src = random_floats(static_cast<std::size_t>(s.src_elems()), 3 * i);
    c.weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 3 * i + 1);
    c.bias = random_floats(static_cast<std::size_t>(s.oc), 3 * i + 2);
    c.expected.resize(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, c.src.data(), c.weights.data(), s.bias ? c.bias.data() : nullptr,
                   c.expected.data());
  }

  for (const JitTarget& target : all_targets()) {
    const Backend backend = target.backend;
    Jit jit(target.options());
    for (std::size_t i = 0; i < shapes.size(); ++i) {
      const auto& [name, s] = shapes[i];
      const Case& c = cases[i];
      // Reference-backend runs of the large benchmark shapes take seconds each and add no
      // boundary coverage over the small shapes: one side is enough for them.
      const bool large = s.flops() > 5e7;
      auto kernel = jit.compile(s);
      for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
        if (large && backend == Backend::reference && side == GuardSide::leading) continue;
        BOOST_TEST_CONTEXT(name << " = " << s.to_string() << ", backend " << target.name()
                                << ", buffers " << side_name(side)) {
          const GuardedBuffer src = guarded_copy(c.src, side);
          const GuardedBuffer weights = guarded_copy(c.weights, side);
          const GuardedBuffer bias = guarded_copy(c.bias, side);
          GuardedBuffer dst(c.expected.size(), side);
          dst.fill(std::numeric_limits<float>::quiet_NaN());  // unwritten outputs fail

          PackedWeights packed;
          {
            GuardLibraryAllocations guard;
            // Without bias, every other shape passes nullptr (allowed) instead of the buffer.
            const float* b = (!s.bias && i % 2) ? nullptr : bias.data();
            packed = kernel->pack_weights(weights.data(), b);
          }
          // Most runs on one thread; every fifth on two, so the row split is guarded too.
          const int threads = (i % 5 == 4 && s.n * s.out_h >= 2) ? 2 : 1;
          kernel->run(src.data(), packed, dst.data(), threads);

          const double err = max_abs_error(dst.data(), c.expected.data(), c.expected.size());
          const double bound = tolerance(s, kernel->algorithm(), c.expected);
          BOOST_TEST(err <= bound, "max |error| " << err << " > " << bound << " (threads "
                                                  << threads << ", " << kernel->name() << ")");
        }
      }
    }
  }
}

namespace {

// Random src, weights and bias for a shape (seeds 1, 2, 3) and the reference's output.
struct Oracle {
  std::vector<float> src, weights, bias, expected;
};

Oracle oracle_for(const ConvShape& s) {
  Oracle o;
  o.src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
  o.weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
  o.bias = random_floats(static_cast<std::size_t>(s.oc), 3);
  o.expected.assign(static_cast<std::size_t>(s.dst_elems()), 0.0f);
  reference_conv(s, o.src.data(), o.weights.data(), o.bias.data(), o.expected.data());
  return o;
}

// Runs the kernel with every buffer flush against a guard on `side` (src read-only, the
// outputs NaN and the gaps between strided pixels 0, as they must stay) and checks its output.
void check_guarded_run(const Kernel& kernel, const ConvShape& s, const Oracle& o, GuardSide side, int threads) {
  GuardedBuffer src = guarded_copy(o.src, side);
  src.make_read_only();
  const GuardedBuffer weights = guarded_copy(o.weights, side);
  const GuardedBuffer bias = guarded_copy(o.bias, side);
  GuardedBuffer dst(o.expected.size(), side);
  dst.fill(0.0f);
  for (std::size_t e = 0; e < o.expected.size(); ++e)
    if (is_output_element(s, static_cast<std::int64_t>(e))) dst.data()[e] = std::numeric_limits<float>::quiet_NaN();
  PackedWeights packed;
  {
    GuardLibraryAllocations guard;
    packed = kernel.pack_weights(weights.data(), bias.data());
  }
  kernel.run(src.data(), packed, dst.data(), threads);
  const double err = max_abs_error(dst.data(), o.expected.data(), o.expected.size());
  BOOST_TEST(err <= tolerance(s, kernel.algorithm(), o.expected), "max |error| " << err << " (" << kernel.name() << ")");
}

}  // namespace

BOOST_AUTO_TEST_CASE(winograd_kernels_stay_inside_their_buffers) {
  // Border tiles read only the image's own pixels and partial edge tiles store only theirs,
  // at every tile size, on every JIT backend and ISA (generic and reference stay direct).
  for (const char* spec : {"c=8,h=13,w=11,oc=8,k=3,p=same,algo=winograd_f2",
                           "c=3,h=6,w=6,oc=5,k=3,p=0,algo=winograd_f4",
                           "c=17,h=9,w=10,oc=9,k=3,pt=2,pb=0,pl=1,pr=2,algo=winograd_f6",
                           "c=5,h=7,w=9,oc=6,k=3,p=1,layout=nchw,algo=winograd_f4",
                           "n=2,c=16,h=8,w=8,oc=12,k=3,p=same,dst_stride=20,algo=winograd_f4"}) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    const Oracle oracle = oracle_for(s);
    for (const JitTarget& target : jit_targets()) {
      Jit jit(target.options());
      auto kernel = jit.get(s);
      for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
        BOOST_TEST_CONTEXT(spec << ", backend " << target.name() << ", buffers " << side_name(side)) {
          check_guarded_run(*kernel, s, oracle, side, 1);
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(every_memory_variant_stays_inside_its_buffers) {
  // Staged, banded and input-channel-pass kernels (the planner's direct memory variants), on
  // both JIT backends at every instruction set, with a band budget small enough that these
  // shapes get bands and passes; partial last channel blocks, groups, depthwise, strides,
  // pixel strides.
  const char* previous = std::getenv("CONVJIT_BAND_BYTES");
  const std::string restore = previous ? previous : "";
  ::setenv("CONVJIT_BAND_BYTES", "24576", 1);
  static const auto llvm_session = make_backend_session(Backend::llvm);
  int passes = 0, bands = 0, staged = 0;
  for (const char* spec : {"n=2,c=96,h=13,w=11,oc=101,k=3,p=1,act=silu",
                           "c=256,h=9,w=7,oc=200,k=1",
                           "n=2,c=128,h=15,w=9,oc=112,g=2,k=3,s=2,p=1,layout=nchw",
                           "c=192,h=11,w=13,oc=99,k=1,src_stride=200,dst_stride=101",
                           "n=2,c=7,h=17,w=10,oc=19,k=5,s=2,p=2,layout=nchw",
                           "c=8,h=23,w=11,oc=40,k=3,p=1",
                           "n=2,c=40,h=21,w=17,oc=40,g=40,k=3,s=2,p=1,act=hardswish"}) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    const Oracle oracle = oracle_for(s);
    for (const JitTarget& target : jit_targets())
      for (const DirectMemory memory : direct_memory_variants(s, target.isa)) {
        const KernelPlan plan = make_direct_plan(s, target.isa, memory);
        passes += plan.ic_passes > 1;
        bands += plan.work.band_units > 0;
        staged += plan.stages_nchw();
        const auto kernel = make_kernel(
            std::make_shared<const KernelPlan>(plan),
            make_code(plan, target.backend, target.backend == Backend::llvm ? llvm_session.get() : nullptr), 0, 1);
        for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
          BOOST_TEST_CONTEXT(spec << ", " << plan.name << ", backend " << target.name() << ", buffers "
                                  << side_name(side)) {
            check_guarded_run(*kernel, s, oracle, side, 2);
          }
        }
      }
  }
  if (previous) ::setenv("CONVJIT_BAND_BYTES", restore.c_str(), 1);
  else ::unsetenv("CONVJIT_BAND_BYTES");
  BOOST_TEST(passes > 0);
  BOOST_TEST(bands > 0);
  BOOST_TEST(staged > 0);
}

BOOST_AUTO_TEST_CASE(strided_slices_and_residuals_stay_inside_their_buffers) {
  // The engine's buffers: a src slice of a wider tensor, a dst slice of a concatenation, a
  // residual beside dst (read-only) or dst itself. Each buffer's true extent (the last
  // pixel's channels) is flush against a guard, and nothing between the slices changes.
  RandomShapeLimits limits;
  limits.max_flops = 3e5;
  limits.layout = Layout::nhwc;
  std::mt19937_64 rng(20261202);
  const int count = std::max(20, static_cast<int>(std::lround(120 * test_scale())));
  constexpr float gap = -777.25f;
  for (int i = 0; i < count; ++i) {
    ConvShape s = with_random_engine_options(random_shape(rng, limits), rng);
    if (i % 3 == 0) s = with_pixel_strides(s, s.c + 1 + i % 5, s.oc + 2 + i % 3);
    const auto src_values = random_floats(static_cast<std::size_t>(s.src_elems()), 5 * i);
    const auto weights_values = random_floats(static_cast<std::size_t>(s.weight_elems()), 5 * i + 1);
    const auto residual_values = random_floats(static_cast<std::size_t>(s.dst_elems()), 5 * i + 2);
    const bool in_place = s.add_residual && i % 2 == 0;
    std::vector<float> expected(static_cast<std::size_t>(s.dst_elems()), gap);
    if (in_place) expected = residual_values;
    reference_conv(s, src_values.data(), weights_values.data(), nullptr, expected.data(),
                   s.add_residual ? residual_values.data() : nullptr);
    for (const JitTarget& target : all_targets()) {
      Jit jit(target.options());
      auto kernel = jit.get(s);
      for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
        BOOST_TEST_CONTEXT(s.to_string() << ", backend " << target.name() << ", buffers "
                                         << side_name(side) << (in_place ? ", in place" : "")) {
          const GuardedBuffer src = guarded_copy(src_values, side);
          const GuardedBuffer weights = guarded_copy(weights_values, side);
          const GuardedBuffer residual = guarded_copy(residual_values, side);
          GuardedBuffer dst(expected.size(), side);
          if (in_place) {
            dst.assign(residual_values.data(), residual_values.size());
          } else {
            dst.fill(gap);
            for (std::size_t e = 0; e < expected.size(); ++e)
              if (is_output_element(s, static_cast<std::int64_t>(e)))
                dst.data()[e] = std::numeric_limits<float>::quiet_NaN();
          }
          PackedWeights packed;
          {
            GuardLibraryAllocations guard;
            packed = kernel->pack_weights(weights.data(), nullptr);
          }
          RunOptions options;
          options.threads = i % 4 == 3 ? 2 : 1;
          if (s.add_residual) options.residual = in_place ? dst.data() : residual.data();
          kernel->run(src.data(), packed, dst.data(), options);
          double err = 0;
          bool gaps_intact = true;
          for (std::size_t e = 0; e < expected.size(); ++e) {
            if (is_output_element(s, static_cast<std::int64_t>(e)))
              err = std::max(err, max_abs_error(dst.data() + e, expected.data() + e, 1));
            else
              gaps_intact = gaps_intact && dst.data()[e] == expected[e];
          }
          const double bound = tolerance(s, kernel->algorithm(), expected);
          BOOST_TEST(err <= bound, "max |error| " << err << " > " << bound << " (" << kernel->name() << ")");
          BOOST_TEST(gaps_intact, "a float between the output slices changed");
        }
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
