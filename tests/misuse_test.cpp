// Misuse of the public API: every mistake a host application can make with pointers, packed
// weights, options and hand-made shapes ends in a convjit::Error naming the field — never
// in a crash, a silent wrong answer, or a read of memory the caller did not hand over.
//
// Cases that could crash the process run in a forked child, so one bug fails one check
// instead of the whole module.
#define BOOST_TEST_MODULE misuse
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/plan.hpp"
#include "runtime/backends.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>

using namespace convjit;
using namespace convjit::testing;

namespace {

// Runs f() in a forked child and says how it ended: "error:FIELD" (a convjit::Error),
// "returned", "exception:WHAT" (anything else), or "crashed:..." (a signal — SIGALRM after
// 10 s for a hang — or a sanitizer's non-zero exit).
std::string outcome_in_child(const std::function<void()>& f) {
  int pipe_fd[2];
  BOOST_REQUIRE(::pipe(pipe_fd) == 0);
  const pid_t child = ::fork();
  BOOST_REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fd[0]);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGALRM}) std::signal(sig, SIG_DFL);
    ::alarm(10);  // a kernel stuck in an endless loop ends as "crashed:signal Alarm clock"
    std::string result;
    try {
      f();
      result = "returned";
    } catch (const convjit::Error& e) {
      result = "error:" + e.field();
    } catch (const std::exception& e) {
      result = std::string("exception:") + e.what();
    }
    const ssize_t written = ::write(pipe_fd[1], result.data(), result.size());
    ::_exit(written == static_cast<ssize_t>(result.size()) ? 0 : 3);
  }
  ::close(pipe_fd[1]);
  std::string result;
  char buf[256];
  for (ssize_t n; (n = ::read(pipe_fd[0], buf, sizeof buf)) > 0;) result.append(buf, static_cast<std::size_t>(n));
  ::close(pipe_fd[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  if (WIFSIGNALED(status)) return "crashed:signal " + std::string(strsignal(WTERMSIG(status)));
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    return "crashed:exit " + std::to_string(WEXITSTATUS(status));
  return result;
}

struct Data {
  ConvShape shape;
  std::vector<float> src, weights, bias, dst;
  explicit Data(const ConvShape& s, std::uint64_t seed = 1)
      : shape(s),
        src(random_floats(static_cast<std::size_t>(s.src_elems()), seed)),
        weights(random_floats(static_cast<std::size_t>(s.weight_elems()), seed + 1)),
        bias(random_floats(static_cast<std::size_t>(s.oc), seed + 2)),
        dst(static_cast<std::size_t>(s.dst_elems())) {}
  std::vector<float> expected() const {
    std::vector<float> out(dst.size());
    reference_conv(shape, src.data(), weights.data(), shape.bias ? bias.data() : nullptr, out.data());
    return out;
  }
};

ConvShape shape_of(const char* spec) { return ConvSpec::parse(spec).resolve(); }

const char* kSpec = "n=2,c=5,h=9,w=11,oc=10,k=3,p=same";

}  // namespace

BOOST_AUTO_TEST_SUITE(null_pointers)

BOOST_AUTO_TEST_CASE(null_weights_src_and_dst_are_errors_naming_the_field) {
  const Data d(shape_of(kSpec));
  for (Backend backend : available_backends()) {
    BOOST_TEST_CONTEXT(to_string(backend)) {
      Jit jit(JitOptions{.backend = backend, .threads = 1});
      auto kernel = jit.get(d.shape);
      BOOST_TEST(error_field([&] { (void)kernel->pack_weights(nullptr, d.bias.data()); }) == "weights");
      BOOST_TEST(error_field([&] { (void)kernel->pack_weights(nullptr, nullptr); }) == "weights");
      const PackedWeights packed = kernel->pack_weights(d.weights.data(), nullptr);  // null bias: fine
      std::vector<float> dst(d.dst.size());
      BOOST_TEST(error_field([&] { kernel->run(nullptr, packed, dst.data()); }) == "src");
      BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, nullptr); }) == "dst");
      const std::string both = error_field([&] { kernel->run(nullptr, packed, nullptr); });
      BOOST_TEST((both == "src" || both == "dst"));
      // And with several threads (the checks come before the split).
      BOOST_TEST(error_field([&] { kernel->run(nullptr, packed, dst.data(), 2); }) == "src");
    }
  }
}

BOOST_AUTO_TEST_CASE(default_constructed_packed_weights_are_an_error) {
  const Data d(shape_of(kSpec));
  for (Backend backend : available_backends()) {
    Jit jit(JitOptions{.backend = backend, .threads = 1});
    auto kernel = jit.get(d.shape);
    std::vector<float> dst(d.dst.size(), 42.0f);
    const PackedWeights empty;
    BOOST_TEST(empty.empty());
    BOOST_TEST(error_field([&] { kernel->run(d.src.data(), empty, dst.data()); }) == "weights",
               to_string(backend));
    BOOST_TEST(dst == std::vector<float>(d.dst.size(), 42.0f), "dst touched before the error");
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(foreign_packed_weights)

BOOST_AUTO_TEST_CASE(weights_packed_for_another_shape_are_an_error) {
  // Pairs of shapes that differ in one number each; the pack of the first must not be
  // accepted by the kernel of the second (it has another size or another layout).
  const std::pair<const char*, const char*> pairs[] = {
      {"c=5,h=9,w=9,oc=10,k=3", "c=6,h=9,w=9,oc=10,k=3"},
      {"c=5,h=9,w=9,oc=10,k=3", "c=5,h=9,w=9,oc=16,k=3"},
      {"c=5,h=9,w=9,oc=10,k=3", "c=5,h=9,w=9,oc=10,k=5"},
      {"c=5,h=9,w=9,oc=10,k=3", "c=5,h=9,w=9,oc=10,kh=3,kw=1"},
      {"c=5,h=9,w=9,oc=10,k=3", "c=5,h=9,w=9,oc=10,k=3,layout=nchw"},
      {"c=8,h=9,w=9,oc=8,k=3,g=8", "c=8,h=9,w=9,oc=8,k=3,g=4"},
      {"c=8,h=9,w=9,oc=8,k=3,g=8", "c=8,h=9,w=9,oc=8,k=3"},
      {"c=8,h=9,w=9,oc=8,k=3,bias=0", "c=8,h=9,w=9,oc=16,k=3,bias=1"},
      // (c = oc = 1 in nhwc and nchw is the same memory and the same packing; a stride
      // of 2 makes the nhwc one broadcast channel vectors instead of width vectors.)
      {"c=1,h=9,w=9,oc=1,k=3", "c=1,h=9,w=9,oc=1,k=3,s=2"},
      {"c=64,h=4,w=4,oc=64,k=1", "c=32,h=4,w=4,oc=128,k=1"},  // same weight count
      {"c=3,h=8,w=8,oc=8,k=3", "c=8,h=8,w=8,oc=3,k=3"},        // same weight count
  };
  for (Backend backend : available_backends()) {
    Jit jit(JitOptions{.backend = backend, .threads = 1});
    for (const auto& [a_spec, b_spec] : pairs) {
      BOOST_TEST_CONTEXT(to_string(backend) << ": packed for " << a_spec << ", run on " << b_spec) {
        const Data a(shape_of(a_spec)), b(shape_of(b_spec));
        const PackedWeights packed_a = jit.get(a.shape)->pack_weights(a.weights.data(), a.bias.data());
        auto kernel_b = jit.get(b.shape);
        std::vector<float> dst(b.dst.size());
        BOOST_TEST(error_field([&] { kernel_b->run(b.src.data(), packed_a, dst.data()); }) == "weights");
        // And the other way round.
        const PackedWeights packed_b = kernel_b->pack_weights(b.weights.data(), b.bias.data());
        std::vector<float> dst_a(a.dst.size());
        BOOST_TEST(error_field([&] { jit.get(a.shape)->run(a.src.data(), packed_b, dst_a.data()); }) ==
                   "weights");
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(random_pairs_of_shapes_never_accept_each_others_weights_silently) {
  // Whatever the kernel accepts must be exactly what it would have packed itself.
  RandomShapeLimits limits;
  limits.max_flops = 1e5;
  std::mt19937_64 rng(555);
  Jit jit(JitOptions{.threads = 1, .cache_capacity = 512});
  for (int i = 0; i < 150; ++i) {
    const ConvShape sa = random_shape(rng, limits), sb = random_shape(rng, limits);
    if (sa == sb) continue;
    const Data a(sa, i), b(sb, i + 1000);
    const PackedWeights packed_a = jit.get(sa)->pack_weights(a.weights.data(), a.bias.data());
    std::vector<float> dst(b.dst.size());
    const std::string field = error_field([&] { jit.get(sb)->run(b.src.data(), packed_a, dst.data()); });
    BOOST_TEST(field == "weights", sa.to_string() << " packed, run on " << sb.to_string());
  }
}

BOOST_AUTO_TEST_CASE(weights_packed_by_another_backend_are_rejected_or_correct) {
  // Same shape, kernels of different backends: the reference keeps the user's layout, the
  // others the plan's blocked layout. A pack may be accepted only if the result is right.
  RandomShapeLimits limits;
  limits.max_flops = 1e5;
  std::mt19937_64 rng(77);
  const auto backends = all_targets();
  for (int i = 0; i < 40; ++i) {
    const Data d(random_shape(rng, limits), i);
    const auto expected = d.expected();
    for (const JitTarget& packer : backends)
      for (const JitTarget& runner : backends) {
        if (packer.name() == runner.name()) continue;
        Jit jp(packer.options());
        Jit jr(runner.options());
        const PackedWeights packed = jp.get(d.shape)->pack_weights(d.weights.data(), d.bias.data());
        std::vector<float> dst(d.dst.size(), std::numeric_limits<float>::quiet_NaN());
        const std::string field = error_field([&] { jr.get(d.shape)->run(d.src.data(), packed, dst.data()); });
        if (field.empty())
          BOOST_TEST(max_abs_error(dst, expected) <= tolerance(d.shape),
                     d.shape.to_string() << ": packed by " << packer.name() << ", accepted by "
                                         << runner.name() << " with a wrong result");
        else
          BOOST_TEST(field == "weights");
        if (packer.backend == Backend::reference || runner.backend == Backend::reference)
          BOOST_TEST(field == "weights",
                     "the reference's user-layout pack crossed to "
                         << (packer.backend == Backend::reference ? runner : packer).name());
      }
  }
}

BOOST_AUTO_TEST_CASE(the_same_shape_from_another_jit_accepts_the_pack) {
  // The positive control: packs are tied to the shape and format, not to a kernel object.
  const Data d(shape_of(kSpec));
  const auto expected = d.expected();
  for (Backend backend : available_backends()) {
    Jit one(JitOptions{.backend = backend, .threads = 1});
    Jit two(JitOptions{.backend = backend, .threads = 1});
    const PackedWeights packed = one.get(d.shape)->pack_weights(d.weights.data(), d.bias.data());
    std::vector<float> dst(d.dst.size());
    two.get(d.shape)->run(d.src.data(), packed, dst.data());
    BOOST_TEST(max_abs_error(dst, expected) <= tolerance(d.shape), to_string(backend));
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(overlap)

BOOST_AUTO_TEST_CASE(overlapping_src_and_dst_are_an_error) {
  // oc = c and out = in ('same', stride 1): src and dst have the same size, so every kind of
  // overlap is possible inside one buffer.
  const ConvShape s = shape_of("n=2,c=4,h=6,w=7,oc=4,k=3,p=same");
  const auto n = static_cast<std::ptrdiff_t>(s.src_elems());
  BOOST_REQUIRE_EQUAL(s.src_elems(), s.dst_elems());
  const Data d(s);
  for (Backend backend : available_backends()) {
    BOOST_TEST_CONTEXT(to_string(backend)) {
      Jit jit(JitOptions{.backend = backend, .threads = 1});
      auto kernel = jit.get(s);
      const PackedWeights packed = kernel->pack_weights(d.weights.data(), d.bias.data());
      std::vector<float> buffer(static_cast<std::size_t>(3 * n));
      float* base = buffer.data() + n;
      std::copy(d.src.begin(), d.src.end(), base);
      // dst == src, dst shifted by one float either way, dst ending on src's first float,
      // dst starting on src's last float.
      for (std::ptrdiff_t shift : {std::ptrdiff_t{0}, std::ptrdiff_t{1}, std::ptrdiff_t{-1},
                                   -(n - 1), n - 1}) {
        BOOST_TEST(error_field([&] { kernel->run(base, packed, base + shift); }) == "dst",
                   "dst = src + " << shift);
        BOOST_TEST(error_field([&] { kernel->run(base, packed, base + shift, 2); }) == "dst",
                   "dst = src + " << shift << ", 2 threads");
      }
      // Adjacent on either side is not overlap: allowed, and right.
      const auto expected = d.expected();
      for (std::ptrdiff_t shift : {n, -n}) {
        std::copy(d.src.begin(), d.src.end(), base);
        BOOST_TEST(error_field([&] { kernel->run(base, packed, base + shift); }) == "",
                   "dst = src + " << shift);
        BOOST_TEST(max_abs_error(base + shift, expected.data(), expected.size()) <= tolerance(s));
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(src_larger_than_dst_overlap_is_found_at_both_ends) {
  // A strided shape: dst is much smaller than src.
  const ConvShape s = shape_of("c=3,h=16,w=16,oc=2,k=3,s=4");
  const Data d(s);
  const auto n_src = static_cast<std::ptrdiff_t>(s.src_elems());
  const auto n_dst = static_cast<std::ptrdiff_t>(s.dst_elems());
  Jit jit(JitOptions{.threads = 1});
  auto kernel = jit.get(s);
  const PackedWeights packed = kernel->pack_weights(d.weights.data(), nullptr);
  std::vector<float> buffer(static_cast<std::size_t>(3 * n_src));
  float* src = buffer.data() + n_src;
  for (std::ptrdiff_t at : {std::ptrdiff_t{0}, n_src / 2, n_src - 1, -(n_dst - 1)})
    BOOST_TEST(error_field([&] { kernel->run(src, packed, src + at); }) == "dst", "dst = src + " << at);
  BOOST_TEST(error_field([&] { kernel->run(src, packed, src + n_src); }) == "");
  BOOST_TEST(error_field([&] { kernel->run(src, packed, src - n_dst); }) == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(options)

BOOST_AUTO_TEST_CASE(a_negative_threads_option_is_an_error) {
  for (int threads : {-1, -2, -1000}) {
    BOOST_TEST(error_field([&] { Jit jit(JitOptions{.threads = threads}); }) == "threads");
    for (Backend backend : available_backends())
      BOOST_TEST(error_field([&] { Jit jit(JitOptions{.backend = backend, .threads = threads}); }) ==
                 "threads");
  }
  BOOST_TEST(error_field([&] { Jit jit(JitOptions{.threads = 0}); }) == "");
}

BOOST_AUTO_TEST_CASE(more_than_1024_threads_is_an_error) {
  BOOST_TEST(error_field([&] { Jit jit(JitOptions{.threads = 1025}); }) == "threads");
  const Data d(shape_of(kSpec));
  Jit jit(JitOptions{.threads = 1});
  auto kernel = jit.get(d.shape);
  const PackedWeights packed = kernel->pack_weights(d.weights.data(), nullptr);
  std::vector<float> dst(d.dst.size());
  BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, dst.data(), 1000000); }) == "threads");
  BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, dst.data(), 1024); }) == "");
}

BOOST_AUTO_TEST_CASE(a_negative_threads_argument_to_run_is_an_error) {
  const Data d(shape_of(kSpec));
  Jit jit(JitOptions{.threads = 1});
  auto kernel = jit.get(d.shape);
  const PackedWeights packed = kernel->pack_weights(d.weights.data(), nullptr);
  std::vector<float> dst(d.dst.size());
  BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, dst.data(), -1); }) == "threads");
}

BOOST_AUTO_TEST_CASE(bad_backend_names_and_environment_are_errors) {
  BOOST_TEST(error_field([] { (void)parse_backend("avx512"); }) == "backend");
  BOOST_TEST(error_field([] { (void)parse_backend(""); }) == "backend");
  BOOST_TEST(error_field([] { (void)parse_backend("XBYAK"); }) == "backend");
  // Environment: checked in a child, so this process's environment stays as it was.
  BOOST_TEST(outcome_in_child([] {
               ::setenv("CONVJIT_BACKEND", "fastest", 1);
               Jit jit;
             }) == "error:backend");
  for (const char* bad : {"abc", "0", "-5", "12x"}) {
    BOOST_TEST(outcome_in_child([bad] {
                 ::setenv("CONVJIT_CACHE_CAPACITY", bad, 1);
                 Jit jit;
               }) == "error:CONVJIT_CACHE_CAPACITY",
               "CONVJIT_CACHE_CAPACITY=" << bad);
  }
}

BOOST_AUTO_TEST_CASE(bad_instruction_set_names_and_unsupported_ones_are_errors) {
  BOOST_TEST(error_field([] { (void)parse_isa("sse2"); }) == "isa");
  BOOST_TEST(error_field([] { (void)parse_isa("AVX2"); }) == "isa");
  BOOST_TEST(outcome_in_child([] {
               ::setenv("CONVJIT_ISA", "avx1024", 1);
               Jit jit(JitOptions{.backend = Backend::xbyak});
             }) == "error:isa");
  const auto isas = available_isas();
  if (std::find(isas.begin(), isas.end(), Isa::avx512) == isas.end()) {
    BOOST_TEST_MESSAGE("no AVX-512 on this CPU: asking for it must be an error");
    BOOST_TEST(error_field([] { Jit jit(JitOptions{.backend = Backend::xbyak, .isa = Isa::avx512}); }) == "isa");
  } else {
    Jit jit(JitOptions{.backend = Backend::xbyak, .isa = Isa::avx512});
    BOOST_TEST((jit.isa() == Isa::avx512));
  }
  // The ahead-of-time backends run their own code: asking them for avx512 is an error, and a
  // bad CONVJIT_ISA is one for them too.
  BOOST_TEST((Jit(JitOptions{.backend = Backend::reference}).isa() == Isa::avx2));
  BOOST_TEST(error_field([] { Jit jit(JitOptions{.backend = Backend::reference, .isa = Isa::avx512}); }) == "isa");
  BOOST_TEST(outcome_in_child([] {
               ::setenv("CONVJIT_ISA", "avx1024", 1);
               Jit jit(JitOptions{.backend = Backend::reference});
             }) == "error:isa");
}

// neon kernels are AArch64 code: an x86-64 host compiles them ahead of time (convjit asm
// --target aarch64, the aarch64 test suites) and never hands one to a Jit.
BOOST_AUTO_TEST_CASE(neon_is_an_instruction_set_no_backend_runs_on_this_host) {
  BOOST_TEST((parse_isa("neon") == Isa::neon));
  BOOST_TEST(to_string(Isa::neon) == "neon");
  for (Backend backend : {Backend::xbyak, Backend::llvm, Backend::generic, Backend::reference})
    BOOST_TEST(error_field([backend] { Jit jit(JitOptions{.backend = backend, .isa = Isa::neon}); }) == "isa",
               to_string(backend));
  BOOST_TEST(outcome_in_child([] {
               ::setenv("CONVJIT_ISA", "neon", 1);
               Jit jit(JitOptions{.backend = Backend::llvm});
             }) == "error:isa");
  const KernelPlan neon = make_plan(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3").resolve(), Isa::neon);
  for (Backend backend : {Backend::xbyak, Backend::llvm, Backend::generic})
    BOOST_TEST(error_field([&] { (void)make_code(neon, backend, make_backend_session(backend).get()); }) == "isa",
               to_string(backend));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(hand_made_shapes)

// ConvShape is a public aggregate and Jit::get / Jit::compile take one directly, so a host
// application can hand over numbers that never went through ConvSpec::resolve(). Every such
// shape must be rejected with an Error — not divide by zero, not emit a kernel for a
// negative kernel size, not run a kernel whose output size disagrees with its input.
// Jit::compile re-resolves every shape (ConvShape::validate) before planning it.
BOOST_AUTO_TEST_CASE(shapes_that_resolve_would_reject_are_errors_not_crashes) {
  struct Bad {
    const char* what;
    std::function<void(ConvShape&)> spoil;
  };
  const Bad bad[] = {
      {"groups = 0", [](ConvShape& s) { s.groups = 0; }},
      {"c = 0", [](ConvShape& s) { s.c = 0; }},
      {"oc = 0", [](ConvShape& s) { s.oc = 0; }},
      {"n = -1", [](ConvShape& s) { s.n = -1; }},
      {"kh = -3", [](ConvShape& s) { s.kh = -3; }},
      {"sh = 0", [](ConvShape& s) { s.sh = 0; }},
      {"dw = 0", [](ConvShape& s) { s.dw = 0; }},
      {"c not divisible by groups", [](ConvShape& s) { s.c = 6; s.groups = 4; s.oc = 8; }},
      {"pad_left = -5", [](ConvShape& s) { s.pad_left = -5; }},
      {"out_h larger than the input allows", [](ConvShape& s) { s.out_h = 1000; }},
      {"out_w = 0", [](ConvShape& s) { s.out_w = 0; }},
      {"h = 2^40", [](ConvShape& s) { s.h = s.w = std::int64_t{1} << 40; }},
  };
  const ConvShape good = shape_of("c=4,h=6,w=6,oc=4,k=3,p=same");
  for (Backend backend : available_backends())
    for (const Bad& b : bad) {
      ConvShape s = good;
      b.spoil(s);
      const std::string outcome = outcome_in_child([&] {
        Jit jit(JitOptions{.backend = backend, .threads = 1});
        auto kernel = jit.get(s);
        // Only reached when get() accepted it: give the kernel buffers as large as the
        // untouched shape needs, as a host application would.
        const Data d(good);
        std::vector<float> dst(d.dst.size() * 4);
        kernel->run(d.src.data(), kernel->pack_weights(d.weights.data(), nullptr), dst.data());
      });
      BOOST_TEST(outcome.rfind("error:", 0) == 0,
                 to_string(backend) << ", " << b.what << ": " << outcome);
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(engine_options)

BOOST_AUTO_TEST_CASE(a_residual_that_overlaps_src_is_an_error_naming_the_residual) {
  const ConvShape s = shape_of("c=4,h=6,w=6,oc=4,k=3,p=same,add=1");
  const Data d(s);
  Jit jit;
  auto kernel = jit.get(s);
  const auto packed = kernel->pack_weights(d.weights.data(), nullptr);
  std::vector<float> dst(d.dst.size());
  BOOST_TEST(error_field([&] {
               kernel->run(d.src.data(), packed, dst.data(), RunOptions{.residual = d.src.data() + 3});
             }) == "residual");
  // Partly over dst without being dst.
  std::vector<float> wide(d.dst.size() + 8);
  BOOST_TEST(error_field([&] {
               kernel->run(d.src.data(), packed, wide.data(), RunOptions{.residual = wide.data() + 4});
             }) == "residual");
  // Missing for add=1, given for add=0.
  BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, dst.data()); }) == "residual");
  BOOST_TEST(error_field([&] { kernel->run(d.src.data(), packed, dst.data(), RunOptions{}); }) ==
             "residual");
  auto plain = jit.get(shape_of("c=4,h=6,w=6,oc=4,k=3,p=same"));
  const auto plain_packed = plain->pack_weights(d.weights.data(), nullptr);
  BOOST_TEST(error_field([&] {
               plain->run(d.src.data(), plain_packed, dst.data(), RunOptions{.residual = wide.data()});
             }) == "residual");
}

BOOST_AUTO_TEST_CASE(a_stride_below_the_channels_or_with_nchw_is_an_error_naming_the_key) {
  auto field = [](const char* spec) {
    return error_field([&] { ConvSpec::parse(spec).resolve(); });
  };
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,src_stride=7") == "src_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,dst_stride=4") == "dst_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,src_stride=0") == "src_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,dst_stride=-2") == "dst_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,layout=nchw,src_stride=16") == "src_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,layout=nchw,dst_stride=8") == "dst_stride");
  BOOST_TEST(field("c=8,h=4,w=4,oc=8,k=1,add=2") == "add");
}

BOOST_AUTO_TEST_CASE(a_batch_of_zero_or_less_is_an_error_naming_the_batch) {
  const Data d(shape_of(kSpec));
  Jit jit;
  auto kernel = jit.get(d.shape);
  const auto packed = kernel->pack_weights(d.weights.data(), nullptr);
  std::vector<float> dst(d.dst.size());
  for (std::int64_t batch : {0, -1, -100})
    BOOST_TEST(error_field([&] {
                 kernel->run(d.src.data(), packed, dst.data(), RunOptions{.batch = batch});
               }) == "batch");
  ConvShape negative = d.shape;
  negative.n = 0;
  BOOST_TEST(error_field([&] { jit.get(negative); }) == "n");
}

BOOST_AUTO_TEST_CASE(src_and_dst_overlap_is_judged_on_the_batch_run) {
  // Apart for the default batch of 2, overlapping once the batch is 3.
  const ConvShape s = shape_of(kSpec);
  const Data d(s);
  Jit jit;
  auto kernel = jit.get(s);
  const auto packed = kernel->pack_weights(d.weights.data(), nullptr);
  const std::size_t image_src = static_cast<std::size_t>(s.src_image_floats());
  std::vector<float> buffer(3 * image_src + d.dst.size() * 2);
  float* dst = buffer.data() + 2 * image_src;
  BOOST_TEST(error_field([&] { kernel->run(buffer.data(), packed, dst, RunOptions{}); }) == "");
  BOOST_TEST(error_field([&] {
               kernel->run(buffer.data(), packed, dst, RunOptions{.batch = 3});
             }) == "dst");
}

BOOST_AUTO_TEST_SUITE_END()
