// Kernel: weight packing, argument checks and the split of work across threads.
#include <convjit/error.hpp>
#include <convjit/kernel.hpp>

#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/kernel_code.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/observability.hpp"
#include "runtime/pack.hpp"
#include "runtime/thread_count.hpp"
#include "runtime/work_split.hpp"

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

// The reference reads the user's layout (HWIO or OIHW): a format of its own per layout.
std::uint64_t packing_format_of(const KernelPlan& plan, const KernelCode& code) {
  if (!code.takes_user_layout()) return plan.packing_format();
  return plan.packing_format() ^ (0x5555 + static_cast<std::uint64_t>(plan.shape.layout));
}

std::size_t packed_floats_of(const KernelPlan& plan, const KernelCode& code) {
  const ConvShape& s = plan.shape;
  if (code.takes_user_layout()) return static_cast<std::size_t>(s.weight_elems() + s.oc);
  return static_cast<std::size_t>(plan.packed_weight_floats + plan.packed_bias_floats);
}

void call(const KernelState& k, const KernelCallArgs& args) {
  if (k.entry) k.entry(&args);
  else k.code->call(args);
}

// False when there is too little work to share; the caller then runs on one thread.
bool execute_in_parallel(const KernelState& k, const float* src, const float* w, const float* b,
                         float* dst, int team) {
  const WorkSplit split =
      split_work(k.images, k.out_rows, k.channel_tiles, k.splits_channel_tiles, team);
  const std::int64_t items = split.items();
  if (items < 2) return false;
  auto run_items = [&](std::int64_t first, std::int64_t last) {
    split.for_each_call(first, last, [&](std::int64_t image, std::int64_t tile_begin,
                                         std::int64_t tile_end, std::int64_t row_begin,
                                         std::int64_t row_end) {
      KernelCallArgs args{src + image * k.image_src_floats, w, b, dst + image * k.image_dst_floats,
                          row_begin, row_end};
      if (tile_end >= 0) {
        args.tile_begin = tile_begin;
        args.tile_end = tile_end;
      }
      call(k, args);
    });
  };
#ifdef _OPENMP
  const int used = static_cast<int>(std::min<std::int64_t>(team, items));
#pragma omp parallel num_threads(used)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    run_items(split.share_begin(t, nt), split.share_begin(t + 1, nt));
  }
#else
  run_items(0, items);
#endif
  return true;
}

void execute(const KernelState& k, const float* src, const float* w, const float* b, float* dst,
             int team) {
  if (team > 1 && execute_in_parallel(k, src, w, b, dst, team)) return;
  // One thread, kept free of divisions: whole images one after another.
  KernelCallArgs args{src, w, b, dst, 0, k.out_rows};
  for (std::int64_t image = 0; image < k.images; ++image) {
    call(k, args);
    args.src += k.image_src_floats;
    args.dst += k.image_dst_floats;
  }
}

}  // namespace

KernelState::KernelState(std::shared_ptr<const KernelPlan> plan_in,
                         std::shared_ptr<const KernelCode> code_in, double generation_us_in,
                         int threads)
    : entry(code_in->entry()),
      packing_format(packing_format_of(*plan_in, *code_in)),
      packed_floats(packed_floats_of(*plan_in, *code_in)),
      image_src_floats(static_cast<std::size_t>(plan_in->shape.c * plan_in->shape.h * plan_in->shape.w)),
      image_dst_floats(
          static_cast<std::size_t>(plan_in->shape.oc * plan_in->shape.out_h * plan_in->shape.out_w)),
      images(plan_in->shape.n),
      channel_tiles(channel_tile_count(*plan_in)),
      out_rows(plan_in->shape.out_h),
      default_threads(threads > 0 ? threads : default_thread_count()),
      verbose(verbose_enabled()),
      splits_channel_tiles(code_in->splits_channel_tiles()),
      plan(std::move(plan_in)),
      code(std::move(code_in)),
      generation_us(generation_us_in) {}

std::shared_ptr<const Kernel> make_kernel(std::shared_ptr<const KernelPlan> plan,
                                          std::shared_ptr<const KernelCode> code,
                                          double generation_us, int threads) {
  return std::make_shared<const Kernel>(std::make_unique<const KernelState>(
      std::move(plan), std::move(code), generation_us, threads));
}

Kernel::Kernel(std::unique_ptr<const KernelState> state) noexcept : state_(std::move(state)) {}

Kernel::~Kernel() = default;

const ConvShape& Kernel::shape() const noexcept { return state_->plan->shape; }
std::string_view Kernel::backend() const noexcept { return state_->code->backend(); }
const std::string& Kernel::name() const noexcept { return state_->plan->name; }
double Kernel::generation_us() const noexcept { return state_->generation_us; }

std::string Kernel::describe() const {
  std::ostringstream out;
  out << "backend    " << backend() << "\n" << state_->plan->describe();
  if (auto bytes = state_->code->machine_code(); !bytes.empty())
    out << "generated  " << bytes.size() << " bytes in " << state_->generation_us << " us\n";
  return out.str();
}

PackedWeights Kernel::pack_weights(const float* weights, const float* bias) const {
  if (!weights) throw Error("weights", "is a null pointer");
  const ConvShape& s = shape();
  const KernelState& k = *state_;
  auto storage = allocate_aligned_floats(k.packed_floats);
  std::size_t bias_offset = 0;
  if (k.code->takes_user_layout()) {
    const std::size_t w = static_cast<std::size_t>(s.weight_elems());
    std::memcpy(storage.get(), weights, w * sizeof(float));
    for (std::size_t i = 0; i < static_cast<std::size_t>(s.oc); ++i)
      storage.get()[w + i] = (bias && s.bias) ? bias[i] : 0.0f;
    bias_offset = w;
  } else {
    pack_for_plan(*k.plan, weights, bias, storage.get());
    bias_offset = static_cast<std::size_t>(k.plan->packed_weight_floats);
  }
  return PackedWeights(std::move(storage), k.packed_floats, bias_offset, k.packing_format);
}

void Kernel::run(const float* src, const PackedWeights& weights, float* dst, int threads) const {
  const KernelState& k = *state_;
  if (!src) throw Error("src", "is a null pointer");
  if (!dst) throw Error("dst", "is a null pointer");
  if (threads < 0) throw Error("threads", "must not be negative (0 means the kernel's default)");
  if (threads > kMaxThreads)
    throw Error("threads", std::to_string(threads) + " is above the maximum " + std::to_string(kMaxThreads));
  if (weights.empty()) throw Error("weights", "are empty; call pack_weights first");
  if (weights.format() != k.packing_format)
    throw Error("weights", "were packed for a different kernel (shape or format)");
  if (weights.size() != k.packed_floats || weights.bias_offset() >= k.packed_floats)
    throw Error("weights", "hold " + std::to_string(weights.size()) + " floats; this kernel's "
                           "packing has " + std::to_string(k.packed_floats));
  if (ranges_overlap(src, k.image_src_floats * k.images * sizeof(float), dst,
                     k.image_dst_floats * k.images * sizeof(float)))
    throw Error("dst", "overlaps src; convjit does not convolve in place");

  const float* w = weights.data();
  const float* b = weights.data() + weights.bias_offset();
  const int team = threads > 0 ? threads : k.default_threads;
  if (!k.verbose) [[likely]] {
    execute(k, src, w, b, dst, team);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  execute(k, src, w, b, dst, team);
  log_run(*this, team,
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

}  // namespace convjit
