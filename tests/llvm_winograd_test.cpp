// The LLVM backend's Winograd kernels (generator/llvm/llvm_winograd_emitter.cpp) against the
// reference with the Winograd bound (core/tolerance.hpp), at every tile size and instruction
// set this CPU runs: border classes from every padding kind, partial edge tiles, partial
// blocks, channel tails, fused bias/activation/residual, pixel strides, batches, thread
// splits, wide channels; and which backends and instruction sets offer Winograd at all.
#define BOOST_TEST_MODULE llvm_winograd
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/kernel_code.hpp"
#include "generator/plan.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <cstring>
#include <map>
#include <regex>
#include <string>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

constexpr const char* kTileSizes[] = {"winograd_f2", "winograd_f4", "winograd_f6"};

std::vector<JitTarget> llvm_targets() {
  std::vector<JitTarget> out;
  for (const JitTarget& t : jit_targets())
    if (t.backend == Backend::llvm) out.push_back(t);
  return out;
}

ConvShape with_algo(const std::string& spec, const std::string& algo) {
  return ConvSpec::parse(spec + ",algo=" + algo).resolve();
}

// Every shape at every tile size on every LLVM target.
void check_at_every_tile_size(const std::vector<std::string>& specs, std::uint64_t seed) {
  const auto targets = llvm_targets();
  BOOST_REQUIRE(!targets.empty());
  for (const JitTarget& target : targets)
    for (const char* algo : kTileSizes)
      for (const std::string& spec : specs)
        check_backend_matches_reference(with_algo(spec, algo), target, seed++);
}

// The kernel's algorithm by name (Boost.Test prints strings, not the enum).
std::string algorithm_of(const std::shared_ptr<const Kernel>& kernel) {
  return std::string(to_string(kernel->algorithm()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(border_classes)

BOOST_AUTO_TEST_CASE(every_padding_kind_matches_the_reference_at_every_tile_size) {
  check_at_every_tile_size(
      {
          "c=8,h=8,w=8,oc=8,k=3,p=valid",
          "c=8,h=12,w=12,oc=8,k=3,p=same",
          "c=16,h=10,w=10,oc=16,k=3,pt=0,pb=2,pl=2,pr=1",  // asymmetric
          "c=16,h=11,w=9,oc=16,k=3,pt=2,pb=0,pl=0,pr=2",   // asymmetric the other way
          "c=8,h=13,w=13,oc=8,k=3,p=same_lower",
          "c=12,h=4,w=4,oc=12,k=3,p=2",  // tiles whose rows or columns lie mostly in padding
          "c=8,h=3,w=3,oc=8,k=3,p=valid",  // one output pixel: one partial tile
      },
      1);
}

BOOST_AUTO_TEST_CASE(odd_sizes_not_multiple_of_the_tile_store_only_valid_pixels) {
  check_at_every_tile_size(
      {
          "c=8,h=7,w=9,oc=8,k=3,p=same",
          "c=8,h=17,w=5,oc=8,k=3,p=valid",
          "c=8,h=5,w=31,oc=8,k=3,p=1",
          "c=8,h=29,w=23,oc=8,k=3,p=1",
      },
      100);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(channels)

BOOST_AUTO_TEST_CASE(channels_not_multiple_of_the_vector_width_use_tails) {
  check_at_every_tile_size(
      {
          "c=1,h=6,w=6,oc=1,k=3,p=same",
          "c=3,h=7,w=9,oc=5,k=3,p=same",
          "c=17,h=13,w=11,oc=19,k=3,p=same",
          "c=33,h=5,w=15,oc=7,k=3,p=1",
          "c=20,h=9,w=6,oc=36,k=3,p=1",
      },
      200);
}

BOOST_AUTO_TEST_CASE(wide_channels_up_to_512_match_the_reference) {
  check_at_every_tile_size(
      {
          "c=512,h=6,w=6,oc=24,k=3,p=1",
          "c=64,h=8,w=8,oc=512,k=3,p=1",
          "c=256,h=14,w=14,oc=256,k=3,p=1",
      },
      300);
}

BOOST_AUTO_TEST_CASE(several_blocks_per_image_and_a_shorter_last_block_match) {
  // 28x28 at 64 channels is 2 blocks at F(4x4); the ResNet layers' own sizes.
  check_at_every_tile_size(
      {
          "c=64,h=28,w=28,oc=64,k=3,p=1",
          "c=128,h=21,w=19,oc=96,k=3,p=1",
      },
      400);
  for (const char* algo : kTileSizes) {
    const KernelPlan plan = make_plan(with_algo("c=64,h=28,w=28,oc=64,k=3,p=1", algo), Isa::avx2);
    if (std::string(algo) == "winograd_f4") {
      BOOST_TEST(plan.winograd.blocks > 1);
      BOOST_TEST(plan.winograd.last_block_tiles() != plan.winograd.block_tiles);
    }
  }
}

BOOST_AUTO_TEST_CASE(nchw_shapes_run_through_the_staging_transposes) {
  // The kernel computes NHWC; run() transposes NCHW src, residual and dst around it.
  check_at_every_tile_size(
      {
          "c=8,h=10,w=10,oc=8,k=3,p=1,layout=nchw",
          "c=5,h=9,w=13,oc=11,k=3,p=same,layout=nchw,act=relu,add=1",
      },
      450);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fused_epilogue)

BOOST_AUTO_TEST_CASE(bias_and_activations_are_fused_into_the_output_transform) {
  check_at_every_tile_size(
      {
          "c=9,h=12,w=12,oc=10,k=3,p=same,act=relu",
          "c=24,h=11,w=17,oc=40,k=3,p=1,bias=0",
          "c=20,h=10,w=6,oc=20,k=3,p=1,act=clamp:-0.25:0.5",
          "c=16,h=9,w=9,oc=13,k=3,p=valid,bias=0,act=relu",
      },
      500);
}

BOOST_AUTO_TEST_CASE(residual_add_is_fused_with_masked_tails_and_pixel_strides) {
  check_at_every_tile_size(
      {
          "c=8,h=30,w=30,oc=8,k=3,p=1,add=1",
          "c=16,h=9,w=13,oc=21,k=3,p=same,add=1,act=relu",
          "c=13,h=9,w=15,oc=11,k=3,p=1,add=1,src_stride=20,dst_stride=16",
          "c=8,h=10,w=10,oc=8,k=3,p=1,src_stride=24,dst_stride=8",
      },
      600);
}

BOOST_AUTO_TEST_CASE(a_residual_in_place_of_dst_is_read_before_it_is_overwritten) {
  const ConvShape s = with_algo("c=16,h=14,w=14,oc=16,k=3,p=1,add=1,act=relu", "winograd_f4");
  for (const JitTarget& target : llvm_targets()) {
    Jit jit(target.options());
    auto kernel = jit.compile(s);
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 7);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 8);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), 9);
    std::vector<float> dst = random_floats(static_cast<std::size_t>(s.dst_elems()), 10);
    std::vector<float> expected(dst.size());
    reference_conv(s, src.data(), weights.data(), bias.data(), expected.data(), dst.data());
    RunOptions options;
    options.residual = dst.data();
    kernel->run(src.data(), kernel->pack_weights(weights.data(), bias.data()), dst.data(), options);
    BOOST_TEST(max_abs_error(dst, expected) <= tolerance(s, kernel->algorithm(), expected),
               target.name());
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(work_split)

BOOST_AUTO_TEST_CASE(batches_match_the_reference) {
  check_at_every_tile_size(
      {
          "n=3,c=9,h=12,w=12,oc=10,k=3,p=same,act=relu",
          "n=2,c=16,h=7,w=9,oc=16,k=3,p=1,add=1",
      },
      700);
}

BOOST_AUTO_TEST_CASE(every_thread_count_gives_the_same_bits) {
  // Blocks are what threads share; each block's code is the same whichever thread runs it.
  const ConvShape s = with_algo("n=2,c=32,h=28,w=28,oc=32,k=3,p=1,act=relu", "winograd_f4");
  for (const JitTarget& target : llvm_targets()) {
    const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 11);
    const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 12);
    const auto bias = random_floats(static_cast<std::size_t>(s.oc), 13);
    std::vector<float> one;
    for (int threads : {1, 2, 3}) {
      Jit jit(target.options(threads));
      auto kernel = jit.compile(s);
      std::vector<float> dst(static_cast<std::size_t>(s.dst_elems()), -1.0f);
      kernel->run(src.data(), kernel->pack_weights(weights.data(), bias.data()), dst.data(), threads);
      if (threads == 1) one = dst;
      else BOOST_TEST(std::memcmp(one.data(), dst.data(), dst.size() * sizeof(float)) == 0,
                      target.name() << " threads=" << threads);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(availability)

BOOST_AUTO_TEST_CASE(auto_picks_winograd_on_llvm_where_it_does_on_xbyak) {
  const ConvShape s = ConvSpec::parse("c=64,h=56,w=56,oc=64,k=3,p=1").resolve();
  for (Isa isa : available_isas()) {
    Jit xbyak(JitOptions{.backend = Backend::xbyak, .isa = isa, .threads = 1});
    Jit llvm(JitOptions{.backend = Backend::llvm, .isa = isa, .threads = 1});
    const auto by_xbyak = xbyak.compile(s);
    const auto by_llvm = llvm.compile(s);
    BOOST_TEST(algorithm_of(by_llvm) == algorithm_of(by_xbyak), to_string(isa));
    BOOST_TEST(algorithm_of(by_llvm) != "direct", to_string(isa));
  }
}

BOOST_AUTO_TEST_CASE(forced_winograd_on_llvm_compiles_and_auto_stays_direct_when_ineligible) {
  Jit llvm(JitOptions{.backend = Backend::llvm, .threads = 1});
  BOOST_TEST(algorithm_of(llvm.compile(with_algo("c=8,h=8,w=8,oc=8,k=3,p=1", "winograd"))) !=
             "direct");
  // Stride 2: Winograd does not apply, auto takes the direct kernel.
  BOOST_TEST(algorithm_of(llvm.compile(ConvSpec::parse("c=8,h=8,w=8,oc=8,k=3,s=2,p=1").resolve())) ==
             "direct");
}

BOOST_AUTO_TEST_CASE(the_generic_and_reference_backends_refuse_forced_winograd) {
  const ConvShape s = with_algo("c=8,h=8,w=8,oc=8,k=3,p=1", "winograd_f4");
  for (Backend b : available_backends()) {
    if (b != Backend::generic && b != Backend::reference) continue;
    Jit jit(JitOptions{.backend = b, .threads = 1});
    BOOST_TEST(error_field([&] { jit.compile(s); }) == "algo", to_string(b));
    // And auto stays direct there.
    BOOST_TEST(algorithm_of(jit.compile(ConvSpec::parse("c=64,h=56,w=56,oc=64,k=3,p=1").resolve())) ==
                   "direct",
               to_string(b));
  }
}

BOOST_AUTO_TEST_CASE(the_neon_plan_stays_direct_and_refuses_forced_winograd) {
  // The AArch64 cross path compiles neon plans; Winograd kernels are not built for them.
  const ConvShape eligible = ConvSpec::parse("c=64,h=56,w=56,oc=64,k=3,p=1").resolve();
  BOOST_TEST((make_plan(eligible, Isa::neon).strategy != Strategy::winograd));
  BOOST_TEST(error_field([&] { make_plan(with_algo("c=64,h=56,w=56,oc=64,k=3,p=1", "winograd"), Isa::neon); }) ==
             "algo");
  BOOST_TEST(error_field([&] { make_plan(with_algo("c=8,h=8,w=8,oc=8,k=3,p=1", "winograd_f6"), Isa::neon); }) ==
             "algo");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(generated_ir)

BOOST_AUTO_TEST_CASE(the_ir_is_vector_code_of_the_plans_width_with_a_routine_per_class) {
  const ConvShape s = with_algo("c=20,h=13,w=11,oc=20,k=3,p=1,act=relu", "winograd_f4");
  for (const JitTarget& target : llvm_targets()) {
    Jit jit(target.options());
    auto kernel = jit.compile(s);
    const KernelPlan& plan = kernel_plan(*kernel);
    const std::string ir = kernel_code(*kernel).ir();
    const std::string vector = "<" + std::to_string(plan.lanes) + " x float>";
    BOOST_TEST(ir.find(vector) != std::string::npos, target.name());
    BOOST_TEST(ir.find("llvm.x86") == std::string::npos, target.name());
    BOOST_TEST(ir.find("define void @" + plan.name + "(") != std::string::npos, target.name());
    BOOST_TEST(ir.find(plan.name + ".gemm") != std::string::npos, target.name());
    // Top, interior and bottom border classes at least: 3x3 input routines.
    BOOST_TEST(ir.find(plan.name + ".in8") != std::string::npos, target.name());
    BOOST_TEST(ir.find("fmuladd") != std::string::npos, target.name());
  }
}

BOOST_AUTO_TEST_CASE(an_avx2_plan_on_an_avx512_host_keeps_every_routine_to_avx2,
                     *boost::unit_test::precondition(cpu_runs_avx512)) {
  // Each routine is a function of its own: each needs the AVX-512-less features, or the
  // routines an avx2 plan calls would be AVX-512 code.
  Jit jit(JitOptions{.backend = Backend::llvm, .isa = Isa::avx2, .threads = 1});
  const std::string ir =
      kernel_code(*jit.compile(with_algo("c=16,h=12,w=12,oc=16,k=3,p=1", "winograd_f4"))).ir();
  std::map<std::string, std::string> groups;  // attribute group -> its text
  const std::regex group(R"(\nattributes #(\d+) = \{([^}]*)\})");
  for (auto it = std::sregex_iterator(ir.begin(), ir.end(), group); it != std::sregex_iterator(); ++it)
    groups[(*it)[1]] = (*it)[2];
  const std::regex definition(R"(\ndefine [^\n]*@([^(]+)\([^\n]*#(\d+) \{)");
  int definitions = 0;
  for (auto it = std::sregex_iterator(ir.begin(), ir.end(), definition); it != std::sregex_iterator();
       ++it, ++definitions)
    BOOST_TEST(groups[(*it)[2]].find("-avx512f") != std::string::npos, (*it)[1].str());
  BOOST_TEST(definitions > 3);
}

BOOST_AUTO_TEST_SUITE_END()
