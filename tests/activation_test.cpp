// The activations beyond relu/clamp (leaky_relu:ALPHA, hardswish, silu, sigmoid): their spec
// strings and errors, and their lowering to vector operations (generator/tile_epilogue.hpp)
// against the exact functions over ~2 million floats spread over the whole finite range, with
// the error bound core/tolerance.cpp's activation_relative_error states. relu and clamp keep
// the exact results they always had, and the generic kernel stores exactly what
// evaluate_vector_ops (the backends' specification) computes.
#define BOOST_TEST_MODULE activation
#include <boost/test/unit_test.hpp>

#include "core/reference.hpp"
#include "core/tolerance.hpp"
#include "generator/tile_epilogue.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace convjit;

namespace {

const std::string kBase = "c=3,h=8,w=9,oc=4,k=3";

Activation act_of(const std::string& text) { return ConvSpec::parse(kBase + ",act=" + text).act; }

Activation leaky(float alpha) { return {ActivationKind::leaky_relu, 0.0f, 0.0f, alpha}; }

// Every finite float reached by stepping the 32-bit patterns with a large odd (prime) stride,
// both signs, subnormals and the largest magnitudes included, plus a few exact landmarks.
std::vector<float> spread_floats() {
  constexpr std::uint32_t kStride = 2053;
  std::vector<float> out;
  out.reserve((std::uint64_t{1} << 32) / kStride + 64);
  std::uint64_t pattern = 0;
  for (; pattern <= 0xFFFFFFFFu; pattern += kStride) {
    const float x = std::bit_cast<float>(static_cast<std::uint32_t>(pattern));
    if (std::isfinite(x)) out.push_back(x);
  }
  for (float x : {0.0f, -0.0f, 1.0f, -1.0f, 3.0f, -3.0f, 6.0f, -6.0f, 0.5f, -0.5f, 87.0f,
                  -87.0f, 88.3f, -88.3f, 88.4f, -88.4f, 88.8f, -88.8f, 89.0f, -89.0f, 100.0f,
                  -100.0f, 1e-30f, -1e-30f, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::lowest(), std::numeric_limits<float>::min(),
                  -std::numeric_limits<float>::min(), std::numeric_limits<float>::denorm_min(),
                  -std::numeric_limits<float>::denorm_min()})
    out.push_back(x);
  return out;
}

const std::vector<float>& floats() {
  static const std::vector<float> all = spread_floats();
  return all;
}

// The function in double precision, of the float input.
double exact(const Activation& act, float value) {
  const double x = value;
  switch (act.kind) {
    case ActivationKind::leaky_relu: return x >= 0 ? x : x * act.alpha;
    case ActivationKind::hardswish: return x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0;
    case ActivationKind::silu: return x / (1.0 + std::exp(-x));
    case ActivationKind::sigmoid: return 1.0 / (1.0 + std::exp(-x));
    default: return x;
  }
}

// silu(x) for x below −88.37 (where e^−x overflows a float) is stored as −0; its true value
// there is at most |x|·e^x ≈ 3.7e-37 (at x = −88.37), above the 1e-37 the other functions
// keep to. The absolute slack of each function below its relative bound:
double absolute_slack(const Activation& act) {
  return act.kind == ActivationKind::silu ? 4e-37 : 1e-37;
}

struct Measured {
  double worst_relative = 0;  // |got − exact| / |exact| over outputs with |exact| ≥ 1e-30
  float worst_input = 0;
  std::size_t failures = 0;
  float first_failure = 0;
};

Measured measure(const Activation& act) {
  const std::vector<VectorOp> ops = lower_activation(act);
  const double bound = activation_relative_error(act), slack = absolute_slack(act);
  Measured m;
  for (float x : floats()) {
    const double want = exact(act, x);
    const double got = evaluate_vector_ops(ops, x);
    const double error = std::abs(got - want);
    if (!(error <= bound * std::abs(want) + slack)) {
      if (m.failures++ == 0) m.first_failure = x;
    }
    if (std::abs(want) >= 1e-30 && error / std::abs(want) > m.worst_relative) {
      m.worst_relative = error / std::abs(want);
      m.worst_input = x;
    }
  }
  return m;
}

void check_within_bound(const Activation& act) {
  const Measured m = measure(act);
  BOOST_TEST_MESSAGE(to_string(act) << ": worst relative error " << m.worst_relative << " at x = "
                                    << m.worst_input << " over " << floats().size()
                                    << " floats (bound " << activation_relative_error(act) << ")");
  BOOST_TEST(m.failures == 0u, to_string(act) << ": " << m.failures
                                               << " floats beyond the bound, the first at x = "
                                               << m.first_failure << " (got "
                                               << evaluate_vector_ops(lower_activation(act), m.first_failure)
                                               << ", exact " << exact(act, m.first_failure) << ")");
  BOOST_TEST(m.worst_relative <= activation_relative_error(act));
}

bool same_bits(float a, float b) { return std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b); }

}  // namespace

BOOST_AUTO_TEST_SUITE(activation)

BOOST_AUTO_TEST_CASE(new_activation_strings_round_trip_through_parse_and_print) {
  const struct {
    const char* text;
    Activation act;
    const char* printed;
  } cases[] = {
      {"leaky_relu", leaky(0.01f), "leaky_relu:0.01"},
      {"leaky_relu:0.2", leaky(0.2f), "leaky_relu:0.2"},
      {"leaky_relu:-0.5", leaky(-0.5f), "leaky_relu:-0.5"},
      {"leaky_relu:1.5", leaky(1.5f), "leaky_relu:1.5"},
      {"leaky_relu:0", leaky(0.0f), "leaky_relu:0"},
      {"hardswish", {ActivationKind::hardswish}, "hardswish"},
      {"silu", {ActivationKind::silu}, "silu"},
      {"swish", {ActivationKind::silu}, "silu"},
      {"sigmoid", {ActivationKind::sigmoid}, "sigmoid"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("act=" << c.text) {
      const ConvSpec spec = ConvSpec::parse(kBase + ",act=" + c.text);
      BOOST_TEST((spec.act == c.act));
      BOOST_TEST(to_string(spec.act) == c.printed);
      BOOST_TEST(spec.to_string().find(std::string(",act=") + c.printed) != std::string::npos);
      BOOST_TEST((ConvSpec::parse(spec.to_string()) == spec));
      const ConvShape shape = spec.resolve();
      BOOST_TEST((shape.act == c.act));
      BOOST_TEST((ConvSpec::parse(shape.to_string()).resolve() == shape));
    }
  }
  // The slope is part of the shape's identity (the kernel cache key).
  BOOST_TEST((ConvSpec::parse(kBase + ",act=leaky_relu:0.2").resolve() !=
              ConvSpec::parse(kBase + ",act=leaky_relu:0.1").resolve()));
}

BOOST_AUTO_TEST_CASE(malformed_activation_strings_are_errors_naming_act) {
  for (const char* text : {"leaky_relu:nan", "leaky_relu:", "leaky_relu:inf", "leaky_relu:1e39",
                           "leaky_relu:0.1x", "leaky_relu:0.1:2", "silu:1", "sigmoid:", "hardswish:3",
                           "leaky", "gelu"}) {
    BOOST_TEST_CONTEXT("act=" << text) {
      try {
        (void)ConvSpec::parse(kBase + ",act=" + text).resolve();
        BOOST_ERROR("did not throw");
      } catch (const convjit::Error& e) {
        BOOST_TEST(e.field() == "act");
        BOOST_TEST(!e.reason().empty());
      }
    }
  }
  // A spec built in code with a slope that is no number is refused by resolve().
  ConvSpec spec = ConvSpec::parse(kBase);
  spec.act = leaky(std::numeric_limits<float>::quiet_NaN());
  try {
    (void)spec.resolve();
    BOOST_ERROR("did not throw");
  } catch (const convjit::Error& e) {
    BOOST_TEST(e.field() == "act");
  }
}

BOOST_AUTO_TEST_CASE(leaky_relu_lowering_is_exact) {
  for (float alpha : {-0.5f, 0.0f, 0.01f, 0.2f, 1.0f, 1.5f, 3.0f}) {
    const Activation act = leaky(alpha);
    const std::vector<VectorOp> ops = lower_activation(act);
    std::size_t wrong = 0;
    float first = 0;
    for (float x : floats()) {
      // One rounded product either way: the same float (±0 compare equal).
      const float want = apply_activation(act, x);
      if (!(evaluate_vector_ops(ops, x) == want) && wrong++ == 0) first = x;
    }
    BOOST_TEST(wrong == 0u, "alpha " << alpha << ": " << wrong << " inexact, the first at x = " << first);
  }
}

BOOST_AUTO_TEST_CASE(hardswish_lowering_is_within_its_relative_bound) {
  check_within_bound({ActivationKind::hardswish});
}

BOOST_AUTO_TEST_CASE(silu_lowering_is_within_its_relative_bound) {
  check_within_bound({ActivationKind::silu});
}

BOOST_AUTO_TEST_CASE(sigmoid_lowering_is_within_its_relative_bound) {
  check_within_bound({ActivationKind::sigmoid});
}

BOOST_AUTO_TEST_CASE(smooth_activations_saturate_where_expected) {
  const auto eval = [](ActivationKind kind, float x) {
    return evaluate_vector_ops(lower_activation({kind}), x);
  };
  BOOST_TEST(eval(ActivationKind::sigmoid, 0.0f) == 0.5f);
  BOOST_TEST(eval(ActivationKind::sigmoid, 100.0f) == 1.0f);
  BOOST_TEST(eval(ActivationKind::sigmoid, -100.0f) == 0.0f);
  BOOST_TEST(eval(ActivationKind::sigmoid, std::numeric_limits<float>::lowest()) == 0.0f);
  BOOST_TEST(eval(ActivationKind::silu, 0.0f) == 0.0f);
  BOOST_TEST(eval(ActivationKind::silu, 100.0f) == 100.0f);
  BOOST_TEST(eval(ActivationKind::silu, std::numeric_limits<float>::max()) ==
             std::numeric_limits<float>::max());
  BOOST_TEST(eval(ActivationKind::silu, -100.0f) == 0.0f);
  BOOST_TEST(eval(ActivationKind::hardswish, -3.0f) == 0.0f);
  BOOST_TEST(eval(ActivationKind::hardswish, 3.0f) == 3.0f);
  BOOST_TEST(eval(ActivationKind::hardswish, 1e30f) == 1e30f);
}

BOOST_AUTO_TEST_CASE(relu_and_clamp_lowerings_match_std_max_and_min_bit_for_bit) {
  // maxps/minps semantics: the second operand when the comparison fails, so +0 for −0 and
  // the constant for NaN, as std::max(c, x) and std::min(c, x) give them.
  const Activation relu{ActivationKind::relu, 0.0f, 0.0f};
  const std::vector<VectorOp> relu_ops = lower_activation(relu);
  std::vector<std::pair<std::vector<VectorOp>, Activation>> clamps;
  for (auto [lo, hi] : {std::pair{-1.0f, 6.0f}, {0.0f, 6.0f}, {-0.25f, 0.5f}, {2.0f, 2.0f},
                        {-0.0f, 0.0f}})
    clamps.push_back({lower_activation({ActivationKind::clamp, lo, hi}), {ActivationKind::clamp, lo, hi}});

  std::vector<float> inputs = floats();
  for (float x : {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                  std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::quiet_NaN()})
    inputs.push_back(x);
  std::size_t wrong = 0;
  for (float x : inputs) {
    if (!same_bits(evaluate_vector_ops(relu_ops, x), std::max(0.0f, x)) && wrong++ == 0)
      BOOST_ERROR("relu(" << x << ") differs from std::max(0, x)");
    for (const auto& [ops, act] : clamps)
      if (!same_bits(evaluate_vector_ops(ops, x), std::min(act.hi, std::max(act.lo, x))) && wrong++ == 0)
        BOOST_ERROR(to_string(act) << "(" << x << ") differs from std::min(hi, std::max(lo, x))");
  }
  BOOST_TEST(wrong == 0u);
}

BOOST_AUTO_TEST_CASE(generic_kernel_stores_exactly_what_evaluate_vector_ops_computes) {
  // A 1x1 convolution with unit weights and no bias stores act(x) for every input x: what
  // the backend's translation of the operations gives, bit for bit, in every lane position,
  // for the oc-vector (channel tail), width-vector and depthwise walks.
  std::vector<float> inputs;
  for (std::size_t i = 0; i < floats().size(); i += 257) inputs.push_back(floats()[i]);
  for (float x : {0.0f, -0.0f, 3.0f, -3.0f, -88.4f, 88.4f, 89.0f, -89.0f})
    inputs.push_back(x);
  const auto columns = static_cast<std::int64_t>(inputs.size());

  Jit jit(JitOptions{.backend = Backend::generic, .threads = 1, .tune = Tuning::off});
  const Activation acts[] = {leaky(0.01f), leaky(-0.5f), leaky(1.5f), {ActivationKind::hardswish},
                             {ActivationKind::silu}, {ActivationKind::sigmoid},
                             {ActivationKind::relu}, {ActivationKind::clamp, -0.5f, 0.75f}};
  for (const Activation& act : acts) {
    const std::vector<VectorOp> ops = lower_activation(act);
    for (const char* walk : {"oc=11", "oc=1,layout=nchw", "c=5,oc=5,g=5"}) {
      const std::string text = std::string("h=1,k=1,bias=0,") +
                               (std::string(walk).starts_with("c=") ? "" : "c=1,") + walk +
                               ",w=" + std::to_string(columns) + ",act=" + to_string(act);
      BOOST_TEST_CONTEXT(text) {
        const ConvSpec spec = ConvSpec::parse(text);
        const auto kernel = jit.get(spec);
        BOOST_TEST(kernel->backend() == "generic");
        const ConvShape& s = kernel->shape();
        // Channel k of pixel i holds input i (depthwise: every channel the same).
        std::vector<float> src(static_cast<std::size_t>(columns * s.c));
        for (std::int64_t i = 0; i < columns; ++i)
          for (std::int64_t k = 0; k < s.c; ++k) src[i * s.c + k] = inputs[i];
        const std::vector<float> weights(static_cast<std::size_t>(s.oc * (s.c / s.groups)), 1.0f);
        const PackedWeights packed = kernel->pack_weights(weights.data(), nullptr);
        std::vector<float> dst(static_cast<std::size_t>(columns * s.oc), std::nanf(""));
        kernel->run(src.data(), packed, dst.data());
        std::size_t wrong = 0;
        for (std::int64_t i = 0; i < columns; ++i) {
          // x·1 + 0: −0 becomes +0 in the accumulator, as in every backend.
          const float want = evaluate_vector_ops(ops, inputs[i] + 0.0f);
          for (std::int64_t o = 0; o < s.oc; ++o) {
            const float got = s.layout == Layout::nhwc ? dst[i * s.oc + o] : dst[o * columns + i];
            if (!same_bits(got, want) && wrong++ == 0)
              BOOST_ERROR("x = " << inputs[i] << ", channel " << o << ": got " << got << ", want " << want);
          }
        }
        BOOST_TEST(wrong == 0u);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
