// The LLVM backend's IR is portable: the IR built from a plan compiles, unchanged, for
// AArch64 (NEON fmla), and for an x86-64 without FMA (multiply + add, never a call to fmaf).
// Nothing generated here runs; cross_compile_kernel only produces assembly and objects.
#define BOOST_TEST_MODULE llvm_portability
#include <boost/test/unit_test.hpp>

#include "generator/llvm/llvm_cross_compiler.hpp"
#include "generator/plan.hpp"

#include <convjit/convjit.hpp>

#include <cstdint>
#include <regex>
#include <string>
#include <vector>

using namespace convjit;

namespace {

// One shape per strategy and code path: output-channel vectors with the window unrolled and
// with kh/ic loops, depthwise with a tail block, width vectors (contiguous and gathered),
// groups, activations, and the course's 8x8 example unrolled end to end.
const char* const kShapes[] = {
    "c=1,h=8,w=8,oc=1,k=3",
    "c=16,h=14,w=14,oc=24,k=3,p=same,act=relu",
    "c=64,h=20,w=20,oc=64,k=3,p=1",
    "c=12,h=15,w=15,oc=12,g=12,k=5,p=2",
    "c=3,h=32,w=32,oc=8,k=3,p=1,layout=nchw,act=clamp:0:6",
    "c=2,h=31,w=29,oc=3,k=3,s=2,p=same,layout=nchw",
    "c=8,h=10,w=10,oc=12,g=4,k=3,p=1,bias=0",
};

// Calls to anything but the kernel's own shared row bodies (`NAME.rowK`): fmaf and friends.
std::size_t outside_calls(const std::string& assembly, const std::regex& call) {
  std::size_t calls = 0;
  for (auto it = std::sregex_iterator(assembly.begin(), assembly.end(), call);
       it != std::sregex_iterator(); ++it)
    if (!std::regex_search((*it)[2].str(), std::regex(R"(\.row\d+$)"))) ++calls;
  return calls;
}

std::size_t count(const std::string& text, const std::regex& pattern) {
  return static_cast<std::size_t>(
      std::distance(std::sregex_iterator(text.begin(), text.end(), pattern), std::sregex_iterator()));
}

std::uint16_t elf_machine(const std::vector<std::uint8_t>& object) {
  BOOST_TEST_REQUIRE(object.size() > 20u);
  BOOST_TEST_REQUIRE((object[0] == 0x7f && object[1] == 'E' && object[2] == 'L' && object[3] == 'F'));
  return static_cast<std::uint16_t>(object[18] | (object[19] << 8));  // e_machine, little endian
}

constexpr std::uint16_t kElfAArch64 = 183;
constexpr std::uint16_t kElfX86_64 = 62;

}  // namespace

BOOST_AUTO_TEST_CASE(every_strategy_compiles_to_neon_fmla_for_aarch64) {
  const std::regex vector_fmla(R"(\bfmla\s+v\d+\.4s)");
  const std::regex fmuladd(R"(call <8 x float> @llvm\.fmuladd\.v8f32)");
  const std::regex call(R"(\n\s*(bl|blr)\s+(\S+))");
  for (const char* spec : kShapes) {
    BOOST_TEST_CONTEXT(spec) {
      const KernelPlan plan = make_direct_plan(ConvSpec::parse(spec).resolve());
      const CrossCompiledKernel k = cross_compile_kernel(plan, "aarch64-linux-gnu");
      BOOST_TEST(k.triple.find("aarch64") == 0u);
      BOOST_TEST(elf_machine(k.object) == kElfAArch64);
      // Each <8 x float> multiply-add is two 4-lane NEON fmla (or fmul when folded away).
      const std::size_t fmlas = count(k.assembly, vector_fmla);
      BOOST_TEST(fmlas > 0u);
      BOOST_TEST(fmlas >= count(k.ir, fmuladd));
      BOOST_TEST(outside_calls(k.assembly, call) == 0u, "the kernel calls a function");
      BOOST_TEST(k.ir.find("llvm.x86") == std::string::npos);
      BOOST_TEST(k.ir.find("llvm.aarch64") == std::string::npos);
      BOOST_TEST(k.ir.find(" asm ") == std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(the_same_ir_serves_x86_64_with_and_without_fma) {
  const std::regex vfmadd(R"(\bvfmadd\d+ps\s)");
  const std::regex call(R"(\n\s*(call)\s+(\S+))");
  for (const char* spec : kShapes) {
    BOOST_TEST_CONTEXT(spec) {
      const KernelPlan plan = make_direct_plan(ConvSpec::parse(spec).resolve());
      const CrossCompiledKernel haswell = cross_compile_kernel(plan, "x86_64-linux-gnu", "haswell");
      BOOST_TEST(elf_machine(haswell.object) == kElfX86_64);
      BOOST_TEST(count(haswell.assembly, vfmadd) > 0u);
      // Plain SSE2: llvm.fmuladd becomes mulps + addps; llvm.fma would have called fmaf.
      const CrossCompiledKernel baseline = cross_compile_kernel(plan, "x86_64-linux-gnu", "x86-64");
      BOOST_TEST(count(baseline.assembly, vfmadd) == 0u);
      BOOST_TEST(baseline.assembly.find("mulps") != std::string::npos);
      BOOST_TEST(outside_calls(baseline.assembly, call) == 0u, "the kernel calls a function");
    }
  }
}

BOOST_AUTO_TEST_CASE(an_unknown_target_is_a_convjit_error) {
  const KernelPlan plan = make_direct_plan(ConvSpec::parse("c=1,h=8,w=8,oc=1,k=3").resolve());
  BOOST_CHECK_THROW(cross_compile_kernel(plan, "nonsense-unknown-none"), convjit::Error);
}
