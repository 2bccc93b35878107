// GenericCode: the "what you would write without a JIT" baseline.
//
// It follows the same plan as the JIT kernels (strategy, register tile ur_w × oc_tile, the
// packed weight layout of generator/packed_layout.hpp) but is compiled ahead of time (-O3 -mavx2 -mfma,
// set on this file only by CMakeLists.txt): every loop bound is a runtime value, the
// accumulator tile is a fixed-size array used up to ur_w × oc_tile, and each kernel tap is
// checked against the image borders at run time instead of being left out at generation
// time. Channel and column tails use masked loads/stores, so nothing outside src, dst or the
// packed weights is ever read or written.
#include <convjit/error.hpp>

#include "generator/kernel_schedule.hpp"
#include "generator/packed_layout.hpp"
#include "generator/generic/generic_code.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace convjit {
namespace {

constexpr int kLanes = 8;             // AVX2 vectors: the Jit gives this backend avx2 plans
constexpr int kMaxAccumulators = 16;  // the register tile, ur_w × oc_tile
constexpr int kMaxOcTile = 8;
constexpr int kMaxUrW = 16;

// All-ones in the first `lanes` lanes.
inline __m256i first_lanes_mask(int lanes) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The schedule's TileEpilogue, activation part (bias is folded into the accumulators first,
// the residual is added by the stores): its vector operations translated to AVX2, exactly as
// evaluate_vector_ops specifies them, over up to kMaxAccumulators vectors at a time (one
// dispatch per operation, not per vector). Vector 0 is the values themselves, 1..temporaries
// scratch.
class Epilogue {
 public:
  static constexpr int kMaxTemporaries = 7;

  explicit Epilogue(const TileEpilogue& e) : temporaries_(e.temporaries) {
    if (e.temporaries < 0 || e.temporaries > kMaxTemporaries)
      throw Error("plan", "an activation with " + std::to_string(e.temporaries) +
                              " temporaries is more than the generic kernel supports");
    for (const VectorOp& o : e.activation) {
      for (int operand : {o.dst, o.a, o.b})
        if (operand < 0 || operand > e.temporaries)
          throw Error("plan", "an activation operation names vector " + std::to_string(operand) +
                                  " of " + std::to_string(e.temporaries + 1));
      ops_.push_back({o.kind, o.dst, o.a, o.b, _mm256_set1_ps(o.constant)});
    }
  }

  bool empty() const { return ops_.empty(); }

  // v[0..count) in place, count <= kMaxAccumulators.
  void operator()(__m256* v, int count) const {
    if (ops_.empty()) return;
    __m256 scratch[kMaxTemporaries][kMaxAccumulators];
    __m256* vec[kMaxTemporaries + 1] = {v};
    for (int k = 1; k <= temporaries_; ++k) vec[k] = scratch[k - 1];
    for (const Op& o : ops_) {
      __m256* d = vec[o.dst];
      const __m256* a = vec[o.a];
      const __m256* b = vec[o.b];
      const __m256 c = o.constant;
      switch (o.kind) {
        case VectorOpKind::add_constant: for (int i = 0; i < count; ++i) d[i] = _mm256_add_ps(a[i], c); break;
        case VectorOpKind::mul_constant: for (int i = 0; i < count; ++i) d[i] = _mm256_mul_ps(a[i], c); break;
        case VectorOpKind::max_constant: for (int i = 0; i < count; ++i) d[i] = _mm256_max_ps(a[i], c); break;
        case VectorOpKind::min_constant: for (int i = 0; i < count; ++i) d[i] = _mm256_min_ps(a[i], c); break;
        case VectorOpKind::mul: for (int i = 0; i < count; ++i) d[i] = _mm256_mul_ps(a[i], b[i]); break;
        case VectorOpKind::max: for (int i = 0; i < count; ++i) d[i] = _mm256_max_ps(a[i], b[i]); break;
        case VectorOpKind::min: for (int i = 0; i < count; ++i) d[i] = _mm256_min_ps(a[i], b[i]); break;
        case VectorOpKind::div: for (int i = 0; i < count; ++i) d[i] = _mm256_div_ps(a[i], b[i]); break;
        case VectorOpKind::constant_div: for (int i = 0; i < count; ++i) d[i] = _mm256_div_ps(c, a[i]); break;
        case VectorOpKind::fma_constant:
          for (int i = 0; i < count; ++i) d[i] = _mm256_fmadd_ps(a[i], b[i], c);
          break;
        case VectorOpKind::fnma_constant:  // a − b·c, one rounding
          for (int i = 0; i < count; ++i) d[i] = _mm256_fnmadd_ps(b[i], c, a[i]);
          break;
        case VectorOpKind::round_even:
          for (int i = 0; i < count; ++i) d[i] = _mm256_round_ps(a[i], _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
          break;
        case VectorOpKind::exp2_integer: {  // the exponent field of a + 127: 2^a for a in [−126, 127]
          const __m256 bias = _mm256_set1_ps(127.0f);
          for (int i = 0; i < count; ++i)
            d[i] = _mm256_castsi256_ps(
                _mm256_slli_epi32(_mm256_cvtps_epi32(_mm256_add_ps(a[i], bias)), 23));
          break;
        }
      }
    }
  }

 private:
  struct Op {
    VectorOpKind kind;
    int dst, a, b;
    __m256 constant;
  };
  std::vector<Op> ops_;
  int temporaries_ = 0;
};

// Stores an NHWC tile of nu pixels × nt channel blocks (accumulators [u * nt + t]) at dst,
// pixels `pixel_stride` floats apart; a tail block stores only its valid lanes. residual
// (or nullptr) is laid out like dst and added before the activation.
void store_channel_tile(const __m256* acc, int nu, int nt, bool tail, __m256i tail_mask,
                        const Epilogue& epilogue, float* dst, const float* residual,
                        std::int64_t pixel_stride) {
  const int full_t = tail ? nt - 1 : nt;
  __m256 v[kMaxAccumulators];
  for (int u = 0; u < nu; ++u) {
    const float* r = residual ? residual + u * pixel_stride : nullptr;
    for (int t = 0; t < nt; ++t) {
      v[u * nt + t] = acc[u * nt + t];
      if (r)
        v[u * nt + t] = _mm256_add_ps(v[u * nt + t], t < full_t ? _mm256_loadu_ps(r + t * kLanes)
                                                                : _mm256_maskload_ps(r + t * kLanes, tail_mask));
    }
  }
  epilogue(v, nu * nt);
  for (int u = 0; u < nu; ++u) {
    float* d = dst + u * pixel_stride;
    for (int t = 0; t < full_t; ++t) _mm256_storeu_ps(d + t * kLanes, v[u * nt + t]);
    if (tail) _mm256_maskstore_ps(d + full_t * kLanes, tail_mask, v[u * nt + full_t]);
  }
}

// The residual element that goes with dst element `d` of the call (nullptr without one).
inline const float* residual_at(const KernelCallArgs& a, const float* d) {
  return a.residual ? a.residual + (d - a.dst) : nullptr;
}

class GenericCode final : public KernelCode {
 public:
  explicit GenericCode(const KernelPlan& plan)
      : plan_(plan), schedule_(make_schedule(plan)) {
    if (plan_.ur_w < 1 || plan_.oc_tile < 1 || plan_.ur_w > kMaxUrW ||
        plan_.oc_tile > kMaxOcTile || plan_.ur_w * plan_.oc_tile > kMaxAccumulators)
      throw Error("plan", "register tile " + std::to_string(plan_.ur_w) + "x" +
                              std::to_string(plan_.oc_tile) +
                              " is larger than the generic kernel supports");
    if (plan_.strategy == Strategy::winograd)
      throw Error("algo", "the generic backend computes direct convolution only (it is the "
                          "baseline without a JIT); use algo=direct or auto");
    if (plan_.strategy != Strategy::width_vectors &&
        (plan_.oc_tail_lanes < 1 || plan_.oc_tail_lanes > kLanes))
      throw Error("plan", "channel tail of " + std::to_string(plan_.oc_tail_lanes) + " lanes");
  }

  std::string_view backend() const noexcept override { return "generic"; }
  bool splits_channel_tiles() const noexcept override { return true; }

  void call(const KernelCallArgs& a) const override {
    switch (plan_.strategy) {
      case Strategy::oc_vectors: run_oc_vectors(a); break;
      case Strategy::depthwise: run_depthwise(a); break;
      case Strategy::width_vectors: run_width_vectors(a); break;
      case Strategy::winograd: break;  // refused by the constructor
    }
  }

 private:
  // The schedule's channel tiles of group g that the call asked for, in its numbering:
  // visit(first_block, blocks, has_tail).
  template <class Visit>
  void for_each_requested_tile(const KernelCallArgs& a, std::int64_t g, Visit visit) const {
    for (const ChannelTileRun& run : schedule_.channel_runs)
      for (std::int64_t t = 0; t < run.count; ++t) {
        const std::int64_t index = schedule_.tile_index(g, run, t);
        if (index >= a.tile_begin && index < a.tile_end)
          visit(run.first_block + t * run.blocks, run.blocks, run.has_tail);
      }
  }
  void run_oc_vectors(const KernelCallArgs& a) const;
  void run_depthwise(const KernelCallArgs& a) const;
  void run_width_vectors(const KernelCallArgs& a) const;

  KernelPlan plan_;
  KernelSchedule schedule_;
};

// NHWC. Packed weights [g][oc_block][kh][kw][icg][8], bias [g][oc_block][8]. The tile is
// ur_w neighbouring output pixels × oc_tile blocks of 8 output channels; each input value is
// broadcast and FMA'd against the tile's weight vectors.
void GenericCode::run_oc_vectors(const KernelCallArgs& a) const {
  const ConvShape& s = plan_.shape;
  const std::int64_t icg = s.ic_per_group(), ocg = s.oc_per_group();
  const PackedLayout& w = plan_.packed;
  const std::int64_t src_row = s.w * s.src_pixel_stride(), dst_row = s.out_w * s.dst_pixel_stride();
  const int ur_w = plan_.ur_w;
  const int tail_lanes = plan_.oc_tail_lanes;
  const __m256i tail_mask = first_lanes_mask(tail_lanes);
  const Epilogue epilogue(schedule_.epilogue);

  for (std::int64_t g = 0; g < s.groups; ++g) {
    for_each_requested_tile(a, g, [&](std::int64_t ob0, int nt, bool tail) {
      const float* w_tile = a.weights + g * w.group_stride + ob0 * w.block_stride;
      const float* b_tile = a.bias + g * w.bias_group_stride + ob0 * kLanes;
      const float* src_group = a.src + g * icg;
      for (std::int64_t oh = a.unit_begin; oh < a.unit_end; ++oh) {
        float* dst_row_ptr = a.dst + oh * dst_row + g * ocg + ob0 * kLanes;
        for (std::int64_t ow0 = 0; ow0 < s.out_w; ow0 += ur_w) {
          const int nu = static_cast<int>(std::min<std::int64_t>(ur_w, s.out_w - ow0));
          __m256 acc[kMaxAccumulators];
          for (int u = 0; u < nu; ++u)
            for (int t = 0; t < nt; ++t) acc[u * nt + t] = _mm256_loadu_ps(b_tile + t * kLanes);

          for (std::int64_t y = 0; y < s.kh; ++y) {
            const std::int64_t ih = oh * s.sh - s.pad_top + y * s.dh;
            if (ih < 0 || ih >= s.h) continue;
            const float* src_ih = src_group + ih * src_row;
            for (std::int64_t x = 0; x < s.kw; ++x) {
              // The tile's pixels whose tap (y, x) lands inside the image.
              const float* in[kMaxUrW];
              int slot[kMaxUrW];
              int valid = 0;
              for (int u = 0; u < nu; ++u) {
                const std::int64_t iw = (ow0 + u) * s.sw - s.pad_left + x * s.dw;
                if (iw < 0 || iw >= s.w) continue;
                in[valid] = src_ih + iw * s.src_pixel_stride();
                slot[valid] = u * nt;
                ++valid;
              }
              if (valid == 0) continue;
              const float* w_tap = w_tile + y * w.row_stride + x * w.column_stride;
              for (std::int64_t i = 0; i < icg; ++i) {
                __m256 wv[kMaxOcTile];
                for (int t = 0; t < nt; ++t)
                  wv[t] = _mm256_loadu_ps(w_tap + t * w.block_stride + i * w.input_stride);
                for (int k = 0; k < valid; ++k) {
                  const __m256 v = _mm256_broadcast_ss(in[k] + i);
                  __m256* acc_u = acc + slot[k];
                  for (int t = 0; t < nt; ++t) acc_u[t] = _mm256_fmadd_ps(v, wv[t], acc_u[t]);
                }
              }
            }
          }

          float* d = dst_row_ptr + ow0 * s.dst_pixel_stride();
          store_channel_tile(acc, nu, nt, tail, tail_mask, epilogue, d, residual_at(a, d),
                             s.dst_pixel_stride());
        }
      }
    });
  }
}

// NHWC, g = c = oc. Packed weights [c_block][kh][kw][8], bias [c_block][8]. The tile is
// ur_w output pixels × oc_tile blocks of 8 channels; input, weight and output vectors all
// hold the same 8 channels, so there is no broadcast.
void GenericCode::run_depthwise(const KernelCallArgs& a) const {
  const ConvShape& s = plan_.shape;
  const std::int64_t src_row = s.w * s.src_pixel_stride(), dst_row = s.out_w * s.dst_pixel_stride();
  const int ur_w = plan_.ur_w;
  const int tail_lanes = plan_.oc_tail_lanes;
  const __m256i tail_mask = first_lanes_mask(tail_lanes);
  const Epilogue epilogue(schedule_.epilogue);
  const PackedLayout& w = plan_.packed;

  for_each_requested_tile(a, 0, [&](std::int64_t cb0, int nt, bool tail) {
    const int full_t = tail ? nt - 1 : nt;
    const float* w_tile = a.weights + cb0 * w.block_stride;
    const float* b_tile = a.bias + cb0 * kLanes;
    const float* src_block = a.src + cb0 * kLanes;
    for (std::int64_t oh = a.unit_begin; oh < a.unit_end; ++oh) {
      float* dst_row_ptr = a.dst + oh * dst_row + cb0 * kLanes;
      for (std::int64_t ow0 = 0; ow0 < s.out_w; ow0 += ur_w) {
        const int nu = static_cast<int>(std::min<std::int64_t>(ur_w, s.out_w - ow0));
        __m256 acc[kMaxAccumulators];
        for (int u = 0; u < nu; ++u)
          for (int t = 0; t < nt; ++t) acc[u * nt + t] = _mm256_loadu_ps(b_tile + t * kLanes);

        for (std::int64_t y = 0; y < s.kh; ++y) {
          const std::int64_t ih = oh * s.sh - s.pad_top + y * s.dh;
          if (ih < 0 || ih >= s.h) continue;
          const float* src_ih = src_block + ih * src_row;
          for (std::int64_t x = 0; x < s.kw; ++x) {
            const float* w_tap = w_tile + y * w.row_stride + x * w.column_stride;
            __m256 wv[kMaxOcTile];
            for (int t = 0; t < nt; ++t) wv[t] = _mm256_loadu_ps(w_tap + t * w.block_stride);
            for (int u = 0; u < nu; ++u) {
              const std::int64_t iw = (ow0 + u) * s.sw - s.pad_left + x * s.dw;
              if (iw < 0 || iw >= s.w) continue;
              const float* in = src_ih + iw * s.src_pixel_stride();
              __m256* acc_u = acc + u * nt;
              for (int t = 0; t < full_t; ++t)
                acc_u[t] = _mm256_fmadd_ps(_mm256_loadu_ps(in + t * kLanes), wv[t], acc_u[t]);
              if (tail)
                acc_u[full_t] = _mm256_fmadd_ps(_mm256_maskload_ps(in + full_t * kLanes, tail_mask),
                                                wv[full_t], acc_u[full_t]);
            }
          }
        }

        float* d = dst_row_ptr + ow0 * s.dst_pixel_stride();
        store_channel_tile(acc, nu, nt, tail, tail_mask, epilogue, d, residual_at(a, d),
                           s.dst_pixel_stride());
      }
    }
  });
}

// NCHW (and NHWC with c = oc = 1, the same memory). Packed weights OIHW [oc][icg][kh][kw],
// bias [oc]. The tile is ur_w vectors of 8 neighbouring output columns × oc_tile output
// channels; each weight is broadcast against the tile's input vectors.
void GenericCode::run_width_vectors(const KernelCallArgs& a) const {
  const ConvShape& s = plan_.shape;
  const std::int64_t icg = s.ic_per_group(), ocg = s.oc_per_group();
  const std::int64_t in_plane = s.h * s.w, out_plane = s.out_h * s.out_w;
  const PackedLayout& w = plan_.packed;  // OIHW: a block is one output channel
  const int ur_w = plan_.ur_w;
  const std::int64_t tile_columns = static_cast<std::int64_t>(ur_w) * kLanes;
  const Epilogue epilogue(schedule_.epilogue);
  // Lane offsets of a full, in-bounds vector with stride > 1 (gathered).
  const __m256i stride_index = _mm256_mullo_epi32(
      _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(s.sw)));

  for (std::int64_t g = 0; g < s.groups; ++g) {
    for_each_requested_tile(a, g, [&](std::int64_t o0, int nt, bool) {
      const std::int64_t oc_first = g * ocg + o0;
      const float* w_tile = a.weights + g * w.group_stride + o0 * w.block_stride;
      for (std::int64_t oh = a.unit_begin; oh < a.unit_end; ++oh) {
        for (std::int64_t ow0 = 0; ow0 < s.out_w; ow0 += tile_columns) {
          const std::int64_t columns = std::min<std::int64_t>(tile_columns, s.out_w - ow0);
          const int nu = static_cast<int>((columns + kLanes - 1) / kLanes);
          __m256 acc[kMaxAccumulators];
          for (int t = 0; t < nt; ++t) {
            const __m256 b = _mm256_broadcast_ss(a.bias + oc_first + t);
            for (int u = 0; u < nu; ++u) acc[u * nt + t] = b;
          }

          for (std::int64_t i = 0; i < icg; ++i) {
            const float* plane = a.src + (g * icg + i) * in_plane;
            const float* w_ic = w_tile + i * w.input_stride;
            for (std::int64_t y = 0; y < s.kh; ++y) {
              const std::int64_t ih = oh * s.sh - s.pad_top + y * s.dh;
              if (ih < 0 || ih >= s.h) continue;
              const float* row = plane + ih * s.w;
              for (std::int64_t x = 0; x < s.kw; ++x) {
                // Input vectors: lane l of vector u is output column ow0 + 8u + l.
                __m256 in[kMaxUrW];
                for (int u = 0; u < nu; ++u) {
                  const std::int64_t ow = ow0 + u * kLanes;
                  const std::int64_t lanes = std::min<std::int64_t>(kLanes, s.out_w - ow);
                  const std::int64_t iw = ow * s.sw - s.pad_left + x * s.dw;  // lane 0
                  if (lanes == kLanes && iw >= 0 && iw + (kLanes - 1) * s.sw < s.w) {
                    in[u] = s.sw == 1 ? _mm256_loadu_ps(row + iw)
                                      : _mm256_i32gather_ps(row + iw, stride_index, 4);
                    continue;
                  }
                  // Border or column tail: gather only the lanes inside the row.
                  alignas(32) std::int32_t index[kLanes];
                  alignas(32) std::int32_t mask[kLanes];
                  bool any = false;
                  for (int l = 0; l < kLanes; ++l) {
                    const std::int64_t c = iw + l * s.sw;
                    const bool inside = l < lanes && c >= 0 && c < s.w;
                    index[l] = inside ? static_cast<std::int32_t>(c) : 0;
                    mask[l] = inside ? -1 : 0;
                    any |= inside;
                  }
                  in[u] = any ? _mm256_mask_i32gather_ps(
                                    _mm256_setzero_ps(), row,
                                    _mm256_load_si256(reinterpret_cast<const __m256i*>(index)),
                                    _mm256_castsi256_ps(_mm256_load_si256(
                                        reinterpret_cast<const __m256i*>(mask))),
                                    4)
                              : _mm256_setzero_ps();
                }
                const float* w_tap = w_ic + y * w.row_stride + x * w.column_stride;
                for (int t = 0; t < nt; ++t) {
                  const __m256 wb = _mm256_broadcast_ss(w_tap + t * w.block_stride);
                  for (int u = 0; u < nu; ++u)
                    acc[u * nt + t] = _mm256_fmadd_ps(in[u], wb, acc[u * nt + t]);
                }
              }
            }
          }

          for (int t = 0; t < nt; ++t) {
            float* d = a.dst + (oc_first + t) * out_plane + oh * s.out_w + ow0;
            const float* r = residual_at(a, d);
            __m256 v[kMaxUrW];
            __m256i mask[kMaxUrW];
            for (int u = 0; u < nu; ++u) {
              const std::int64_t lanes = std::min<std::int64_t>(kLanes, columns - u * kLanes);
              mask[u] = first_lanes_mask(static_cast<int>(lanes));
              v[u] = acc[u * nt + t];
              if (r)
                v[u] = _mm256_add_ps(v[u], lanes == kLanes ? _mm256_loadu_ps(r + u * kLanes)
                                                           : _mm256_maskload_ps(r + u * kLanes, mask[u]));
            }
            epilogue(v, nu);
            for (int u = 0; u < nu; ++u) {
              if (columns - u * kLanes >= kLanes)
                _mm256_storeu_ps(d + u * kLanes, v[u]);
              else
                _mm256_maskstore_ps(d + u * kLanes, mask[u], v[u]);
            }
          }
        }
      }
    });
  }
}

}  // namespace

std::shared_ptr<const KernelCode> make_generic_code(const KernelPlan& plan) {
  return std::make_shared<GenericCode>(plan);
}

}  // namespace convjit
