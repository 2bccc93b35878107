#pragma once
// TileEpilogue: what happens to one accumulator vector on its way out of a tile, for every
// algorithm and backend. In order: the bias is added (Winograd; direct kernels start their
// sums from it), then the residual at the store's own offset, then the activation, then the
// store (whole, or the schedule's VectorStore for a tail). The activation is lowered here,
// once, to a few vector operations over the value and some temporaries, so a backend
// translates operations, not activations: a new activation is a new lowering in this file,
// and a new data type a new conversion step, with nothing added to the emitters.
#include <convjit/shape.hpp>

#include <cstdint>
#include <vector>

namespace convjit {

enum class VectorOpKind : std::uint8_t {
  add_constant,   // dst = a + c
  mul_constant,   // dst = a · c
  max_constant,   // dst = max(a, c)
  min_constant,   // dst = min(a, c)
  mul,            // dst = a · b
  max,            // dst = max(a, b)
  min,            // dst = min(a, b)
  div,            // dst = a / b
  constant_div,   // dst = c / a
  fma_constant,   // dst = a · b + c
  fnma_constant,  // dst = a − b · c, with dst == a (x86's vfnmadd231ps form)
  round_even,     // dst = a rounded to an integer, ties to even
  exp2_integer,   // dst = 2^a for a an integer-valued float in [−126, 127], from its exponent bits
};

// Operands name vectors: 0 is the value being stored, 1..temporaries the epilogue's scratch.
struct VectorOp {
  VectorOpKind kind = VectorOpKind::add_constant;
  int dst = 0, a = 0, b = 0;
  float constant = 0.0f;
  bool operator==(const VectorOp&) const = default;
};

// How the accumulators become the output: fp32 sums stored as they are (none), or 8-bit
// input's int32 sums stored as s32 (integer), dequantized to f32 or requantized to u8/s8 with
// the channel parts of the packed weights (packed_layout.hpp's QuantizedPart), exactly as
// core/requantization.hpp says: float(acc), one fma with the multiplier and offset, clamp,
// round half to even, add the zero point, then a saturating narrow store.
enum class Conversion : std::uint8_t { none, integer, dequantize, requantize };

struct TileEpilogue {
  Conversion conversion = Conversion::none;
  DataType output = DataType::f32;
  std::int64_t channel_part = 0;  // bytes between channel parts (8-bit conversions)
  bool add_bias = false;      // the bias vector of the channel block is added first
  bool add_residual = false;  // the residual at the store's offset (KernelCallArgs::residual)
  std::vector<VectorOp> activation;
  int temporaries = 0;  // scratch vectors the activation needs besides the value

  // Every constant the operations name, each once, in first-use order (a backend's pool).
  std::vector<float> constants() const;
};

// The epilogue of `shape`'s tiles; `bias_added` when the algorithm adds the bias at the end.
TileEpilogue make_tile_epilogue(const ConvShape& shape, bool bias_added);

// The lowering of one activation (also what the planner budgets registers for).
std::vector<VectorOp> lower_activation(const Activation& act);
int activation_temporaries(const Activation& act);
// What a shape's tile epilogue needs besides the value: its activation's temporaries, and for
// 8-bit input one vector (a channel's multiplier).
int epilogue_temporaries(const ConvShape& shape);

// The operations evaluated on one float, exactly as a backend would (one rounding per op,
// fused multiply-adds fused): the specification the backends are tested against.
float evaluate_vector_ops(const std::vector<VectorOp>& ops, float value);

}  // namespace convjit
