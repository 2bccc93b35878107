#include "generator/tile_epilogue.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace convjit {
namespace {

using K = VectorOpKind;
constexpr int kValue = 0;

VectorOp op(K kind, int dst, int a, float constant) { return {kind, dst, a, 0, constant}; }
VectorOp op(K kind, int dst, int a, int b, float constant = 0.0f) { return {kind, dst, a, b, constant}; }

// e^z into `p`, for z in temporary `z` (clobbered), with `n` a third temporary. z is clamped
// to [−87, 89]: below, 2^n stays a normal float; above 88.4, n = 128 makes 2^n +infinity, so
// silu's x / (1 + e^−x) is −0 for very negative x, not x · 2^−127; then z = n·ln 2 + r with n = round(z·log2 e)
// and |r| ≤ ln 2 / 2, r computed in two fused steps (ln 2 split so that n·ln2_hi is exact),
// and e^r by its Taylor polynomial of degree 6 (truncation ≤ r⁷/7! ≈ 1.2e-7 relative).
void append_exp(std::vector<VectorOp>& ops, int z, int n, int p) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;  // 8 significant bits: n · kLn2Hi is exact for |n| ≤ 127
  constexpr float kLn2Lo = -2.12194440e-4f;
  ops.push_back(op(K::min_constant, z, z, 89.0f));
  ops.push_back(op(K::max_constant, z, z, -87.0f));
  ops.push_back(op(K::mul_constant, n, z, kLog2e));
  ops.push_back(op(K::round_even, n, n, 0.0f));
  ops.push_back(op(K::fnma_constant, z, z, n, kLn2Hi));
  ops.push_back(op(K::fnma_constant, z, z, n, kLn2Lo));
  ops.push_back(op(K::mul_constant, p, z, 1.0f / 720.0f));
  ops.push_back(op(K::add_constant, p, p, 1.0f / 120.0f));
  for (float c : {1.0f / 24.0f, 1.0f / 6.0f, 0.5f, 1.0f, 1.0f})
    ops.push_back(op(K::fma_constant, p, p, z, c));
  ops.push_back(op(K::exp2_integer, n, n, 0.0f));
  ops.push_back(op(K::mul, p, p, n));
}

float exponent_bias() { return 127.0f; }

}  // namespace

std::vector<VectorOp> lower_activation(const Activation& act) {
  std::vector<VectorOp> ops;
  switch (act.kind) {
    case ActivationKind::none: break;
    case ActivationKind::relu: ops.push_back(op(K::max_constant, kValue, kValue, 0.0f)); break;
    case ActivationKind::clamp:
      ops.push_back(op(K::max_constant, kValue, kValue, act.lo));
      ops.push_back(op(K::min_constant, kValue, kValue, act.hi));
      break;
    case ActivationKind::leaky_relu:
      // x and α·x: the larger for slopes up to 1 (negative ones too), else the smaller.
      ops.push_back(op(K::mul_constant, 1, kValue, act.alpha));
      ops.push_back(op(act.alpha <= 1.0f ? K::max : K::min, kValue, kValue, 1));
      break;
    case ActivationKind::hardswish:
      ops.push_back(op(K::add_constant, 1, kValue, 3.0f));
      ops.push_back(op(K::max_constant, 1, 1, 0.0f));
      ops.push_back(op(K::min_constant, 1, 1, 6.0f));
      ops.push_back(op(K::mul_constant, 1, 1, 1.0f / 6.0f));
      ops.push_back(op(K::mul, kValue, kValue, 1));
      break;
    case ActivationKind::silu:
    case ActivationKind::sigmoid:
      // 1 + e^−x, then x / it (silu) or 1 / it (sigmoid); e^−x is +infinity for x ≤ −88.4,
      // where both quotients are zero (their true values are below 1e-37).
      ops.push_back(op(K::mul_constant, 1, kValue, -1.0f));
      append_exp(ops, 1, 2, 3);
      ops.push_back(op(K::add_constant, 3, 3, 1.0f));
      if (act.kind == ActivationKind::silu) ops.push_back(op(K::div, kValue, kValue, 3));
      else ops.push_back(op(K::constant_div, kValue, 3, 1.0f));
      break;
  }
  return ops;
}

int activation_temporaries(const Activation& act) {
  int used = 0;
  for (const VectorOp& o : lower_activation(act)) used = std::max({used, o.dst, o.a, o.b});
  return used;
}

int epilogue_temporaries(const ConvShape& shape) {
  return std::max(activation_temporaries(shape.act), shape.quantized() ? 1 : 0);
}

TileEpilogue make_tile_epilogue(const ConvShape& shape, bool bias_added) {
  TileEpilogue e;
  e.add_bias = bias_added && shape.bias;
  e.add_residual = shape.add_residual;
  e.activation = lower_activation(shape.act);
  e.temporaries = activation_temporaries(shape.act);
  if (shape.quantized()) {
    // A ReLU is the clamp's floor at the output zero point, packed with the weights.
    e.activation.clear();
    e.temporaries = epilogue_temporaries(shape);
    e.output = shape.dst_type;
    e.conversion = shape.dst_type == DataType::s32   ? Conversion::integer
                   : shape.dst_type == DataType::f32 ? Conversion::dequantize
                                                     : Conversion::requantize;
  }
  return e;
}

std::vector<float> TileEpilogue::constants() const {
  std::vector<float> out;
  auto add = [&](float v) {
    for (float have : out)
      if (std::memcmp(&have, &v, sizeof v) == 0) return;
    out.push_back(v);
  };
  for (const VectorOp& o : activation) {
    switch (o.kind) {
      case K::mul: case K::max: case K::min: case K::div: case K::round_even: break;
      case K::exp2_integer: add(exponent_bias()); break;
      default: add(o.constant); break;
    }
  }
  return out;
}

float evaluate_vector_ops(const std::vector<VectorOp>& ops, float value) {
  float v[8] = {value};
  for (const VectorOp& o : ops) {
    const float a = v[o.a], b = v[o.b], c = o.constant;
    float& d = v[o.dst];
    switch (o.kind) {
      case K::add_constant: d = a + c; break;
      case K::mul_constant: d = a * c; break;
      case K::max_constant: d = a > c ? a : c; break;
      case K::min_constant: d = a < c ? a : c; break;
      case K::mul: d = a * b; break;
      case K::max: d = a > b ? a : b; break;
      case K::min: d = a < b ? a : b; break;
      case K::div: d = a / b; break;
      case K::constant_div: d = c / a; break;
      case K::fma_constant: d = std::fma(a, b, c); break;
      case K::fnma_constant: d = std::fma(-b, c, a); break;
      case K::round_even: d = std::nearbyint(a); break;
      case K::exp2_integer: {
        const std::int32_t bits = static_cast<std::int32_t>(a + exponent_bias()) << 23;
        std::memcpy(&d, &bits, sizeof d);
        break;
      }
    }
  }
  return v[0];
}

}  // namespace convjit
