// Every JIT backend against the reference: thousands of random shapes, the public benchmark
// shapes, and the courses' worked examples to the exact printed values.
#define BOOST_TEST_MODULE jit_differential
#include <boost/test/unit_test.hpp>

#include "runtime/kernel_state.hpp"
#include "runtime/disassembler.hpp"
#include "generator/kernel_code.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <random>
#include <regex>

using namespace convjit;
using namespace convjit::testing;

namespace {

std::vector<float> run_kernel(const ConvShape& shape, const JitTarget& target,
                              const std::vector<float>& src, const std::vector<float>& weights,
                              const std::vector<float>& bias) {
  Jit jit(target.options());
  auto kernel = jit.compile(shape);
  std::vector<float> dst(static_cast<std::size_t>(shape.dst_elems()), -7.0f);
  kernel->run(src.data(), kernel->pack_weights(weights.data(), bias.data()), dst.data());
  return dst;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(random_shapes)

BOOST_AUTO_TEST_CASE(two_thousand_random_shapes_match_the_reference) {
  const auto targets = jit_targets();
  BOOST_REQUIRE(!targets.empty());
  for (const JitTarget& backend : targets) {
    std::mt19937_64 rng(20261121);
    for (int i = 0; i < 2000; ++i) {
      const ConvShape shape = random_shape(rng);
      check_backend_matches_reference(shape, backend, 1000 + i);
    }
  }
}

BOOST_AUTO_TEST_CASE(wide_channel_counts_that_loop_over_input_channels_match) {
  // Enough input channels that the window no longer unrolls: kh and ic become loops.
  RandomShapeLimits limits;
  limits.max_channels = 300;
  limits.max_spatial = 20;
  limits.max_flops = 8e6;
  for (const JitTarget& backend : jit_targets()) {
    std::mt19937_64 rng(77);
    for (int i = 0; i < 150; ++i) check_backend_matches_reference(random_shape(rng, limits), backend, i);
  }
}

BOOST_AUTO_TEST_CASE(random_shapes_forced_to_winograd_match_with_their_own_bound) {
  // The random shapes Winograd can compute (3x3, stride 1, dilation 1, groups 1, both
  // layouts, every padding kind, engine options), each at the tile size the spec names, on
  // every JIT backend and ISA; check_backend_matches_reference judges with the kernel's bound.
  RandomShapeLimits limits;
  limits.max_kernel = 3;
  limits.max_stride = 1;
  limits.max_dilation = 1;
  limits.allow_groups = false;
  limits.max_flops = 4e6;
  const Algorithm tiles[] = {Algorithm::winograd_f2, Algorithm::winograd_f4, Algorithm::winograd_f6};
  std::mt19937_64 rng(1202);
  int checked = 0;
  while (checked < 36) {
    ConvShape shape = with_random_engine_options(random_shape(rng, limits), rng);
    if (!winograd_ineligibility(shape).empty()) continue;
    ConvSpec spec = ConvSpec::parse(shape.to_string());
    spec.algo = tiles[checked % 3];
    shape = spec.resolve();
    for (const JitTarget& target : jit_targets()) {
      // LLVM compiles a Winograd kernel in 0.15-0.9 s: every fourth shape (all tile sizes
      // in turn) is enough there.
      if (target.backend == Backend::llvm && checked % 4 != 0) continue;
      check_backend_matches_reference(shape, target, 5000 + checked);
    }
    ++checked;
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(edge_shapes)

BOOST_AUTO_TEST_CASE(one_by_one_large_kernel_and_full_padding_shapes_match) {
  const char* specs[] = {
      "c=1,h=1,w=1,oc=1,k=1",
      "c=3,h=1,w=1,oc=5,k=3,p=same",                 // every tap but the centre in padding
      "c=9,h=5,w=5,oc=17,k=11,p=5",                   // kernel larger than the image
      "c=8,h=7,w=9,oc=8,kh=1,kw=7,pl=6,pr=0",         // asymmetric, one-sided
      "c=16,h=33,w=35,oc=24,k=3,s=2,p=same_lower",
      "c=5,h=17,w=19,oc=7,k=3,d=6,p=6",               // dilation 6
      "c=64,h=9,w=9,oc=64,k=1,s=4",
      "c=12,h=12,w=12,oc=12,k=3,g=12,p=1,act=relu",   // depthwise with tail lanes
      "c=20,h=11,w=13,oc=20,k=5,g=20,s=2,p=2,bias=0", // depthwise with stride
      "c=6,h=10,w=10,oc=9,k=3,g=3,p=1,act=clamp:-0.25:0.5",
      "c=1,h=31,w=45,oc=1,k=4,s=3,p=same,layout=nchw",
      "c=7,h=13,w=29,oc=5,k=3,d=2,p=2,layout=nchw",
      "c=4,h=6,w=70,oc=3,kh=2,kw=5,sw=2,pt=1,pb=0,pl=3,pr=1,layout=nchw",
      "c=4,h=4,w=4,oc=4,k=3,g=4,p=1,layout=nchw",
      "n=3,c=2,h=5,w=5,oc=3,k=2,p=valid",
  };
  for (const JitTarget& backend : jit_targets())
    for (const char* spec : specs) {
      BOOST_TEST_CONTEXT(spec) { check_backend_matches_reference(ConvSpec::parse(spec).resolve(), backend, 5); }
    }
}

BOOST_AUTO_TEST_CASE(every_public_benchmark_shape_matches) {
  for (const JitTarget& backend : jit_targets())
    for (const auto& [name, shape] : load_shapes_file(shapes_file_path())) {
      BOOST_TEST_CONTEXT(name) { check_backend_matches_reference(shape, backend, 3); }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(course_examples)

// The 8×8 image with a two-pixel vertical line (columns 3 and 4) and the 3×3 line detector.
std::vector<float> line_image() {
  std::vector<float> img(64, 0.0f);
  for (int y = 0; y < 8; ++y) img[y * 8 + 3] = img[y * 8 + 4] = 1.0f;
  return img;
}
const std::vector<float> kLineDetector = {0, 1, 0, 0, 1, 0, 0, 1, 0};

BOOST_AUTO_TEST_CASE(vertical_line_detector_gives_the_printed_rows) {
  for (const JitTarget& backend : jit_targets()) {
    const auto valid = run_kernel(ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3,bias=0").resolve(), backend,
                                  line_image(), kLineDetector, {0.0f});
    BOOST_REQUIRE_EQUAL(valid.size(), 36u);
    for (int row = 0; row < 6; ++row) {
      const std::vector<float> got(valid.begin() + row * 6, valid.begin() + row * 6 + 6);
      const std::vector<float> want = {0, 0, 3, 3, 0, 0};
      BOOST_TEST(got == want, boost::test_tools::per_element());
    }
    const auto strided = run_kernel(ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3,s=2,bias=0").resolve(),
                                    backend, line_image(), kLineDetector, {0.0f});
    BOOST_REQUIRE_EQUAL(strided.size(), 9u);
    for (int row = 0; row < 3; ++row) {
      const std::vector<float> got(strided.begin() + row * 3, strided.begin() + row * 3 + 3);
      const std::vector<float> want = {0, 3, 0};
      BOOST_TEST(got == want, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(same_padding_keeps_eight_by_eight_with_border_rows_of_two) {
  for (const JitTarget& backend : jit_targets()) {
    const auto same = run_kernel(ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3,p=same,bias=0").resolve(),
                                 backend, line_image(), kLineDetector, {0.0f});
    BOOST_REQUIRE_EQUAL(same.size(), 64u);
    for (int row = 0; row < 8; ++row) {
      const float v = (row == 0 || row == 7) ? 2.0f : 3.0f;  // one kernel row in padding
      const std::vector<float> want = {0, 0, 0, v, v, 0, 0, 0};
      const std::vector<float> got(same.begin() + row * 8, same.begin() + row * 8 + 8);
      BOOST_TEST(got == want, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_CASE(three_by_three_ramp_with_two_by_two_kernel_gives_19_25_37_43) {
  for (const JitTarget& backend : jit_targets()) {
    const auto out = run_kernel(ConvSpec::parse("c=1,h=3,w=3,oc=1,k=2,bias=0").resolve(), backend,
                                {0, 1, 2, 3, 4, 5, 6, 7, 8}, {0, 1, 2, 3}, {0.0f});
    const std::vector<float> want = {19, 25, 37, 43};
    BOOST_TEST(out == want, boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(instruction_sets)

// Instructions of the kernel that only AVX-512 has: zmm, ymm16-31, opmask operands.
int avx512_instructions(const Kernel& kernel) {
  static const std::regex avx512(R"(zmm|[xy]mm(1[6-9]|2[0-9]|3[01])\b|\{k[1-7]\})");
  int count = 0;
  for (const auto& insn : disassemble_x86_64_instructions(kernel_code(kernel).machine_code(), 0))
    if (!insn.data && std::regex_search(insn.text, avx512)) ++count;
  return count;
}

BOOST_AUTO_TEST_CASE(avx2_kernels_contain_no_avx512_instruction_on_any_cpu) {
  // An 8-lane plan on an AVX-512 host: LLVM must not pick EVEX encodings on its own.
  for (const char* spec : {"c=20,h=9,w=9,oc=20,k=3,p=1", "c=12,h=9,w=9,oc=12,g=12,k=3,p=1",
                           "c=2,h=20,w=20,oc=3,k=3,s=2,p=1,layout=nchw"})
    for (Backend backend : {Backend::xbyak, Backend::llvm}) {
      const auto backends = available_backends();
      if (std::find(backends.begin(), backends.end(), backend) == backends.end()) continue;
      Jit jit(JitOptions{.backend = backend, .isa = Isa::avx2, .threads = 1});
      BOOST_TEST(avx512_instructions(*jit.compile(ConvSpec::parse(spec).resolve())) == 0,
                 spec << " " << to_string(backend));
    }
}

BOOST_AUTO_TEST_CASE(avx512_kernels_use_zmm_and_opmask_tails_where_the_cpu_has_them,
                     *boost::unit_test::precondition(testing::cpu_runs_avx512)) {
  // 20 channels: one full zmm block and a 4-lane tail under an opmask.
  const ConvShape shape = ConvSpec::parse("c=20,h=9,w=9,oc=20,k=3,p=1").resolve();
  Jit jit(JitOptions{.backend = Backend::xbyak, .isa = Isa::avx512, .threads = 1});
  const auto kernel = jit.compile(shape);
  BOOST_TEST(kernel->name().find("avx512_zmm") != std::string::npos, kernel->name());
  int zmm_fmas = 0, masked_stores = 0;
  for (const auto& insn : disassemble_x86_64_instructions(kernel_code(*kernel).machine_code(), 0)) {
    if (insn.text.starts_with("vfmadd231ps zmm")) ++zmm_fmas;
    if (insn.text.starts_with("vmovups") && insn.text.find("{k1}") != std::string::npos) ++masked_stores;
  }
  BOOST_TEST(zmm_fmas > 0);
  BOOST_TEST(masked_stores > 0);
}

BOOST_AUTO_TEST_SUITE_END()
