// The LLVM backend against the reference oracle: random shapes over every strategy and code
// path of the plan, every benchmark shape, row ranges and thread splits, guard pages around
// src and dst, concurrent compilation, and what the generated IR may contain.
#define BOOST_TEST_MODULE llvm_backend
#include <boost/test/unit_test.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/plan.hpp"
#include "generator/kernel_code.hpp"
#include "core/reference.hpp"
#include "tests/support/guarded_buffer.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

// The limits of the brief: sizes 1-40, channels 1-40, kernels 1-7, strides 1-4, dilations
// 1-4, every padding kind, groups and depthwise, both layouts, bias and activation on/off.
RandomShapeLimits brief_limits() {
  RandomShapeLimits limits;
  limits.max_batch = 2;
  limits.max_spatial = 40;
  limits.max_channels = 40;
  limits.max_kernel = 7;
  limits.max_stride = 4;
  limits.max_dilation = 4;
  limits.max_flops = 2e6;
  return limits;
}

// The direct kernels, whose code paths this suite pins: the llvm backend also gives eligible
// 3x3 layers to Winograd under algo=auto (tests/llvm_winograd_test.cpp pins those).
Jit& llvm_jit() {
  static Jit jit(JitOptions{.backend = Backend::llvm, .threads = 1, .algo = Algorithm::direct});
  return jit;
}

struct Data {
  std::vector<float> src, weights, bias, expected;
};

ConvShape direct(const ConvShape& shape) {
  ConvSpec spec = ConvSpec::parse(shape.to_string());
  spec.algo = Algorithm::direct;
  return spec.resolve();
}

Data make_data(const ConvShape& shape, std::uint64_t seed) {
  Data d;
  d.src = random_floats(static_cast<std::size_t>(shape.src_elems()), seed);
  d.weights = random_floats(static_cast<std::size_t>(shape.weight_elems()), seed + 1);
  d.bias = random_floats(static_cast<std::size_t>(shape.oc), seed + 2);
  d.expected.resize(static_cast<std::size_t>(shape.dst_elems()));
  reference_conv(shape, d.src.data(), d.weights.data(), shape.bias ? d.bias.data() : nullptr,
                 d.expected.data());
  return d;
}

// src and dst flush against inaccessible pages (after the last float, then before the
// first): a masked lane or a border tap that reads one float outside src faults.
void check_with_guard_pages(const ConvShape& shape, const Kernel& kernel, const Data& d) {
  const PackedWeights packed = kernel.pack_weights(d.weights.data(), d.bias.data());
  for (GuardSide side : {GuardSide::trailing, GuardSide::leading}) {
    GuardedBuffer src(d.src.size(), side), dst(d.expected.size(), side);
    src.assign(d.src.data(), d.src.size());
    src.make_read_only();
    dst.fill(std::numeric_limits<float>::quiet_NaN());
    kernel.run(src.data(), packed, dst.data(), 1);
    const double error = max_abs_error(dst.data(), d.expected.data(), d.expected.size());
    BOOST_TEST(error <= tolerance(shape),
               shape.to_string() << (side == GuardSide::trailing ? " trailing" : " leading")
                                 << " guards: max |error| " << error);
  }
}

// Which of the emitter's code paths a plan exercises (for the coverage assertions).
std::set<std::string> code_paths(const KernelPlan& p) {
  const ConvShape& s = p.shape;
  std::set<std::string> paths{std::string(to_string(p.strategy)), std::string(to_string(s.layout))};
  paths.insert(p.unroll_rows ? "rows unrolled" : "rows looped");
  paths.insert(p.unroll_kh ? "window unrolled" : "kh and ic looped");
  if (std::any_of(p.columns.begin(), p.columns.end(), [](const ColumnTile& c) { return c.repeat > 1; }))
    paths.insert("steady column loop");
  if (std::any_of(p.rows.begin(), p.rows.end(), [&](const RowSegment& r) { return r.kh_begin > 0 || r.kh_end < s.kh; }))
    paths.insert("rows with taps in padding");
  if (std::any_of(p.rows.begin(), p.rows.end(), [](const RowSegment& r) { return r.kh_end <= r.kh_begin; }))
    paths.insert("rows entirely in padding");
  if (p.strategy == Strategy::width_vectors && s.sw > 1) paths.insert("gathers");
  if (p.strategy != Strategy::width_vectors && p.oc_tail_lanes < p.lanes) paths.insert("tail block");
  if (s.groups > 1 && p.strategy != Strategy::depthwise) paths.insert("groups loop");
  if (s.act.kind == ActivationKind::relu) paths.insert("relu");
  if (s.act.kind == ActivationKind::clamp) paths.insert("clamp");
  if (!s.bias) paths.insert("no bias");
  return paths;
}

// leaky_relu (both slopes' branches), hardswish, silu and sigmoid, with and without a residual,
// on a few odd shapes (channel tails, a tail of one, NCHW, no bias), each direct and forced to
// Winograd F(4x4), through the LLVM kernels at `isa`, judged by the tolerance rule of the
// kernel's algorithm (check_backend_matches_reference: tolerance(shape, algo, expected)).
void check_new_activations(Isa isa) {
  const JitTarget target(Backend::llvm, isa);
  std::uint64_t seed = 2000;
  for (const char* base : {"c=19,h=9,w=11,oc=21,k=3,p=1", "c=9,h=7,w=13,oc=17,k=3,p=1,layout=nchw",
                           "c=8,h=6,w=5,oc=11,k=3,p=1,bias=0"})
    for (const char* act : {"leaky_relu:-0.2", "leaky_relu:1.5", "hardswish", "silu", "sigmoid"})
      for (const char* add : {"", ",add=1"})
        for (const char* algo : {"direct", "winograd_f4"}) {
          const std::string spec =
              std::string(base) + ",act=" + act + add + ",algo=" + algo;
          BOOST_TEST_CONTEXT(spec << " " << target.name()) {
            check_backend_matches_reference(ConvSpec::parse(spec).resolve(), target, ++seed);
          }
        }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(differential)

BOOST_AUTO_TEST_CASE(new_activations_match_the_reference_on_both_algorithms) {
  check_new_activations(Isa::avx2);
}

BOOST_AUTO_TEST_CASE(new_activations_match_the_reference_on_both_algorithms_at_avx512,
                     *boost::unit_test::precondition(cpu_runs_avx512)) {
  check_new_activations(Isa::avx512);
}

BOOST_AUTO_TEST_CASE(four_hundred_random_shapes_match_the_reference) {
  std::mt19937_64 rng(0x11f3);
  const RandomShapeLimits limits = brief_limits();
  std::map<std::string, int> covered;
  for (int i = 0; i < 400; ++i) {
    // Direct, so the paths counted below are the ones that ran.
    const ConvShape shape = direct(random_shape(rng, limits));  // redraws shapes that do not resolve
    BOOST_TEST_REQUIRE(shape.flops() <= 2e6);
    check_backend_matches_reference(shape, Backend::llvm, 5000 + i);
    for (const std::string& path : code_paths(make_direct_plan(shape, llvm_jit().isa()))) ++covered[path];
  }
  for (const char* path :
       {"oc_vectors", "depthwise", "width_vectors", "nhwc", "nchw", "rows unrolled",
        "rows looped", "window unrolled", "kh and ic looped", "steady column loop",
        "rows with taps in padding", "gathers", "tail block", "groups loop", "relu", "clamp",
        "no bias"})
    BOOST_TEST(covered[path] > 0, "no random shape exercised: " << path);
  for (const auto& [path, count] : covered) BOOST_TEST_MESSAGE(path << ": " << count << " shapes");
}

BOOST_AUTO_TEST_CASE(random_shapes_stay_inside_src_and_dst) {
  std::mt19937_64 rng(0x9a4d);
  const RandomShapeLimits limits = brief_limits();
  for (int i = 0; i < 120; ++i) {
    const ConvShape shape = random_shape(rng, limits);
    BOOST_TEST_CONTEXT(shape.to_string()) {
      const Data d = make_data(shape, 700 + i);
      check_with_guard_pages(shape, *llvm_jit().compile(shape), d);
    }
  }
}

BOOST_AUTO_TEST_CASE(every_benchmark_shape_matches_in_both_layouts) {
  const auto shapes = load_shapes_file(shapes_file_path());
  BOOST_TEST_REQUIRE(!shapes.empty());
  std::uint64_t seed = 1;
  for (const auto& [name, shape] : shapes) {
    BOOST_TEST_CONTEXT(name) {
      check_backend_matches_reference(shape, Backend::llvm, seed++);
      check_backend_matches_reference(with_layout(shape, Layout::nchw), Backend::llvm, seed++);
    }
  }
}

BOOST_AUTO_TEST_CASE(course_examples_match_exactly) {
  // The 3x3 input 0..8 with the 2x2 kernel [[0,1],[2,3]] gives [[19,25],[37,43]].
  const ConvShape shape = ConvSpec::parse("c=1,h=3,w=3,oc=1,k=2,bias=0").resolve();
  auto kernel = llvm_jit().compile(shape);
  const std::vector<float> src{0, 1, 2, 3, 4, 5, 6, 7, 8}, weights{0, 1, 2, 3};
  std::vector<float> dst(4, -1.0f);
  kernel->run(src.data(), kernel->pack_weights(weights.data(), nullptr), dst.data());
  BOOST_TEST(dst == (std::vector<float>{19, 25, 37, 43}), boost::test_tools::per_element());

  // The vertical-line detector on the 8x8 image with a two-pixel line: rows of [0,0,3,3,0,0]
  // (valid) and [0,3,0] (stride 2).
  std::vector<float> image(64, 0.0f);
  for (int r = 0; r < 8; ++r) image[r * 8 + 3] = image[r * 8 + 4] = 1.0f;
  const std::vector<float> detector{0, 1, 0, 0, 1, 0, 0, 1, 0};
  for (const auto& [spec, row] :
       {std::pair{"c=1,h=8,w=8,oc=1,k=3,bias=0", std::vector<float>{0, 0, 3, 3, 0, 0}},
        std::pair{"c=1,h=8,w=8,oc=1,k=3,s=2,bias=0", std::vector<float>{0, 3, 0}}}) {
    const ConvShape s = ConvSpec::parse(spec).resolve();
    auto k = llvm_jit().compile(s);
    std::vector<float> out(static_cast<std::size_t>(s.dst_elems()), -1.0f);
    k->run(image.data(), k->pack_weights(detector.data(), nullptr), out.data());
    for (std::int64_t r = 0; r < s.out_h; ++r) {
      const std::vector<float> got(out.begin() + r * s.out_w, out.begin() + (r + 1) * s.out_w);
      BOOST_TEST(got == row, boost::test_tools::per_element());
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(row_ranges)

BOOST_AUTO_TEST_CASE(any_row_range_writes_exactly_its_rows) {
  // The entry point clips [row_begin, row_end) to each row segment; unrolled-row kernels
  // test each row against the range instead. Every range must write its rows and no others.
  for (const char* spec :
       {"c=1,h=8,w=8,oc=1,k=3,p=same", "c=3,h=11,w=9,oc=10,k=5,p=2,s=2",
        "c=9,h=10,w=12,oc=9,g=9,k=3,p=same_lower,d=2", "c=4,h=13,w=27,oc=3,k=3,p=4,layout=nchw",
        "c=48,h=9,w=9,oc=16,k=3,p=1"}) {
    const ConvShape shape = ConvSpec::parse(spec).resolve();
    BOOST_TEST_CONTEXT(spec) {
      const Data d = make_data(shape, 42);
      auto kernel = llvm_jit().compile(shape);
      const PackedWeights packed = kernel->pack_weights(d.weights.data(), d.bias.data());
      const float* weights = packed.data();
      const float* bias = packed.data() + make_direct_plan(shape, llvm_jit().isa()).packed.weight_floats;
      const std::int64_t plane = shape.out_h * shape.out_w;
      int ranges = 0;
      for (std::int64_t begin = -1; begin <= shape.out_h; ++begin)
        for (std::int64_t end = begin; end <= shape.out_h + 1; ++end) {
          std::vector<float> dst(static_cast<std::size_t>(shape.oc * plane),
                                 std::numeric_limits<float>::quiet_NaN());
          kernel_code(*kernel).call({d.src.data(), weights, bias, dst.data(), begin, end});
          ++ranges;
          for (std::int64_t i = 0; i < shape.oc * plane; ++i) {
            const std::int64_t row = shape.layout == Layout::nhwc ? i / (shape.out_w * shape.oc)
                                                                   : (i % plane) / shape.out_w;
            const bool inside = row >= begin && row < end;
            const float got = dst[static_cast<std::size_t>(i)];
            if (inside ? !(std::fabs(got - d.expected[static_cast<std::size_t>(i)]) <= tolerance(shape))
                       : !std::isnan(got)) {
              BOOST_ERROR("rows [" << begin << "," << end << "): element " << i << " of row "
                                   << row << " is " << got);
              return;
            }
          }
        }
      BOOST_TEST(ranges == (shape.out_h + 3) * (shape.out_h + 4) / 2 - 1);
    }
  }
}

BOOST_AUTO_TEST_CASE(thread_splits_give_identical_results) {
  for (const char* spec : {"n=3,c=16,h=23,w=19,oc=24,k=3,p=same", "n=2,c=2,h=30,w=30,oc=3,k=5,s=2,p=2,layout=nchw",
                           "n=1,c=40,h=17,w=17,oc=40,g=40,k=7,p=3"}) {
    const ConvShape shape = ConvSpec::parse(spec).resolve();
    const Data d = make_data(shape, 3);
    Jit jit(JitOptions{.backend = Backend::llvm, .threads = 1});
    auto kernel = jit.compile(shape);
    const PackedWeights packed = kernel->pack_weights(d.weights.data(), d.bias.data());
    std::vector<float> one(d.expected.size()), many(d.expected.size());
    kernel->run(d.src.data(), packed, one.data(), 1);
    kernel->run(d.src.data(), packed, many.data(), 3);
    BOOST_TEST(one == many, spec);
    BOOST_TEST(max_abs_error(one, d.expected) <= tolerance(shape, kernel->algorithm(), d.expected), spec);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(many_threads_compile_run_and_release_kernels_at_once) {
  // Compiles (each with its own LLVMContext and TargetMachine), links into the one JIT,
  // and releases (ResourceTracker::remove) from eight threads at once, with repeats of the
  // same shape both through a shared cached Jit and through uncached compiles.
  std::vector<ConvShape> shapes;
  std::mt19937_64 rng(31337);
  RandomShapeLimits limits = brief_limits();
  limits.max_flops = 3e5;
  for (int i = 0; i < 12; ++i) shapes.push_back(random_shape(rng, limits));
  Jit shared(JitOptions{.backend = Backend::llvm, .threads = 1});
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 12; ++i) {
        const ConvShape& shape = shapes[static_cast<std::size_t>((i + t) % shapes.size())];
        const Data d = make_data(shape, static_cast<std::uint64_t>(i));
        for (bool cached : {true, false}) {
          std::shared_ptr<const Kernel> kernel = cached ? shared.get(shape) : shared.compile(shape);
          std::vector<float> dst(d.expected.size());
          kernel->run(d.src.data(), kernel->pack_weights(d.weights.data(), d.bias.data()),
                      dst.data(), 1);
          if (!(max_abs_error(dst, d.expected) <= tolerance(shape))) ++failures;
        }
      }
    });
  for (auto& thread : threads) thread.join();
  BOOST_TEST(failures.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_released_kernel_leaves_the_others_working) {
  const ConvShape a = ConvSpec::parse("c=8,h=12,w=12,oc=8,k=3,p=1").resolve();
  const ConvShape b = ConvSpec::parse("c=1,h=16,w=16,oc=2,k=5,p=same").resolve();
  Jit jit(JitOptions{.backend = Backend::llvm, .threads = 1});
  auto keep = jit.compile(a);
  for (int i = 0; i < 50; ++i) jit.compile(b);  // compiled and released at once
  const Data d = make_data(a, 9);
  std::vector<float> dst(d.expected.size());
  keep->run(d.src.data(), keep->pack_weights(d.weights.data(), d.bias.data()), dst.data());
  BOOST_TEST(max_abs_error(dst, d.expected) <= tolerance(a, keep->algorithm(), d.expected));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(generated_code)

BOOST_AUTO_TEST_CASE(the_backend_is_available_and_named_llvm) {
  const auto backends = available_backends();
  BOOST_TEST((std::find(backends.begin(), backends.end(), Backend::llvm) != backends.end()));
  auto kernel = llvm_jit().compile(ConvSpec::parse("c=3,h=8,w=8,oc=4,k=3").resolve());
  BOOST_TEST(kernel->backend() == "llvm");
  BOOST_TEST(!kernel_code(*kernel).machine_code().empty());
  BOOST_TEST(kernel_code(*kernel).entry() != nullptr);
}

BOOST_AUTO_TEST_CASE(the_ir_uses_only_generic_vector_operations) {
  for (const char* spec : {"c=16,h=9,w=9,oc=12,k=3,p=1,act=relu", "c=12,h=9,w=9,oc=12,g=12,k=3,p=1",
                           "c=2,h=20,w=20,oc=3,k=3,s=2,p=1,layout=nchw,act=clamp:-1:1"}) {
    for (Isa isa : available_isas()) {
      const ConvShape shape = ConvSpec::parse(spec).resolve();
      Jit jit(JitOptions{.backend = Backend::llvm, .isa = isa, .threads = 1});
      auto kernel = jit.compile(shape);
      const std::string ir = kernel_code(*kernel).ir();
      const std::string lanes = std::to_string(kernel_plan(*kernel).lanes);
      BOOST_TEST_CONTEXT(spec << " " << to_string(isa)) {
        BOOST_TEST(ir.find("define void @") != std::string::npos);
        BOOST_TEST(ir.find("@llvm.fmuladd.v" + lanes + "f32") != std::string::npos);
        BOOST_TEST(ir.find("<" + lanes + " x float>") != std::string::npos);
        BOOST_TEST(ir.find("llvm.x86") == std::string::npos);
        BOOST_TEST(ir.find("llvm.aarch64") == std::string::npos);
        BOOST_TEST(ir.find(" asm ") == std::string::npos);
        BOOST_TEST(ir.find("sideeffect") == std::string::npos);
      }
    }
  }
  auto ir_of = [](const char* spec) {
    return kernel_code(*llvm_jit().compile(ConvSpec::parse(spec).resolve())).ir();
  };
  const std::string depthwise = ir_of("c=12,h=9,w=9,oc=12,g=12,k=3,p=1");
  BOOST_TEST(depthwise.find("@llvm.masked.load") != std::string::npos);   // the 4-lane tail
  BOOST_TEST(depthwise.find("@llvm.masked.store") != std::string::npos);
  const std::string strided = ir_of("c=1,h=20,w=20,oc=1,k=3,s=2,p=1,layout=nchw");
  BOOST_TEST(strided.find("@llvm.masked.gather") != std::string::npos);
  const std::string relu = ir_of("c=3,h=8,w=8,oc=8,k=3,act=relu");
  BOOST_TEST(relu.find("@llvm.maxnum.v8f32") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
