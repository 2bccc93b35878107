#pragma once
// ConvSpec: a convolution as the user states it (possibly with 'same'/'valid' padding).
// resolve() validates it and turns it into a ConvShape with every number explicit.
#include <convjit/data_type.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace convjit {

struct ConvShape;

enum class Layout : std::uint8_t { nhwc, nchw };
enum class PaddingMode : std::uint8_t { explicit_pads, valid, same, same_lower };
// relu: max(x, 0); clamp: min(max(x, lo), hi); leaky_relu: x, or alpha·x below 0;
// hardswish: x·min(max(x + 3, 0), 6)/6; silu: x·sigmoid(x); sigmoid: 1/(1 + e^−x).
enum class ActivationKind : std::uint8_t { none, relu, clamp, leaky_relu, hardswish, silu, sigmoid };
// How the kernel computes (key algo=): `automatic` lets the planner choose; `winograd` asks
// for Winograd F(m×m, 3×3) with the planner's tile size, winograd_f2/f4/f6 for that one.
enum class Algorithm : std::uint8_t { automatic, direct, winograd, winograd_f2, winograd_f4, winograd_f6 };

struct Activation {
  ActivationKind kind = ActivationKind::none;
  float lo = 0.0f;  // clamp only
  float hi = 0.0f;  // clamp only
  float alpha = 0.0f;  // leaky_relu only: the slope below zero
  bool operator==(const Activation&) const = default;
};

struct ConvSpec {
  std::int64_t n = 1;
  std::int64_t c = 0;
  std::int64_t h = 0;
  std::int64_t w = 0;
  std::int64_t oc = 0;
  std::int64_t kh = 0;
  std::int64_t kw = 0;
  std::int64_t sh = 1;
  std::int64_t sw = 1;
  std::int64_t dh = 1;
  std::int64_t dw = 1;
  PaddingMode padding = PaddingMode::valid;
  std::int64_t pad_top = 0;  // used when padding == explicit_pads
  std::int64_t pad_bottom = 0;
  std::int64_t pad_left = 0;
  std::int64_t pad_right = 0;
  std::int64_t groups = 1;
  Layout layout = Layout::nhwc;
  bool bias = true;
  Activation act;
  // dst = act(conv(src) + bias + residual), the residual passed to run() (key add=1).
  bool add_residual = false;
  // NHWC only: floats from one pixel to the next (keys src_stride, dst_stride), so a layer
  // reads a channel slice of a wider tensor or writes into a slice of a concatenation.
  // 0: dense (c for the input, oc for the output).
  std::int64_t src_stride = 0;
  std::int64_t dst_stride = 0;
  Algorithm algo = Algorithm::automatic;
  // Element types (keys src=, dst=): f32 in and out, or 8-bit input (u8/s8, weights s8) with
  // u8, s8, s32 or f32 output; an 8-bit src without dst= outputs its own type.
  DataType src_type = DataType::f32;
  DataType dst_type = DataType::f32;

  // Parses "n=1,c=64,h=56,w=56,oc=64,k=3,p=same" (see docs/ARCHITECTURE.md, "Spec string").
  // Throws convjit::Error naming the key and the reason.
  static ConvSpec parse(std::string_view text);

  // Validates and resolves padding and output size. Throws convjit::Error.
  ConvShape resolve() const;

  // The spec string that parses back to this spec.
  std::string to_string() const;

  bool operator==(const ConvSpec&) const = default;
};

std::string_view to_string(Layout layout);
std::string_view to_string(PaddingMode mode);
std::string to_string(const Activation& act);
std::string_view to_string(Algorithm algo);
// Throws convjit::Error("algo", ...) for a name that is none of to_string's.
Algorithm parse_algorithm(std::string_view name);
// The Winograd output tile (2, 4 or 6) an algorithm asks for; 0 when it names none.
int winograd_tile_of(Algorithm algo);
// Why Winograd F(m×m, 3×3) cannot compute this shape; empty when it can.
std::string winograd_ineligibility(const ConvShape& shape);

}  // namespace convjit
