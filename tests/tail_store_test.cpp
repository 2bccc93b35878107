// Partial vectors (channel tails, the last columns of a width-vector row) are written with
// exactly their lanes: on AVX2 as plain narrow stores the schedule lists (vmaskmovps stores
// are slow on AMD Zen), on AVX-512 with opmasks. Every neighbouring float keeps its bits.
#define BOOST_TEST_MODULE tail_stores
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "generator/kernel_code.hpp"
#include "generator/kernel_schedule.hpp"
#include "generator/plan.hpp"
#include "generator/vector_store.hpp"
#include "generator/winograd_schedule.hpp"
#include "runtime/disassembler.hpp"
#include "runtime/kernel_state.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

// A NaN with a payload no arithmetic produces: a float that still holds it was never written.
const float kCanary = std::bit_cast<float>(0x7fc0beefu);
constexpr std::size_t kMargin = 64;  // canary floats before and after the output

bool is_canary(float v) { return std::bit_cast<std::uint32_t>(v) == 0x7fc0beefu; }

std::vector<JitTarget> targets_at(Isa isa) {
  std::vector<JitTarget> targets;
  const auto backends = available_backends();
  for (Backend b : {Backend::xbyak, Backend::llvm})
    if (std::find(backends.begin(), backends.end(), b) != backends.end())
      targets.push_back({b, isa});
  return targets;
}
std::vector<JitTarget> avx2_targets() { return targets_at(Isa::avx2); }

// Shapes whose every partial vector has `n` lanes, one per kind of tail: an oc-vector
// channel tail (alone and after a full block, dense and with strided output pixels, with a
// residual), a depthwise channel tail, and the last columns of width-vector rows (NCHW, and
// NHWC with one channel), and Winograd output tails.
std::vector<std::string> tail_specs(int n) {
  const std::string oc = std::to_string(n), oc8 = std::to_string(8 + n);
  const std::string w8 = std::to_string(8 + n + 2);  // 3×3 valid: 8 + n output columns
  std::vector<std::string> specs = {
      "c=3,h=5,w=6,oc=" + oc + ",k=3,p=1",
      "c=5,h=4,w=7,oc=" + oc8 + ",k=3,p=1",
      "c=4,h=5,w=5,oc=" + oc + ",k=3,p=1,dst_stride=" + std::to_string(n + 3),
      "c=4,h=5,w=5,oc=" + oc8 + ",k=1,dst_stride=" + std::to_string(8 + n + 5) + ",add=1",
      "c=1,h=28,w=28,oc=" + oc + ",k=3,s=3,p=1",
      "c=" + oc8 + ",h=5,w=6,oc=" + oc8 + ",g=" + oc8 + ",k=3,p=1",
      "c=" + oc + ",h=5,w=6,oc=" + oc + ",g=" + oc + ",k=3,p=1,dst_stride=" + std::to_string(n + 1),
      "c=1,h=4,w=" + w8 + ",oc=1,k=3,layout=nchw",
      "c=2,h=4,w=" + w8 + ",oc=3,k=3,layout=nchw,add=1",
      "c=1,h=4,w=" + w8 + ",oc=1,k=3",
  };
  // Both JIT backends generate Winograd kernels, whose output tails follow oc_tail_store.
  specs.push_back("c=4,h=8,w=8,oc=" + oc8 + ",k=3,p=1,algo=winograd_f2");
  specs.push_back("c=4,h=8,w=8,oc=" + oc + ",k=3,p=1,algo=winograd_f4,add=1,dst_stride=" +
                  std::to_string(n + 2));
  return specs;
}

// Runs the shape into a canary-filled buffer with kMargin floats of canary on either side,
// then checks each output against the reference and that every other float kept the canary.
void check_writes_exactly_the_outputs(const ConvShape& s, const JitTarget& target) {
  const auto src = random_floats(static_cast<std::size_t>(s.src_elems()), 1);
  const auto weights = random_floats(static_cast<std::size_t>(s.weight_elems()), 2);
  const auto bias = random_floats(static_cast<std::size_t>(s.oc), 3);
  const auto residual = random_floats(static_cast<std::size_t>(s.dst_elems()), 4);
  const std::size_t count = static_cast<std::size_t>(s.dst_elems());
  std::vector<float> expected(count, 0.0f);
  reference_conv(s, src.data(), weights.data(), s.bias ? bias.data() : nullptr, expected.data(),
                 s.add_residual ? residual.data() : nullptr);

  Jit jit(target.options());
  const auto kernel = jit.compile(s);
  const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
  std::vector<float> buffer(kMargin + count + kMargin, kCanary);
  float* dst = buffer.data() + kMargin;
  RunOptions options;
  if (s.add_residual) options.residual = residual.data();
  kernel->run(src.data(), packed, dst, options);

  const double bound = tolerance(s, kernel->algorithm(), expected);
  double worst = 0;
  std::size_t touched = 0, unwritten = 0;
  for (std::size_t i = 0; i < buffer.size(); ++i) {
    const bool inside = i >= kMargin && i < kMargin + count;
    if (inside && is_output_element(s, static_cast<std::int64_t>(i - kMargin))) {
      if (is_canary(buffer[i])) ++unwritten;
      else worst = std::max(worst, static_cast<double>(std::fabs(buffer[i] - expected[i - kMargin])));
    } else if (!is_canary(buffer[i])) {
      ++touched;
    }
  }
  BOOST_TEST(unwritten == 0u, unwritten << " outputs never written (" << kernel->name() << ")");
  BOOST_TEST(touched == 0u, touched << " floats outside the outputs changed (" << kernel->name() << ")");
  BOOST_TEST(worst <= bound, "max |error| " << worst << " > " << bound << " (" << kernel->name() << ")");

  // The last pixel's tail flush against an inaccessible page: one float more faults.
  GuardedBuffer guarded(count, GuardSide::trailing);
  guarded.fill(kCanary);
  kernel->run(src.data(), packed, guarded.data(), options);
  bool same = true;
  for (std::size_t i = 0; i < count; ++i)
    same = same && std::memcmp(&guarded.data()[i], &dst[i], sizeof(float)) == 0;
  BOOST_TEST(same, "the guarded run differs from the canary run (" << kernel->name() << ")");
}

void check_tails_of(int n, Isa isa = Isa::avx2) {
  for (const JitTarget& target : targets_at(isa))
    for (const std::string& spec : tail_specs(n)) {
      BOOST_TEST_CONTEXT(spec << ", " << target.name()) {
        check_writes_exactly_the_outputs(ConvSpec::parse(spec).resolve(), target);
      }
    }
}

int popcount_lanes(const VectorStore& store) {
  int lanes = 0;
  for (const StorePiece& p : store.pieces) lanes += p.lanes;
  return lanes;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(schedule)

BOOST_AUTO_TEST_CASE(avx2_tails_are_planned_as_aligned_pieces_covering_exactly_their_lanes) {
  for (int n = 1; n < 8; ++n) {
    const VectorStore store = make_vector_store(Isa::avx2, 8, first_lanes(n, 8));
    BOOST_TEST((store.kind == StoreKind::pieces), n);
    BOOST_TEST(popcount_lanes(store) == n);
    BOOST_TEST(store.pieces.size() <= 3u);
    std::uint32_t covered = 0;
    for (const StorePiece& p : store.pieces) {
      BOOST_TEST((p.lanes == 1 || p.lanes == 2 || p.lanes == 4), n);
      BOOST_TEST(p.first_lane % p.lanes == 0, n);  // never across the ymm halves
      const std::uint32_t bits = first_lanes(p.lanes, 8) << p.first_lane;
      BOOST_TEST((covered & bits) == 0u, n);       // each lane written once
      covered |= bits;
    }
    BOOST_TEST(covered == first_lanes(n, 8), n);
  }
}

BOOST_AUTO_TEST_CASE(full_vectors_store_whole_and_avx512_tails_keep_opmasks) {
  BOOST_TEST((make_vector_store(Isa::avx2, 8, 0xFFu).kind == StoreKind::whole));
  BOOST_TEST((make_vector_store(Isa::avx512, 16, 0xFFFFu).kind == StoreKind::whole));
  for (int n = 1; n < 16; ++n)
    BOOST_TEST((make_vector_store(Isa::avx512, 16, first_lanes(n, 16)).kind == StoreKind::masked));
  // The ymm plan of an AVX-512 target has opmasks too.
  BOOST_TEST((make_vector_store(Isa::avx512, 8, 0x7u).kind == StoreKind::masked));
  BOOST_TEST((make_vector_store(Isa::neon, 4, 0x7u).kind == StoreKind::masked));
}

BOOST_AUTO_TEST_CASE(a_lane_set_that_is_not_a_prefix_is_refused) {
  BOOST_CHECK_THROW(make_vector_store(Isa::avx2, 8, 0x6u), Error);
  BOOST_CHECK_THROW(make_vector_store(Isa::avx2, 8, 0u), Error);
  BOOST_CHECK_THROW(make_vector_store(Isa::avx2, 8, 0x1FFu), Error);
}

BOOST_AUTO_TEST_CASE(schedules_carry_the_tail_store_of_channel_and_width_tails) {
  const KernelSchedule channels =
      make_schedule(make_plan(ConvSpec::parse("c=3,h=6,w=6,oc=13,k=3").resolve(), Isa::avx2));
  BOOST_TEST((channels.channel_tail.kind == StoreKind::pieces));
  BOOST_TEST(channels.channel_tail.lanes == 0x1Fu);
  const KernelSchedule width = make_schedule(
      make_plan(ConvSpec::parse("c=1,h=6,w=13,oc=1,k=3,layout=nchw").resolve(), Isa::avx2));
  bool partial = false;
  for (const TileWalk& walk : width.tiles)
    for (const TileStore& st : walk.stores)
      if (st.store.partial()) {
        partial = true;
        BOOST_TEST((st.store.kind == StoreKind::pieces));
        BOOST_TEST(st.store.lanes == 0x7u);  // 11 columns: 8 and 3
      }
  BOOST_TEST(partial);
  const KernelPlan wino = make_plan(
      ConvSpec::parse("c=4,h=8,w=8,oc=11,k=3,p=1,algo=winograd_f2").resolve(), Isa::avx2);
  const WinogradSchedule w = make_winograd_schedule(wino);
  BOOST_TEST((w.oc_tail_store.kind == StoreKind::pieces));
  BOOST_TEST(w.oc_tail_store.lanes == 0x7u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(avx512_kernels)

// Opmask tails, unchanged by the AVX2 pieces, held to the same canaries (ymm plans for the
// few-channel shapes, zmm plans for the others).
BOOST_AUTO_TEST_CASE(avx512_tails_of_one_to_seven_lanes_write_exactly_their_floats,
                     *boost::unit_test::precondition(cpu_runs_avx512)) {
  for (int n = 1; n < 8; ++n) check_tails_of(n, Isa::avx512);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(avx2_kernels)

BOOST_AUTO_TEST_CASE(avx2_tail_of_one_lane_writes_exactly_one_float) { check_tails_of(1); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_two_lanes_writes_exactly_two_floats) { check_tails_of(2); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_three_lanes_writes_exactly_three_floats) { check_tails_of(3); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_four_lanes_writes_exactly_four_floats) { check_tails_of(4); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_five_lanes_writes_exactly_five_floats) { check_tails_of(5); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_six_lanes_writes_exactly_six_floats) { check_tails_of(6); }
BOOST_AUTO_TEST_CASE(avx2_tail_of_seven_lanes_writes_exactly_seven_floats) { check_tails_of(7); }

// Intel syntax puts a store's memory operand first: "vmaskmovps ymmword ptr [rax], ymm1, ymm0".
bool is_masked_store(const std::string& text) {
  if (!text.starts_with("vmaskmovps")) return false;
  const std::size_t comma = text.find(',');
  return text.find("ptr") < comma;
}

BOOST_AUTO_TEST_CASE(avx2_kernels_store_their_tails_without_vmaskmovps) {
  for (const JitTarget& target : avx2_targets()) {
    Jit jit(target.options());
    for (int n = 1; n < 8; ++n)
      for (const std::string& spec : tail_specs(n)) {
        const auto kernel = jit.compile(ConvSpec::parse(spec).resolve());
        const auto code = kernel->state().code->machine_code();
        BOOST_REQUIRE_MESSAGE(!code.empty(), spec << ": no machine code to inspect");
        int masked_stores = 0, instructions = 0;
        for (const auto& insn : disassemble_x86_64_instructions(code, 0)) {
          if (insn.data) continue;
          ++instructions;
          if (is_masked_store(insn.text)) ++masked_stores;
        }
        BOOST_TEST(instructions > 0, spec);
        BOOST_TEST(masked_stores == 0, spec << ", " << target.name() << ": " << kernel->name());
      }
  }
}

BOOST_AUTO_TEST_CASE(the_masked_store_detector_tells_stores_from_loads) {
  BOOST_TEST(is_masked_store("vmaskmovps ymmword ptr [rdx + 32], ymm15, ymm3"));
  BOOST_TEST(!is_masked_store("vmaskmovps ymm3, ymm15, ymmword ptr [rdx + 32]"));
  BOOST_TEST(!is_masked_store("vmovups ymmword ptr [rdx], ymm3"));
}

BOOST_AUTO_TEST_SUITE_END()
