// Kernel: weight packing, argument checks and the split of work across threads.
#include <convjit/error.hpp>
#include <convjit/kernel.hpp>

#include "generator/packed_layout.hpp"
#include "generator/quantized_packing.hpp"
#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/kernel_code.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/observability.hpp"
#include "runtime/thread_count.hpp"
#include "runtime/layout_staging.hpp"
#include "runtime/thread_scratch.hpp"
#include "generator/work_split.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <type_traits>
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

// A tensor as memory: `extent` bytes from `data`, whose pixels are `stride` bytes apart and
// hold `channels` bytes each (stride == channels when dense).
struct Footprint {
  const void* data;
  std::size_t extent, stride, channels;
};

// Whether two tensors share a byte. Slices of one wider tensor (a concatenation) interleave
// without touching when their pixel strides agree and their channel windows are apart.
bool footprints_overlap(const Footprint& a, const Footprint& b) {
  if (!ranges_overlap(a.data, a.extent, b.data, b.extent)) return false;
  if (a.stride != b.stride || (a.stride == a.channels && b.stride == b.channels)) return true;
  const auto distance = reinterpret_cast<std::intptr_t>(b.data) - reinterpret_cast<std::intptr_t>(a.data);
  const auto stride = static_cast<std::intptr_t>(a.stride);
  const std::intptr_t offset = (distance % stride + stride) % stride;
  // b's channels start `offset` bytes into each of a's pixels (modulo the stride).
  const bool apart = static_cast<std::intptr_t>(a.channels) <= offset &&
                     offset + static_cast<std::intptr_t>(b.channels) <= stride;
  return !apart;
}

// The reference reads the user's layout (HWIO or OIHW): a format of its own per layout.
std::uint64_t packing_format_of(const KernelPlan& plan, const KernelCode& code) {
  if (!code.takes_user_layout()) return plan.packed.format();
  return plan.packed.format() ^ (0x5555 + static_cast<std::uint64_t>(plan.shape.layout));
}

std::size_t packed_floats_of(const KernelPlan& plan, const KernelCode& code) {
  const ConvShape& s = plan.shape;
  if (code.takes_user_layout()) return static_cast<std::size_t>(s.weight_elems() + s.oc);
  return static_cast<std::size_t>(plan.packed.total_floats());
}

// `bytes` past a tensor pointer of whatever element type the kernel's arguments spell as float.
template <class T>
T* advance(T* p, std::size_t bytes) {
  using Byte = std::conditional_t<std::is_const_v<T>, const char, char>;
  return reinterpret_cast<T*>(reinterpret_cast<Byte*>(p) + bytes);
}

void call(const KernelState& k, const KernelCallArgs& args) {
  if (k.entry) k.entry(&args);
  else k.code->call(args);
}

// One run's buffers and its batch, as the threads see them.
struct RunBuffers {
  const float* src;
  const float* weights;
  const float* bias;
  float* dst;
  const float* residual;  // null unless the kernel adds one
  std::int64_t images;
};

// Units [args.unit_begin, args.unit_end) of one image as calls of at most a band each, cut
// at the band boundaries a single thread uses (multiples of band_units), every channel tile
// in each call.
void call_banded(const KernelState& k, KernelCallArgs args) {
  const std::int64_t end = args.unit_end;
  for (std::int64_t unit = args.unit_begin; unit < end;) {
    const std::int64_t next = std::min(end, (unit / k.band_units + 1) * k.band_units);
    args.unit_begin = unit;
    args.unit_end = next;
    call(k, args);
    unit = next;
  }
}

// Items [first, last) of the split as kernel calls.
void run_items(const KernelState& k, const RunBuffers& r, const WorkSplit& split,
               std::int64_t first, std::int64_t last) {
  split.for_each_call(first, last, [&](std::int64_t image, std::int64_t tile_begin,
                                       std::int64_t tile_end, std::int64_t unit_begin,
                                       std::int64_t unit_end) {
    const auto i = static_cast<std::size_t>(image);
    KernelCallArgs args{advance(r.src, i * k.image_src_bytes), r.weights, r.bias,
                        advance(r.dst, i * k.image_dst_bytes), unit_begin, unit_end};
    if (tile_end >= 0) {
      args.tile_begin = tile_begin;
      args.tile_end = tile_end;
    }
    if (r.residual) args.residual = advance(r.residual, i * k.image_dst_bytes);
    if (k.scratch_floats) args.scratch = thread_scratch(k.scratch_floats);
    if (k.band_units > 0 && tile_end < 0) call_banded(k, args);
    else call(k, args);
  });
}

// What a pool's task needs: share t of `shares` is items [share_begin(t), share_begin(t+1)).
struct PoolShares {
  const KernelState* kernel;
  const RunBuffers* buffers;
  const WorkSplit* split;
  std::int64_t shares;
};

void run_pool_share(void* context, std::int64_t t) {
  const auto& p = *static_cast<const PoolShares*>(context);
  run_items(*p.kernel, *p.buffers, *p.split, p.split->share_begin(t, p.shares),
            p.split->share_begin(t + 1, p.shares));
}

// False when there is too little work to share; the caller then runs on one thread. The
// shares are the same WorkSplit whether OpenMP or the host's pool runs them, so the results
// are too.
bool execute_in_parallel(const KernelState& k, const RunBuffers& r, int team, ThreadPool* pool) {
  const WorkSplit split =
      split_work(r.images, k.units, k.channel_tiles, k.splits_channel_tiles, team);
  const std::int64_t items = split.items();
  if (items < 2) return false;
  const int used = static_cast<int>(std::min<std::int64_t>(team, items));
  if (pool) {
    const PoolShares shares{&k, &r, &split, used};
    pool->parallel_for(used, &run_pool_share, const_cast<PoolShares*>(&shares));
    return true;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(used)
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    run_items(k, r, split, split.share_begin(t, nt), split.share_begin(t + 1, nt));
  }
#else
  run_items(k, r, split, 0, items);
#endif
  return true;
}

// One image band after band, every channel tile in each, on one thread (no division). Out of
// line, so the whole-image path keeps its arguments in the plain stores the kernel reads.
[[gnu::noinline]] void run_bands(const KernelState& k, KernelCallArgs args) {
  for (std::int64_t unit = 0; unit < k.units; unit += k.band_units) {
    args.unit_begin = unit;
    args.unit_end = std::min(k.units, unit + k.band_units);
    call(k, args);
  }
}

// One thread, kept free of divisions: whole images one after another. The arguments are
// built here from scalars, so the kernel's loads of them forward from plain stores.
inline void run_images(const KernelState& k, KernelCallArgs args, std::int64_t images) {
  if (k.scratch_floats) args.scratch = thread_scratch(k.scratch_floats);
  for (std::int64_t image = 0; image < images; ++image) {
    if (k.band_units == 0) [[likely]] call(k, args);
    else run_bands(k, args);
    args.src = advance(args.src, k.image_src_bytes);
    args.dst = advance(args.dst, k.image_dst_bytes);
    if (args.residual) args.residual = advance(args.residual, k.image_dst_bytes);
  }
}

void execute(const KernelState& k, const RunBuffers& r, int team, ThreadPool* pool) {
  if (team > 1 && execute_in_parallel(k, r, team, pool)) return;
  KernelCallArgs args{r.src, r.weights, r.bias, r.dst, 0, k.units};
  args.residual = r.residual;
  run_images(k, args, r.images);
}

}  // namespace

KernelState::KernelState(std::shared_ptr<const KernelPlan> plan_in,
                         std::shared_ptr<const KernelCode> code_in, double generation_us_in,
                         int threads, std::shared_ptr<ThreadPool> pool_in)
    : entry(code_in->entry()),
      packing_format(packing_format_of(*plan_in, *code_in)),
      packed_floats(packed_floats_of(*plan_in, *code_in)),
      image_src_bytes(static_cast<std::size_t>(plan_in->shape.src_image_floats() *
                                               plan_in->shape.src_element_bytes())),
      image_dst_bytes(static_cast<std::size_t>(plan_in->shape.dst_image_floats() *
                                               plan_in->shape.dst_element_bytes())),
      src_tail_gap(static_cast<std::size_t>((plan_in->shape.n * plan_in->shape.src_image_floats() -
                                             plan_in->shape.src_elems()) *
                                            plan_in->shape.src_element_bytes())),
      dst_tail_gap(static_cast<std::size_t>((plan_in->shape.n * plan_in->shape.dst_image_floats() -
                                             plan_in->shape.dst_elems()) *
                                            plan_in->shape.dst_element_bytes())),
      quantized(plan_in->shape.quantized()),
      images(plan_in->shape.n),
      channel_tiles(plan_in->work.channel_tiles),
      units(plan_in->work.units),
      band_units(plan_in->work.band_units),
      scratch_floats(static_cast<std::size_t>(plan_in->work.scratch_floats)),
      default_threads(threads > 0 ? threads : default_thread_count()),
      verbose(verbose_enabled()),
      splits_channel_tiles(code_in->splits_channel_tiles()),
      add_residual(plan_in->shape.add_residual),
      stages_nchw(plan_in->stages_nchw()),
      pool(pool_in.get()),
      shape(plan_in->shape),
      plan(std::move(plan_in)),
      code(std::move(code_in)),
      pool_owner(std::move(pool_in)),
      generation_us(generation_us_in) {}

std::shared_ptr<const Kernel> make_kernel(std::shared_ptr<const KernelPlan> plan,
                                          std::shared_ptr<const KernelCode> code,
                                          double generation_us, int threads,
                                          std::shared_ptr<ThreadPool> pool,
                                          std::shared_ptr<const TuningReport> tuning) {
  auto state = std::make_unique<KernelState>(std::move(plan), std::move(code), generation_us,
                                             threads, std::move(pool));
  state->tuning = std::move(tuning);
  return std::make_shared<const Kernel>(std::move(state));
}

std::shared_ptr<const Kernel> with_default_batch(const Kernel& kernel, std::int64_t batch) {
  auto state = std::make_unique<KernelState>(kernel.state());
  state->shape.n = batch;
  state->images = batch;
  return std::make_shared<const Kernel>(std::move(state));
}

Kernel::Kernel(std::unique_ptr<const KernelState> state) noexcept : state_(std::move(state)) {}

Kernel::~Kernel() = default;

const ConvShape& Kernel::shape() const noexcept { return state_->shape; }
std::string_view Kernel::backend() const noexcept { return state_->code->backend(); }
const std::string& Kernel::name() const noexcept { return state_->plan->name; }
Algorithm Kernel::algorithm() const noexcept {
  const KernelPlan& p = *state_->plan;
  return algorithm_of(p);
}
double Kernel::generation_us() const noexcept { return state_->generation_us; }

std::string Kernel::describe() const {
  std::ostringstream out;
  out << "backend    " << backend() << "\n" << state_->plan->describe();
  if (auto bytes = state_->code->machine_code(); !bytes.empty())
    out << "generated  " << bytes.size() << " bytes in " << state_->generation_us << " us"
        << (state_->tuning ? " (tuning included)" : "") << "\n";
  if (state_->tuning) out << state_->tuning->describe();
  return out.str();
}

namespace {

// Packs into `out` (the kernel's packed_floats) and says where the bias starts.
std::size_t pack_into(const KernelState& k, const float* weights, const float* bias, float* out) {
  const ConvShape& s = k.shape;
  if (k.code->takes_user_layout()) {
    const std::size_t w = static_cast<std::size_t>(s.weight_elems());
    std::memcpy(out, weights, w * sizeof(float));
    for (std::size_t i = 0; i < static_cast<std::size_t>(s.oc); ++i)
      out[w + i] = (bias && s.bias) ? bias[i] : 0.0f;
    return w;
  }
  pack_for_plan(*k.plan, weights, bias, out);
  return static_cast<std::size_t>(k.plan->packed.weight_floats);
}

}  // namespace

namespace {

void require_float_kernel(const KernelState& k) {
  if (k.quantized)
    throw Error("weights", "this kernel computes in 8 bits (src=" +
                               std::string(to_string(k.shape.src_type)) +
                               "): pack s8 weights with their Quantization");
}

}  // namespace

PackedWeights Kernel::pack_weights(const std::int8_t* weights, const Quantization& quantization,
                                   const void* bias) const {
  const KernelState& k = *state_;
  if (!k.quantized)
    throw Error("weights", "this kernel computes in fp32 (src=f32): pack float weights");
  if (!weights) throw Error("weights", "is a null pointer");
  auto storage = allocate_aligned_floats(k.packed_floats);
  pack_quantized_for_plan(*k.plan, quantization, weights, typed_bias(quantization, bias),
                          storage.get());
  return PackedWeights(std::move(storage), k.packed_floats,
                       static_cast<std::size_t>(k.plan->packed.weight_floats), k.packing_format);
}

PackedWeights Kernel::pack_weights(const float* weights, const float* bias) const {
  if (!weights) throw Error("weights", "is a null pointer");
  const KernelState& k = *state_;
  require_float_kernel(k);
  auto storage = allocate_aligned_floats(k.packed_floats);
  const std::size_t bias_offset = pack_into(k, weights, bias, storage.get());
  return PackedWeights(std::move(storage), k.packed_floats, bias_offset, k.packing_format);
}

std::size_t Kernel::packed_size() const noexcept { return state_->packed_floats; }

PackedWeights Kernel::pack_weights_into(std::span<float> memory, const float* weights,
                                        const float* bias) const {
  const KernelState& k = *state_;
  if (!weights) throw Error("weights", "is a null pointer");
  require_float_kernel(k);
  if (!memory.data()) throw Error("memory", "is a null pointer");
  if (memory.size() < k.packed_floats)
    throw Error("memory", "holds " + std::to_string(memory.size()) + " floats; this kernel's "
                          "packing needs packed_size() = " + std::to_string(k.packed_floats));
  if (reinterpret_cast<std::uintptr_t>(memory.data()) % kPackedAlignment != 0)
    throw Error("memory", "is not aligned to " + std::to_string(kPackedAlignment) + " bytes");
  const std::size_t bias_offset = pack_into(k, weights, bias, memory.data());
  // The host owns the memory: the storage only points at it.
  std::shared_ptr<const float> view(memory.data(), [](const float*) {});
  return PackedWeights(std::move(view), k.packed_floats, bias_offset, k.packing_format);
}

namespace {

[[noreturn, gnu::noinline, gnu::cold]] void refuse_weights(const KernelState& k,
                                                           const PackedWeights& weights) {
  if (weights.empty()) throw Error("weights", "are empty; call pack_weights first");
  if (weights.format() != k.packing_format)
    throw Error("weights", "were packed for a different kernel (shape or format)");
  throw Error("weights", "hold " + std::to_string(weights.size()) + " floats; this kernel's "
                         "packing has " + std::to_string(k.packed_floats));
}

inline void check_weights(const KernelState& k, const PackedWeights& weights) {
  if (weights.empty() || weights.format() != k.packing_format ||
      weights.size() != k.packed_floats || weights.bias_offset() >= k.packed_floats)
      [[unlikely]]
    refuse_weights(k, weights);
}

[[noreturn, gnu::noinline, gnu::cold]] void refuse_threads(int threads) {
  if (threads < 0) throw Error("threads", "must not be negative (0 means the kernel's default)");
  throw Error("threads", std::to_string(threads) + " is above the maximum " + std::to_string(kMaxThreads));
}

inline void check_threads(int threads) {
  if (threads < 0 || threads > kMaxThreads) [[unlikely]] refuse_threads(threads);
}

Footprint src_footprint(const KernelState& k, const void* src, std::int64_t images) {
  const ConvShape& s = k.shape;
  const bool nhwc = s.layout == Layout::nhwc;
  const auto bytes = static_cast<std::size_t>(s.src_element_bytes());
  return {src, k.image_src_bytes * static_cast<std::size_t>(images) - k.src_tail_gap,
          bytes * static_cast<std::size_t>(nhwc ? s.src_pixel_stride() : 1),
          bytes * static_cast<std::size_t>(nhwc ? s.c : 1)};
}

Footprint dst_footprint(const KernelState& k, const void* dst, std::int64_t images) {
  const ConvShape& s = k.shape;
  const bool nhwc = s.layout == Layout::nhwc;
  const auto bytes = static_cast<std::size_t>(s.dst_element_bytes());
  return {dst, k.image_dst_bytes * static_cast<std::size_t>(images) - k.dst_tail_gap,
          bytes * static_cast<std::size_t>(nhwc ? s.dst_pixel_stride() : 1),
          bytes * static_cast<std::size_t>(nhwc ? s.oc : 1)};
}

constexpr std::int64_t kMaxBatch = std::int64_t{1} << 24;

// Shares of the work: the caller's count, else the pool's threads, else the kernel's default.
int team_size(const KernelState& k, int threads, ThreadPool* pool) {
  if (threads > 0) return threads;
  if (!pool) return k.default_threads;
  const int pool_threads = pool->threads();
  if (pool_threads < 1)
    throw Error("pool", "reports " + std::to_string(pool_threads) + " threads; a pool has at least one");
  return std::min(pool_threads, kMaxThreads);
}

void run_checked(const Kernel& kernel, const KernelState& k, const RunBuffers& r, int team,
                 ThreadPool* pool) {
  if (!k.verbose) [[likely]] {
    execute(k, r, team, pool);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  execute(k, r, team, pool);
  log_run(kernel, team,
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
}

// Transposes shared by a team: the blocks of `first`, then of `second` (if any), cut into
// `shares` contiguous shares.
struct TransposeShares {
  const BatchTranspose* first;
  const BatchTranspose* second;
  std::int64_t shares;
};

void run_transpose_share(void* context, std::int64_t t) {
  const auto& s = *static_cast<const TransposeShares*>(context);
  const std::int64_t a = s.first->blocks(), total = a + (s.second ? s.second->blocks() : 0);
  const std::int64_t begin = total * t / s.shares, end = total * (t + 1) / s.shares;
  if (begin < a) s.first->run(begin, std::min(end, a));
  if (end > a) s.second->run(std::max(begin, a) - a, end - a);
}

void transpose_shared(const BatchTranspose& first, const BatchTranspose* second, int team,
                      ThreadPool* pool) {
  const std::int64_t blocks = first.blocks() + (second ? second->blocks() : 0);
  const std::int64_t used = std::min<std::int64_t>(team, blocks);
  TransposeShares shares{&first, second, std::max<std::int64_t>(used, 1)};
  if (used <= 1) {
    run_transpose_share(&shares, 0);
    return;
  }
  if (pool) {
    pool->parallel_for(used, &run_transpose_share, &shares);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(static_cast<int>(used))
  {
    // Every share runs even if OpenMP grants fewer threads than asked.
    for (std::int64_t t = omp_get_thread_num(); t < used; t += omp_get_num_threads())
      run_transpose_share(&shares, t);
  }
#else
  for (std::int64_t t = 0; t < used; ++t) run_transpose_share(&shares, t);
#endif
}

// Kernels that compute NHWC on NCHW tensors (KernelPlan::stages_nchw(): Winograd, and direct
// plans the planner stages): the team transposes src (and the residual) into the calling
// thread's staging buffer, shares the units out as for any kernel, and transposes dst back.
void run_staged(const Kernel& kernel, const KernelState& k, const RunBuffers& r, int team,
                ThreadPool* pool) {
  const ConvShape& s = k.shape;
  const std::int64_t in_pixels = s.h * s.w, out_pixels = s.out_h * s.out_w;
  const std::size_t images = static_cast<std::size_t>(r.images);
  const std::size_t image_src_floats = k.image_src_bytes / sizeof(float);  // staging is fp32
  const std::size_t image_dst_floats = k.image_dst_bytes / sizeof(float);
  const std::size_t src_floats = (image_src_floats * images + 15) / 16 * 16;  // dst 64-byte aligned
  float* staged_src = thread_staging(src_floats + image_dst_floats * images);
  float* staged_dst = staged_src + src_floats;
  const BatchTranspose src_in = planes_to_pixels(r.src, staged_src, r.images, s.c, in_pixels);
  // The staged residual is dst itself, which the kernels read just before they store.
  const BatchTranspose residual_in =
      planes_to_pixels(r.residual ? r.residual : r.dst, staged_dst, r.images, s.oc, out_pixels);
  transpose_shared(src_in, r.residual ? &residual_in : nullptr, team, pool);
  const RunBuffers staged{staged_src, r.weights, r.bias, staged_dst, r.residual ? staged_dst : nullptr,
                          r.images};
  run_checked(kernel, k, staged, team, pool);
  transpose_shared(pixels_to_planes(staged_dst, r.dst, r.images, s.oc, out_pixels), nullptr, team, pool);
}

}  // namespace

namespace {

[[noreturn, gnu::noinline, gnu::cold]] void refuse_float_tensors(const KernelState& k) {
  throw Error("src", "this kernel takes " + std::string(to_string(k.shape.src_type)) +
                         " input and gives " + std::string(to_string(k.shape.dst_type)) +
                         " output: pass the tensors as bytes, run_bytes()");
}

}  // namespace

void Kernel::run(const float* src, const PackedWeights& weights, float* dst, int threads) const {
  const KernelState& k = *state_;
  if (k.quantized) [[unlikely]] refuse_float_tensors(k);
  if (!src) throw Error("src", "is a null pointer");
  if (!dst) throw Error("dst", "is a null pointer");
  check_threads(threads);
  check_weights(k, weights);
  if (k.add_residual)
    throw Error("residual", "is required: this kernel adds one (add=1); pass it in RunOptions");
  if (footprints_overlap(src_footprint(k, src, k.images), dst_footprint(k, dst, k.images)))
    throw Error("dst", "overlaps src; convjit does not convolve in place");

  const float* w = weights.data();
  const float* b = w + weights.bias_offset();
  const int team = threads > 0 ? threads : k.pool ? team_size(k, 0, k.pool) : k.default_threads;
  if (k.stages_nchw) [[unlikely]] {
    run_staged(*this, k, RunBuffers{src, w, b, dst, nullptr, k.images}, team, k.pool);
    return;
  }
  if (team == 1 && !k.verbose) [[likely]] {
    run_images(k, KernelCallArgs{src, w, b, dst, 0, k.units}, k.images);
    return;
  }
  run_checked(*this, k, RunBuffers{src, w, b, dst, nullptr, k.images}, team, k.pool);
}

void Kernel::run(const float* src, const PackedWeights& weights, float* dst,
                 const RunOptions& options) const {
  if (state_->quantized) [[unlikely]] refuse_float_tensors(*state_);
  run_bytes(src, weights, dst, options);
}

void Kernel::run_bytes(const void* src_bytes, const PackedWeights& weights, void* dst_bytes,
                 const RunOptions& options) const {
  const KernelState& k = *state_;
  // The arguments' pointer types are float's; the kernel addresses bytes of its own types.
  const auto* src = static_cast<const float*>(src_bytes);
  auto* dst = static_cast<float*>(dst_bytes);
  if (!src) throw Error("src", "is a null pointer");
  if (!dst) throw Error("dst", "is a null pointer");
  check_threads(options.threads);
  check_weights(k, weights);
  const std::int64_t images = options.batch.value_or(k.images);
  if (images <= 0) throw Error("batch", "must be positive, got " + std::to_string(images));
  if (images > kMaxBatch)
    throw Error("batch", std::to_string(images) + " is above the supported maximum " +
                             std::to_string(kMaxBatch));
  ThreadPool* pool = k.pool;
  if (options.pool) {
    if (!*options.pool)
      throw Error("pool", "is a null pointer; leave RunOptions::pool unset for the default");
    pool = *options.pool;
  }
  const int team = team_size(k, options.threads, pool);
  const Footprint in = src_footprint(k, src, images), out = dst_footprint(k, dst, images);
  if (footprints_overlap(in, out))
    throw Error("dst", "overlaps src; convjit does not convolve in place");
  if (k.add_residual) {
    if (!options.residual)
      throw Error("residual", "is a null pointer; this kernel adds one (add=1)");
    const Footprint residual{options.residual, out.extent, out.stride, out.channels};
    if (footprints_overlap(in, residual))
      throw Error("residual", "overlaps src; it may only be dst itself or apart from both");
    if (options.residual != dst && footprints_overlap(out, residual))
      throw Error("residual", "partly overlaps dst; pass dst itself to accumulate in place");
  } else if (options.residual) {
    throw Error("residual", "was given, but this kernel adds none (compile it with add=1)");
  }

  const float* w = weights.data();
  const float* b = w + weights.bias_offset();
  if (k.stages_nchw) [[unlikely]] {
    run_staged(*this, k, RunBuffers{src, w, b, dst, options.residual, images}, team, pool);
    return;
  }
  if (team == 1 && !k.verbose) [[likely]] {
    run_images(k, KernelCallArgs{src, w, b, dst, 0, k.units, 0, INT64_MAX, options.residual},
               images);
    return;
  }
  run_checked(*this, k, RunBuffers{src, w, b, dst, options.residual, images}, team, pool);
}

}  // namespace convjit
