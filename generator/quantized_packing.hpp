#pragma once
// The packing of an 8-bit kernel's weights (PackedKind::oc_vectors_s8x4) and of the numbers its
// store needs (the channel parts of QuantizedPart), from s8 weights in HWIO order and a
// Quantization. What the parts hold is requantization.hpp's arithmetic made once per channel,
// with the input zero point compensated exactly: the kernel sums x·w over the taps it reads,
// the bias part subtracts zp·Σw over every tap, and a tap in padding adds its zp·Σw back.
#include <convjit/quantization.hpp>

#include "core/quantized_reference.hpp"

namespace convjit {

struct KernelPlan;

// Writes plan.packed.total_floats() 32-bit words to out. Throws convjit::Error naming the field
// when the quantization does not describe this kernel's types (input_type, output_type), when
// it asks for what the kernels do not do yet (weight_type u8, non-zero weight_zero_points), and
// as check_quantized_operands and output_channel do.
void pack_quantized_for_plan(const KernelPlan& plan, const Quantization& quantization,
                             const std::int8_t* weights, QuantizedBias bias, float* out);

// The bias as the quantization says it is typed: int32 (s32) or float (f32); none when null.
QuantizedBias typed_bias(const Quantization& quantization, const void* bias);

}  // namespace convjit
