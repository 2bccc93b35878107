#pragma once
// Kernel: one compiled convolution for one exact shape. Immutable; run() is const and may be
// called from many threads at once.
#include <convjit/quantization.hpp>
#include <convjit/shape.hpp>
#include <convjit/thread_pool.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace convjit {

class KernelState;

// What one run() may say beyond the buffers. Every field is optional.
struct RunOptions {
  // Images in src and dst; unset: the shape's n. Any batch runs on the same compiled code.
  std::optional<std::int64_t> batch = std::nullopt;
  // Threads (shares of the work); 0: the pool's threads() with a pool, else the kernel's
  // default (the Jit's option, else OMP_NUM_THREADS, else 1).
  int threads = 0;
  // The host's threads for this run; unset: the Jit's pool, else OpenMP. Set it only to a
  // real pool: a null pointer is an error.
  std::optional<ThreadPool*> pool = std::nullopt;
  // Kernels with add=1: the tensor added before the activation, laid out exactly like dst
  // (the same dst_stride), or dst itself to accumulate in place. Null for add=0 kernels.
  const float* residual = nullptr;
};

// Weights and bias reordered once into the layout a kernel's plan wants. Cheap to copy
// (shared, immutable storage); usable with every kernel of the same packing format, which
// depends only on the packed layout: the same weights serve a layer at any batch size, input
// size or activation.
class PackedWeights {
 public:
  PackedWeights() = default;
  // What Kernel::pack_weights makes: `floats` floats at `storage`, the bias from
  // `bias_offset` on, in the layout `format` names. Kernel::pack_weights_into gives storage
  // that does not own the host's memory.
  PackedWeights(std::shared_ptr<const float> storage, std::size_t floats, std::size_t bias_offset,
                std::uint64_t format) noexcept
      : storage_(std::move(storage)), floats_(floats), bias_offset_(bias_offset), format_(format) {}

  bool empty() const noexcept { return !storage_; }
  const float* data() const noexcept { return storage_.get(); }
  std::size_t size() const noexcept { return floats_; }
  std::size_t bias_offset() const noexcept { return bias_offset_; }
  std::uint64_t format() const noexcept { return format_; }

 private:
  std::shared_ptr<const float> storage_;  // weights, then bias
  std::size_t floats_ = 0;
  std::size_t bias_offset_ = 0;
  std::uint64_t format_ = 0;
};

class Kernel {
 public:
  // Made by Jit; the state is the library's own (runtime/kernel_state.hpp).
  explicit Kernel(std::unique_ptr<const KernelState> state) noexcept;
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const ConvShape& shape() const noexcept;
  // "xbyak", "llvm", "generic" or "reference".
  std::string_view backend() const noexcept;
  // A name that says what the kernel is, e.g. conv_k3x3_s1x1_d1x1_oc_vectors_ur6x2_nhwc_avx2.
  const std::string& name() const noexcept;
  // How it computes: direct, or winograd_f2/f4/f6 (never automatic).
  Algorithm algorithm() const noexcept;
  // The plan and the backend, human-readable (what `convjit plan` prints).
  std::string describe() const;
  double generation_us() const noexcept;

  // weights: HWIO (nhwc) or OIHW (nchw) with I = c / groups; bias: oc floats, or nullptr
  // (zeros). Throws convjit::Error on a null weights pointer.
  PackedWeights pack_weights(const float* weights, const float* bias) const;

  // 8-bit kernels (src=u8 or s8): s8 weights in HWIO order and what the integers stand for.
  // bias: oc values of quantization.bias_type (int32_t for s32, float for f32), or nullptr.
  // The quantization's input and output types must be the shape's src and dst types, and its
  // weights s8 with zero point 0. Throws convjit::Error naming the field (a Quantization
  // member's name, "weights" or "bias") for what it cannot take, and for an fp32 kernel; the
  // float form throws convjit::Error("weights") for an 8-bit kernel.
  PackedWeights pack_weights(const std::int8_t* weights, const Quantization& quantization,
                             const void* bias = nullptr) const;

  // Packing into memory the host provides (a weight arena): packed_size() floats, starting
  // on a kPackedAlignment-byte boundary. The result refers to `memory` without owning it, so
  // the memory must outlive every run() that uses it. Throws convjit::Error("memory", ...)
  // when the span is too small or misaligned, and as pack_weights does.
  static constexpr std::size_t kPackedAlignment = 64;
  std::size_t packed_size() const noexcept;
  PackedWeights pack_weights_into(std::span<float> memory, const float* weights,
                                  const float* bias) const;

  // src: the whole input batch in the shape's layout; dst: the whole output batch.
  // threads: 0 = the kernel's default (the Jit's option, else OMP_NUM_THREADS, else 1).
  // Throws convjit::Error on null pointers, packed weights of another format or size, or
  // overlap between src and dst. Runs the shape's n images; a kernel with add=1 needs the
  // RunOptions form.
  void run(const float* src, const PackedWeights& weights, float* dst, int threads = 0) const;
  // The same with a run-time batch, the host's pool or a residual. Also throws
  // convjit::Error naming "batch" (not positive), "pool" (null, or no threads), "residual"
  // (missing for add=1, given for add=0, overlapping src, or overlapping dst without being
  // dst) and "threads".
  void run(const float* src, const PackedWeights& weights, float* dst,
           const RunOptions& options) const;
  // Any kernel, its tensors as memory: src holds shape().src_type elements and dst receives
  // shape().dst_type elements (u8, s8, s32 or f32 for an 8-bit kernel; f32 for the others).
  // Checks and throws as the float form does; the float forms throw convjit::Error("src")
  // for an 8-bit kernel, so its bytes are never taken for floats by accident.
  void run_bytes(const void* src, const PackedWeights& weights, void* dst,
                 const RunOptions& options = {}) const;

  // The library's view of the kernel (plan, code); opaque outside it.
  const KernelState& state() const noexcept { return *state_; }

 private:
  std::unique_ptr<const KernelState> state_;
};

}  // namespace convjit
