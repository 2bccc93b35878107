// Kernel: weight packing, argument checks and the split of work across threads.
#include <convjit/error.hpp>
#include <convjit/kernel.hpp>

#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/kernel_code.hpp"
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
      // The reference reads the user's layout: a format of its own.
      packing_format_(code_->takes_user_layout() ? plan_->packing_format() ^ 0x5555
                                                 : plan_->packing_format()),
      generation_us_(generation_us),
      default_threads_(threads > 0 ? threads : default_thread_count()),
      verbose_(verbose_enabled()),
      images_(plan_->shape.n),
      channel_tiles_(channel_tile_count(*plan_)),
      out_rows_(plan_->shape.out_h),
      image_src_floats_(static_cast<std::size_t>(plan_->shape.c * plan_->shape.h * plan_->shape.w)),
      image_dst_floats_(
          static_cast<std::size_t>(plan_->shape.oc * plan_->shape.out_h * plan_->shape.out_w)) {}

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
    packed.format_ = packing_format_;
  } else {
    const std::size_t w = static_cast<std::size_t>(plan_->packed_weight_floats);
    const std::size_t b = static_cast<std::size_t>(plan_->packed_bias_floats);
    auto storage = allocate_aligned_floats(w + b);
    pack_for_plan(*plan_, weights, bias, storage.get());
    packed.storage_ = storage;
    packed.floats_ = w + b;
    packed.bias_offset_ = w;
    packed.format_ = packing_format_;
  }
  return packed;
}

void Kernel::run(const float* src, const PackedWeights& weights, float* dst, int threads) const {
  if (!src) throw Error("src", "is a null pointer");
  if (!dst) throw Error("dst", "is a null pointer");
  if (threads < 0) throw Error("threads", "must not be negative (0 means the kernel's default)");
  if (threads > kMaxThreads)
    throw Error("threads", std::to_string(threads) + " is above the maximum " + std::to_string(kMaxThreads));
  if (weights.empty()) throw Error("weights", "are empty; call pack_weights first");
  if (weights.format() != packing_format_)
    throw Error("weights", "were packed for a different kernel (shape or format)");
  if (ranges_overlap(src, image_src_floats_ * images_ * sizeof(float), dst,
                     image_dst_floats_ * images_ * sizeof(float)))
    throw Error("dst", "overlaps src; convjit does not convolve in place");

  const float* w = weights.data();
  const float* b = weights.data() + weights.bias_offset_;
  const int team = threads > 0 ? threads : default_threads_;
  if (!verbose_) [[likely]] {
    execute(src, w, b, dst, team);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  execute(src, w, b, dst, team);
  log_run(*this, team,
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

void Kernel::call(const KernelCallArgs& args) const {
  if (entry_) entry_(&args);
  else code_->call(args);
}

void Kernel::execute(const float* src, const float* w, const float* b, float* dst, int team) const {
  const std::int64_t src_image = static_cast<std::int64_t>(image_src_floats_);
  const std::int64_t dst_image = static_cast<std::int64_t>(image_dst_floats_);
  const std::int64_t rows = out_rows_;
  if (team > 1 && execute_in_parallel(src, w, b, dst, team)) return;
  // One thread, kept free of divisions: whole images one after another.
  KernelCallArgs args{src, w, b, dst, 0, rows};
  for (std::int64_t image = 0; image < images_; ++image) {
    call(args);
    args.src += src_image;
    args.dst += dst_image;
  }
}

bool Kernel::execute_in_parallel(const float* src, const float* w, const float* b, float* dst,
                                 int team) const {
  const std::int64_t src_image = static_cast<std::int64_t>(image_src_floats_);
  const std::int64_t dst_image = static_cast<std::int64_t>(image_dst_floats_);
  const std::int64_t rows = out_rows_;
  const std::int64_t work = images_ * rows;  // (image, output row) items
  // Rows alone when they share out evenly or are plenty; otherwise (image, channel tile, row)
  // items, so one image with few rows still keeps every thread busy. Every output element
  // is computed by the same code either way: results are bit-identical for any team size.
  const bool by_channel_tiles = channel_tiles_ > 1 && code_->splits_channel_tiles() &&
                                work % team != 0 && work < 8 * team;
  const std::int64_t tiles = by_channel_tiles ? channel_tiles_ : 1;
  const std::int64_t items = work * tiles;
  if (items < 2) return false;
  auto run_items = [&](std::int64_t first, std::int64_t last) {
    while (first < last) {
      const std::int64_t image = first / (tiles * rows);
      const std::int64_t tile = first / rows % tiles;
      const std::int64_t row = first % rows;
      const std::int64_t count = std::min(last - first, rows - row);
      KernelCallArgs args{src + image * src_image, w, b, dst + image * dst_image, row, row + count};
      if (by_channel_tiles) {
        args.tile_begin = tile;
        args.tile_end = tile + 1;
      }
      call(args);
      first += count;
    }
  };
#ifdef _OPENMP
  const int used = static_cast<int>(std::min<std::int64_t>(team, items));
#pragma omp parallel num_threads(used)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    run_items(items * t / nt, items * (t + 1) / nt);
  }
#else
  run_items(0, items);
#endif
  return true;
}

}  // namespace convjit
