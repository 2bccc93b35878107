// Kernel: weight packing, argument checks and the split of work across threads.
#include <convjit/error.hpp>
#include <convjit/kernel.hpp>

#include "generator/plan.hpp"
#include "runtime/kernel_code.hpp"
#include "runtime/observability.hpp"
#include "runtime/pack.hpp"
#include "runtime/thread_count.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <sstream>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace convjit {
namespace {

std::shared_ptr<float> allocate_aligned_floats(std::size_t count) {
  const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(float);
  void* p = ::operator new[](bytes, std::align_val_t{64});
  return std::shared_ptr<float>(static_cast<float*>(p), [](float* q) {
    ::operator delete[](q, std::align_val_t{64});
  });
}

bool ranges_overlap(const void* a, std::size_t a_bytes, const void* b, std::size_t b_bytes) {
  auto a0 = reinterpret_cast<std::uintptr_t>(a), b0 = reinterpret_cast<std::uintptr_t>(b);
  return a0 < b0 + b_bytes && b0 < a0 + a_bytes;
}

}  // namespace

Kernel::Kernel(std::shared_ptr<const KernelPlan> plan, std::shared_ptr<const KernelCode> code,
               double generation_us, int threads)
    : plan_(std::move(plan)),
      code_(std::move(code)),
      entry_(code_->entry()),
      generation_us_(generation_us),
      default_threads_(threads > 0 ? threads : default_thread_count()) {}

Kernel::~Kernel() = default;

const ConvShape& Kernel::shape() const noexcept { return plan_->shape; }
std::string_view Kernel::backend() const noexcept { return code_->backend(); }
const std::string& Kernel::name() const noexcept { return plan_->name; }

std::string Kernel::describe() const {
  std::ostringstream out;
  out << "backend    " << backend() << "\n" << plan_->describe();
  if (auto bytes = code_->machine_code(); !bytes.empty())
    out << "generated  " << bytes.size() << " bytes in " << generation_us_ << " us\n";
  return out.str();
}

PackedWeights Kernel::pack_weights(const float* weights, const float* bias) const {
  if (!weights) throw Error("weights", "is a null pointer");
  const ConvShape& s = shape();
  PackedWeights packed;
  if (code_->takes_user_layout()) {
    const std::size_t w = static_cast<std::size_t>(s.weight_elems());
    const std::size_t b = static_cast<std::size_t>(s.oc);
    auto storage = allocate_aligned_floats(w + b);
    std::memcpy(storage.get(), weights, w * sizeof(float));
    for (std::size_t i = 0; i < b; ++i) storage.get()[w + i] = (bias && s.bias) ? bias[i] : 0.0f;
    packed.storage_ = storage;
    packed.floats_ = w + b;
    packed.bias_offset_ = w;
    packed.format_ = plan_->packing_format() ^ 0x5555;
  } else {
    const std::size_t w = static_cast<std::size_t>(plan_->packed_weight_floats);
    const std::size_t b = static_cast<std::size_t>(plan_->packed_bias_floats);
    auto storage = allocate_aligned_floats(w + b);
    pack_for_plan(*plan_, weights, bias, storage.get());
    packed.storage_ = storage;
    packed.floats_ = w + b;
    packed.bias_offset_ = w;
    packed.format_ = plan_->packing_format();
  }
  return packed;
}

void Kernel::run(const float* src, const PackedWeights& weights, float* dst, int threads) const {
  if (!src) throw Error("src", "is a null pointer");
  if (!dst) throw Error("dst", "is a null pointer");
  if (weights.empty()) throw Error("weights", "are empty; call pack_weights first");
  const std::uint64_t expected =
      code_->takes_user_layout() ? plan_->packing_format() ^ 0x5555 : plan_->packing_format();
  if (weights.format() != expected)
    throw Error("weights", "were packed for a different kernel (shape or format)");
  const ConvShape& s = shape();
  if (ranges_overlap(src, static_cast<std::size_t>(s.src_elems()) * sizeof(float), dst,
                     static_cast<std::size_t>(s.dst_elems()) * sizeof(float)))
    throw Error("dst", "overlaps src; convjit does not convolve in place");

  const std::int64_t src_image = s.c * s.h * s.w;
  const std::int64_t dst_image = s.oc * s.out_h * s.out_w;
  const float* w = weights.data();
  const float* b = weights.data() + weights.bias_offset_;
  const int team = threads > 0 ? threads : default_threads_;
  const std::int64_t work = s.n * s.out_h;  // (image, output row) items

  auto run_items = [&](std::int64_t first, std::int64_t last) {
    while (first < last) {
      const std::int64_t image = first / s.out_h;
      const std::int64_t row = first % s.out_h;
      const std::int64_t rows = std::min(last - first, s.out_h - row);
      const KernelCallArgs args{src + image * src_image, w, b, dst + image * dst_image, row, row + rows};
      if (entry_) entry_(&args);
      else code_->call(args);
      first += rows;
    }
  };

  auto run_all = [&] {
    if (team <= 1 || work < 2) {
      run_items(0, work);
      return;
    }
#ifdef _OPENMP
    const int used = static_cast<int>(std::min<std::int64_t>(team, work));
#pragma omp parallel num_threads(used)
    {
      const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
      run_items(work * t / nt, work * (t + 1) / nt);
    }
#else
    run_items(0, work);
#endif
  };
  if (!verbose_enabled()) {
    run_all();
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  run_all();
  log_run(*this, team,
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace convjit
