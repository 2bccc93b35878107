#pragma once
// Kernel: one compiled convolution for one exact shape. Immutable; run() is const and may be
// called from many threads at once.
#include <convjit/shape.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace convjit {

class KernelState;

// Weights and bias reordered once into the layout a kernel's plan wants. Cheap to copy
// (shared, immutable storage); usable with every kernel of the same packing format, which
// depends only on the packed layout: the same weights serve a layer at any batch size, input
// size or activation.
class PackedWeights {
 public:
  PackedWeights() = default;
  // What Kernel::pack_weights makes: `floats` floats at `storage`, the bias from
  // `bias_offset` on, in the layout `format` names.
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
  // The plan and the backend, human-readable (what `convjit plan` prints).
  std::string describe() const;
  double generation_us() const noexcept;

  // weights: HWIO (nhwc) or OIHW (nchw) with I = c / groups; bias: oc floats, or nullptr
  // (zeros). Throws convjit::Error on a null weights pointer.
  PackedWeights pack_weights(const float* weights, const float* bias) const;

  // src: the whole input batch in the shape's layout; dst: the whole output batch.
  // threads: 0 = the kernel's default (the Jit's option, else OMP_NUM_THREADS, else 1).
  // Throws convjit::Error on null pointers, packed weights of another format or size, or
  // overlap between src and dst.
  void run(const float* src, const PackedWeights& weights, float* dst, int threads = 0) const;

  // The library's view of the kernel (plan, code); opaque outside it.
  const KernelState& state() const noexcept { return *state_; }

 private:
  std::unique_ptr<const KernelState> state_;
};

}  // namespace convjit
