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

struct KernelPlan;
class KernelCode;
struct KernelCallArgs;

// Weights and bias reordered once into the layout a kernel's plan wants. Cheap to copy
// (shared, immutable storage); usable with every kernel of the same packing format.
class PackedWeights {
 public:
  PackedWeights() = default;
  bool empty() const noexcept { return !storage_; }
  const float* data() const noexcept { return storage_.get(); }
  std::size_t size() const noexcept { return floats_; }
  std::uint64_t format() const noexcept { return format_; }

 private:
  friend class Kernel;
  std::shared_ptr<const float> storage_;  // weights, then bias
  std::size_t floats_ = 0;
  std::size_t bias_offset_ = 0;
  std::uint64_t format_ = 0;
};

class Kernel {
 public:
  // threads: the default team size of run(); 0 = OMP_NUM_THREADS, else 1.
  Kernel(std::shared_ptr<const KernelPlan> plan, std::shared_ptr<const KernelCode> code,
         double generation_us, int threads = 0);
  ~Kernel();
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  const ConvShape& shape() const noexcept;
  // "xbyak", "llvm", "generic" or "reference".
  std::string_view backend() const noexcept;
  // A name that says what the kernel is, e.g. conv_k3x3_s1_d1_oc8x2_ur6_nhwc_avx2.
  const std::string& name() const noexcept;
  // The plan and the backend, human-readable (what `convjit plan` prints).
  std::string describe() const;
  double generation_us() const noexcept { return generation_us_; }
  const KernelPlan& plan() const noexcept { return *plan_; }
  const KernelCode& code() const noexcept { return *code_; }

  // weights: HWIO (nhwc) or OIHW (nchw) with I = c / groups; bias: oc floats, or nullptr
  // (zeros). Throws convjit::Error on a null weights pointer.
  PackedWeights pack_weights(const float* weights, const float* bias) const;

  // src: the whole input batch in the shape's layout; dst: the whole output batch.
  // threads: 0 = the kernel's default (the Jit's option, else OMP_NUM_THREADS, else 1).
  // Throws convjit::Error on null pointers, packed weights of another format, or overlap
  // between src and dst.
  void run(const float* src, const PackedWeights& weights, float* dst, int threads = 0) const;

 private:
  void execute(const float* src, const float* weights, const float* bias, float* dst,
               int threads) const;
  // False when there is too little work to share; the caller then runs on one thread.
  bool execute_in_parallel(const float* src, const float* weights, const float* bias, float* dst,
                           int threads) const;
  void call(const KernelCallArgs& args) const;

  std::shared_ptr<const KernelPlan> plan_;
  std::shared_ptr<const KernelCode> code_;
  void (*entry_)(const KernelCallArgs*) = nullptr;  // the JIT entry point, if any
  std::uint64_t packing_format_ = 0;                 // what pack_weights() stamps
  double generation_us_ = 0;
  int default_threads_ = 1;
  // Copied out of the plan so run() touches one cache line of the kernel.
  bool verbose_ = false;
  std::int64_t images_ = 1;
  std::int64_t channel_tiles_ = 1;
  std::int64_t out_rows_ = 1;
  std::size_t image_src_floats_ = 0;
  std::size_t image_dst_floats_ = 0;
};

}  // namespace convjit
