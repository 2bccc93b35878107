// Splitting a large NHWC convolution into bands of output rows (layer.hpp says why).
#include "layer.hpp"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string>

namespace convjit::python {
namespace {

constexpr std::size_t kFallbackL2Bytes = 1 << 20;
constexpr std::size_t kActivationsPerWeight = 8;

std::size_t half_l2_bytes() {
  static const std::size_t bytes = [] {
    const long l2 = ::sysconf(_SC_LEVEL2_CACHE_SIZE);
    return (l2 > 0 ? static_cast<std::size_t>(l2) : kFallbackL2Bytes) / 2;
  }();
  return bytes;
}

// The input rows output rows [first, last) read, and the padding they need above and below.
struct BandRows {
  std::int64_t first_input_row, input_rows, pad_top, pad_bottom;
};

BandRows band_rows(const ConvShape& s, std::int64_t first, std::int64_t last) {
  const std::int64_t extent = effective_kernel(s.kh, s.dh);
  const std::int64_t begin = first * s.sh - s.pad_top;
  const std::int64_t end = (last - 1) * s.sh - s.pad_top + extent;
  const std::int64_t clipped_begin = std::max<std::int64_t>(begin, 0), clipped_end = std::min(end, s.h);
  return {clipped_begin, clipped_end - clipped_begin, clipped_begin - begin, end - clipped_end};
}

// An earlier copy in the same format, if there is one (PackedWeights work for every kernel of
// their format), else `fresh`.
PackedWeights shared_packing(const std::map<const Kernel*, PackedWeights>& packed, PackedWeights fresh) {
  for (const auto& [kernel, weights] : packed)
    if (!weights.empty() && weights.format() == fresh.format()) return weights;
  return fresh;
}

}  // namespace

std::size_t band_budget_bytes() {
  const char* env = std::getenv("CONVJIT_BAND_BYTES");
  if (!env || !*env) return half_l2_bytes();
  char* end = nullptr;
  const long long bytes = std::strtoll(env, &end, 10);
  if (*end != '\0' || bytes < 0)
    throw Error("CONVJIT_BAND_BYTES", "expected a byte count (0: no bands), got '" + std::string(env) + "'");
  return static_cast<std::size_t>(bytes);
}

std::vector<Band> plan_bands(const LayerParams& params, const ConvShape& whole,
                             const LayerWeights& weights, std::size_t budget_bytes) {
  const ConvShape& s = whole;
  const std::size_t in_row = static_cast<std::size_t>(s.w * s.c) * sizeof(float);
  const std::size_t out_row = static_cast<std::size_t>(s.out_w * s.oc) * sizeof(float);
  const std::size_t image_bytes = static_cast<std::size_t>(s.h) * in_row + static_cast<std::size_t>(s.out_h) * out_row;
  const std::int64_t extent = effective_kernel(s.kh, s.dh);
  const std::size_t halo = static_cast<std::size_t>(std::max<std::int64_t>(extent - s.sh, 0)) * in_row;
  // Bands re-read the weights once each: worth it only where activations outweigh them by far
  // (measured: 64→64 at 224×224 gains a quarter, 512→512 at 28×28 loses a few percent).
  const std::size_t weight_bytes = static_cast<std::size_t>(params.weight_elems()) * sizeof(float);
  // Small images fit already; padding taller than the kernel could leave a band without rows.
  if (budget_bytes == 0 || image_bytes <= 2 * budget_bytes || image_bytes < kActivationsPerWeight * weight_bytes ||
      s.pad_top >= extent || s.pad_bottom >= extent)
    return {};
  const std::size_t per_output_row = static_cast<std::size_t>(s.sh) * in_row + out_row;
  const std::int64_t rows = budget_bytes > halo + per_output_row
                                ? static_cast<std::int64_t>((budget_bytes - halo) / per_output_row)
                                : 1;
  if (rows >= s.out_h) return {};

  std::vector<Band> bands;
  // First, middle and last bands differ at most; kernels whose packing agrees share one copy.
  std::map<const Kernel*, PackedWeights> packed;
  for (std::int64_t first = 0; first < s.out_h; first += rows) {
    const std::int64_t last = std::min(first + rows, s.out_h);
    const BandRows r = band_rows(s, first, last);
    LayerParams band_params = params;
    band_params.pad_top = r.pad_top;
    band_params.pad_bottom = r.pad_bottom;
    Band band;
    band.kernel = kernel_for(band_params, 1, r.input_rows, s.w, Layout::nhwc);
    auto [it, fresh] = packed.try_emplace(band.kernel.get());
    if (fresh) it->second = shared_packing(packed, pack_oihw(*band.kernel, weights.oihw, weights.bias));
    band.packed = it->second;
    band.src_offset = static_cast<std::size_t>(r.first_input_row * s.w * s.c);
    band.dst_offset = static_cast<std::size_t>(first * s.out_w * s.oc);
    bands.push_back(std::move(band));
  }
  return bands;
}

}  // namespace convjit::python
