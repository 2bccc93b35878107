#pragma once
// Baseline: one outside implementation of the same convolution (oneDNN, XNNPACK, im2col +
// OpenBLAS) that the benchmark puts next to convjit's kernels. Comparison only: convjit never
// depends on these libraries at run time.
//
// Contract, the same for every baseline:
//   - activations NHWC (the user's layout), weights HWIO with I = c / groups, bias oc floats
//     or nullptr (zeros) — exactly what core/reference.hpp's reference_conv takes;
//   - prepare() does all one-off work (primitive creation, weight reorder/pack, scratch
//     allocation) outside the timed loop and copies what it needs, so the caller's weight and
//     bias buffers may be freed afterwards;
//   - PreparedConv::run() computes the whole batch, bias and activation included, on
//     `threads` threads (the benchmark uses 1);
//   - a baseline that computes in a layout of its own (oneDNN's Winograd: blocked src, dst
//     and weights) converts outside the timed loop: stage_input() before the timed calls,
//     finish_output() after them. Only run() is timed, as it would be in a network that keeps
//     its activations in that layout from layer to layer;
//   - a shape a baseline cannot compute exactly is refused by unsupported_reason(), never
//     computed wrongly.
#include <convjit/quantization.hpp>
#include <convjit/shape.hpp>

#include <cstdint>

#include <memory>
#include <string>
#include <vector>

namespace convjit::bench {

class PreparedConv {
 public:
  virtual ~PreparedConv();
  // src: the whole NHWC input batch; dst: the whole NHWC output batch. A baseline with a
  // layout of its own reads the input stage_input() staged and writes its own output buffer:
  // it touches neither pointer.
  virtual void run(const float* src, float* dst) = 0;
  // Copies src (NHWC) into the layout run() reads; nothing for NHWC baselines.
  virtual void stage_input(const float* src) { (void)src; }
  // Writes the last run()'s output to dst (NHWC); nothing for NHWC baselines.
  virtual void finish_output(float* dst) { (void)dst; }
  // What runs, when the library says (e.g. oneDNN's "jit:avx512_core"); may be empty.
  virtual std::string describe() const { return {}; }
  // The algorithm whose error bound (core/tolerance.hpp) the output is held to.
  virtual Algorithm algorithm() const { return Algorithm::direct; }
};

class Baseline {
 public:
  virtual ~Baseline();
  // "onednn", "onednn_winograd", "xnnpack" or "im2col_openblas" (the benchmark's backend
  // names).
  virtual std::string name() const = 0;
  // Library and version as far as cheaply known, e.g. "oneDNN 2.6.3 (isa avx512_core)".
  virtual std::string version() const = 0;
  // Empty when the shape is supported, otherwise why not (e.g. "NCHW layout").
  virtual std::string unsupported_reason(const ConvShape& shape) const = 0;
  bool supports(const ConvShape& shape) const { return unsupported_reason(shape).empty(); }
  // Throws convjit::Error("baseline", ...) when the shape is unsupported or the library
  // refuses it.
  virtual std::unique_ptr<PreparedConv> prepare(const ConvShape& shape,
                                                const float* weights_hwio, const float* bias,
                                                int threads = 1) const = 0;
  // 8-bit shapes (src=u8/s8): the same layer in the library's integer convolution, with s8
  // HWIO weights, an int32 bias (or nullptr) added to the accumulator, and the quantization's
  // scales and zero points; run() then takes and gives bytes of the shape's types. Its output
  // is held to within 1 of convjit's exact reference (libraries round in their own order).
  // Baselines without one refuse every 8-bit shape in unsupported_reason().
  virtual bool computes_8bit() const { return false; }
  virtual std::unique_ptr<PreparedConv> prepare_quantized(const ConvShape& shape,
                                                          const Quantization& quantization,
                                                          const std::int8_t* weights_hwio,
                                                          const std::int32_t* bias,
                                                          int threads = 1) const;
};

// The baselines whose libraries were found when this build was configured, in the order
// onednn, onednn_winograd, xnnpack, im2col_openblas.
std::vector<std::unique_ptr<Baseline>> available_baselines();

// Every baseline name the benchmark knows, built or not.
const std::vector<std::string>& known_baseline_names();

// Why a known baseline is missing from this build ("oneDNN (dnnl) was not found when convjit
// was configured"); empty when it is built.
std::string baseline_missing_reason(const std::string& name);

}  // namespace convjit::bench
