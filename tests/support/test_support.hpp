#pragma once
// Test support shared by every convjit test executable (tests/support/*.cpp are linked into
// each of them): deterministic random data, layout transforms, random shapes, error bounds,
// a fluent shape builder, the benchmark shape list, and the backend-vs-reference check that
// every differential test uses.
#include <convjit/convjit.hpp>

#include <boost/test/unit_test.hpp>

#include "core/tolerance.hpp"

#include <boost/test/tools/assertion_result.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace convjit::testing {

// ------------------------------------------------------------------ tuning

// Every suite runs with CONVJIT_TUNE=off unless its environment sets it: the kernels are the
// cost model's, reproducibly (the ctest environment says the same).
bool tuning_is_off_by_default();

// ------------------------------------------------------------------ random data

// n floats uniform in [-1, 1], deterministic for a given seed (std::mt19937_64).
std::vector<float> random_floats(std::size_t n, std::uint64_t seed);

// ------------------------------------------------------------------ layout transforms
//
// Activations: NHWC is [n][h][w][c], NCHW is [n][c][h][w].
std::vector<float> nhwc_to_nchw(const std::vector<float>& data, std::int64_t n, std::int64_t h,
                                std::int64_t w, std::int64_t c);
std::vector<float> nchw_to_nhwc(const std::vector<float>& data, std::int64_t n, std::int64_t c,
                                std::int64_t h, std::int64_t w);

// The same for the input (src) and output (dst) tensors of a shape (its n, c/oc, h/out_h, ...).
// The shape's own layout field is ignored: these say which direction to go.
std::vector<float> src_nhwc_to_nchw(const ConvShape& s, const std::vector<float>& data);
std::vector<float> src_nchw_to_nhwc(const ConvShape& s, const std::vector<float>& data);
std::vector<float> dst_nhwc_to_nchw(const ConvShape& s, const std::vector<float>& data);
std::vector<float> dst_nchw_to_nhwc(const ConvShape& s, const std::vector<float>& data);

// Weights, with I = c / groups: HWIO is [kh][kw][I][oc] (Keras, used with nhwc), OIHW is
// [oc][I][kh][kw] (PyTorch, used with nchw).
std::vector<float> hwio_to_oihw(const ConvShape& s, const std::vector<float>& data);
std::vector<float> oihw_to_hwio(const ConvShape& s, const std::vector<float>& data);

// A copy of the shape with another layout (everything else unchanged).
ConvShape with_layout(ConvShape s, Layout layout);

// ------------------------------------------------------------------ random shapes

struct RandomShapeLimits {
  std::int64_t max_batch = 2;
  std::int64_t max_spatial = 64;     // h, w in [1, max_spatial]
  std::int64_t max_channels = 70;    // c, oc in [1, max_channels]
  std::int64_t max_kernel = 11;      // kh, kw in [1, max_kernel]
  std::int64_t max_stride = 4;       // sh, sw in [1, max_stride]
  std::int64_t max_dilation = 6;     // dh, dw in [1, max_dilation]
  std::int64_t max_groups = 8;       // g for grouped (non-depthwise) shapes
  double max_flops = 2e6;            // ConvShape::flops() cap, keeps suites fast
  bool allow_groups = true;          // grouped and depthwise shapes
  bool allow_activation = true;      // every activation kind
  std::optional<Layout> layout;      // fixed layout; both when empty
  std::optional<bool> bias;          // fixed bias; both when empty
  int max_attempts = 100000;         // draws before giving up (throws std::runtime_error)
};

// A random shape that resolves and whose flops() <= limits.max_flops. Covers every padding
// kind (valid, same, same_lower, symmetric and asymmetric explicit pads, including pads so
// large that whole output rows see only padding), groups (1, grouped with c and oc multiples
// of g, depthwise g=c=oc, depthwise with a channel multiplier), both layouts, bias on/off,
// act none/relu/clamp/leaky_relu (slopes kRandomLeakyReluSlopes)/hardswish/silu/sigmoid. Sizes are drawn log-uniformly so small shapes are common.
ConvShape random_shape(std::mt19937_64& rng, const RandomShapeLimits& limits = {});
// The leaky_relu slopes random_shape draws: negative, PyTorch's default, usual, above 1.
inline constexpr float kRandomLeakyReluSlopes[] = {-0.5f, 0.01f, 0.2f, 1.5f};

// What an inference engine adds to a layer: a residual (add=1) and, for NHWC, pixel strides
// wider than the channels (a slice of a wider input, a slice of a concatenated output).
struct EngineOptions {
  bool residual = true;
  bool strides = true;
};

// The shape with, drawn at random: add=1 (about half the time) and NHWC src/dst strides of
// the channels plus 1..9 or the channels times 2..4 (each about two times in three).
ConvShape with_random_engine_options(const ConvShape& shape, std::mt19937_64& rng,
                                     EngineOptions options = {});

// The shape's spec with these additions, resolved.
ConvShape with_residual(const ConvShape& shape, bool add = true);
ConvShape with_pixel_strides(const ConvShape& shape, std::int64_t src_stride,
                             std::int64_t dst_stride);

// Whether dst element i (of dst_elems()) is an output rather than a gap between the slices.
bool is_output_element(const ConvShape& shape, std::int64_t i);

// ------------------------------------------------------------------ comparison

// accumulation_length, tolerance and max_abs_error: core/tolerance.hpp.

// ------------------------------------------------------------------ fluent builder

// XNNPACK-style: ConvCase().input(8, 8, 1).output_channels(1).kernel(3).padding_same().shape()
// Defaults: n=1, c=1, h=w=1, oc=1, k=1, s=1, d=1, valid padding, g=1, nhwc, bias, no act.
class ConvCase {
 public:
  ConvCase();

  ConvCase& batch(std::int64_t n);
  ConvCase& input(std::int64_t h, std::int64_t w, std::int64_t c);  // NHWC order
  ConvCase& input_size(std::int64_t h, std::int64_t w);
  ConvCase& input_channels(std::int64_t c);
  ConvCase& output_channels(std::int64_t oc);
  ConvCase& kernel(std::int64_t k);
  ConvCase& kernel(std::int64_t kh, std::int64_t kw);
  ConvCase& stride(std::int64_t s);
  ConvCase& stride(std::int64_t sh, std::int64_t sw);
  ConvCase& dilation(std::int64_t d);
  ConvCase& dilation(std::int64_t dh, std::int64_t dw);
  ConvCase& padding(std::int64_t p);                       // symmetric, all sides
  ConvCase& padding(std::int64_t ph, std::int64_t pw);     // symmetric per axis
  ConvCase& padding(std::int64_t top, std::int64_t bottom, std::int64_t left, std::int64_t right);
  ConvCase& padding_valid();
  ConvCase& padding_same();
  ConvCase& padding_same_lower();
  ConvCase& groups(std::int64_t g);
  ConvCase& depthwise();  // g = c = oc (uses the current c)
  ConvCase& layout(Layout l);
  ConvCase& nchw() { return layout(Layout::nchw); }
  ConvCase& nhwc() { return layout(Layout::nhwc); }
  ConvCase& bias(bool on);
  ConvCase& relu();
  ConvCase& clamp(float lo, float hi);
  ConvCase& leaky_relu(float alpha = 0.01f);
  ConvCase& hardswish();
  ConvCase& silu();
  ConvCase& sigmoid();

  const ConvSpec& spec() const { return spec_; }
  ConvShape shape() const { return spec_.resolve(); }  // throws convjit::Error

 private:
  ConvSpec spec_;
};

// ------------------------------------------------------------------ benchmark shapes

// The bench's shapes-file parser (bench/shapes_file.hpp), the one every reader of the format
// uses: `name N C H W OC KH KW SH SW PH PW DH DW [G [COUNT]]`. Shapes are nhwc with bias.
// Throws convjit::Error (a std::runtime_error) naming the file and line on a malformed line.
std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path);

#ifdef CONVJIT_SHAPES_FILE
inline const char* shapes_file_path() { return CONVJIT_SHAPES_FILE; }
#endif

// The field of the convjit::Error that f() throws; "" when it throws nothing. A thrown error
// must name its field in what() and give a reason (BOOST_TEST).
std::string error_field(const std::function<void()>& f);

// ------------------------------------------------------------------ preconditions

// What a boost::unit_test::precondition returns: `met`, or false with `why_not`. A case
// skipped so must not look passed: it also prints the line ctest reports as skipped
// (SKIP_REGULAR_EXPRESSION in CMakeLists.txt: "convjit-test-skipped: ").
boost::test_tools::assertion_result skip_unless(bool met, const std::string& why_not);

// ------------------------------------------------------------------ differential check

struct Comparison {
  double max_error = 0;
  double tolerance = 0;
  std::size_t worst_index = 0;  // index into dst of the largest error
  float expected = 0;           // reference value there
  float actual = 0;             // backend value there
  bool guards_intact = true;    // nothing written outside dst or between its pixels' slices
  bool ok() const { return guards_intact && max_error <= tolerance; }
};

// Judges `count` outputs of a kernel for the shape against the reference's `expected` with
// core/tolerance.hpp's rule for the kernel's algorithm (max_abs_error per element), and names
// the worst element. guards_intact stays true: where dst lives is the caller's to check.
Comparison compare_outputs(const ConvShape& shape, const float* actual, const float* expected,
                           std::size_t count, Algorithm algo = Algorithm::direct);

// A code generator under test: a backend and the instruction set it generates for.
struct JitTarget {
  JitTarget(Backend b, Isa i = Isa::automatic, Tuning t = Tuning::automatic)  // NOLINT: implicit
      : backend(b), isa(i), tune(t) {}
  Backend backend;
  Isa isa;
  Tuning tune;               // automatic: CONVJIT_TUNE, which the suites set to off
  std::string name() const;  // "xbyak/avx2", or "xbyak" for the automatic choice
  JitOptions options(int threads = 1) const {
    return JitOptions{.backend = backend, .isa = isa, .threads = threads, .tune = tune};
  }
};
// A Boost.Test precondition: cases that need AVX-512 are reported as skipped on other CPUs.
boost::test_tools::assertion_result cpu_runs_avx512(boost::unit_test::test_unit_id);

// xbyak and llvm at every instruction set this CPU runs (avx2, and avx512 where present).
std::vector<JitTarget> jit_targets();
// jit_targets() plus the generic and reference backends this CPU runs.
std::vector<JitTarget> all_targets();

// Compiles the shape with the backend (threads = 1), runs random data (from seed) through
// it and through reference_conv, and compares. A shape with add=1 gets a random residual;
// strided gaps in src hold random data the kernel must ignore, those in dst must stay as
// they were. Does not use Boost.Test (throws whatever the
// library throws, e.g. for an unimplemented backend).
Comparison compare_backend_with_reference(const ConvShape& shape, const JitTarget& target,
                                          std::uint64_t seed);

// The same, with BOOST_TEST: fails the current test case with the shape's to_string(), the
// backend, the seed and the worst element in the message.
void check_backend_matches_reference(const ConvShape& shape, const JitTarget& target,
                                     std::uint64_t seed);

}  // namespace convjit::testing
