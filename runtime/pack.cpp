#include "runtime/pack.hpp"

#include "core/reference.hpp"
#include "generator/winograd_transform.hpp"

#include <algorithm>
#include <vector>

namespace convjit {
namespace {

void pack_oc_vectors(const KernelPlan& p, const float* weights, const float* bias, float* out) {
  const ConvShape& s = p.shape;
  const std::int64_t icg = s.ic_per_group(), ocg = s.oc_per_group();
  float* w = out;
  for (std::int64_t g = 0; g < s.groups; ++g)
    for (std::int64_t ob = 0; ob < p.oc_blocks; ++ob)
      for (std::int64_t y = 0; y < s.kh; ++y)
        for (std::int64_t x = 0; x < s.kw; ++x)
          for (std::int64_t i = 0; i < icg; ++i)
            for (std::int64_t lane = 0; lane < p.lanes; ++lane) {
              const std::int64_t o = ob * p.lanes + lane;
              *w++ = o < ocg ? weights[user_weight_index(s, g * ocg + o, i, y, x)] : 0.0f;
            }
  float* b = out + p.packed_weight_floats;
  for (std::int64_t g = 0; g < s.groups; ++g)
    for (std::int64_t o = 0; o < p.oc_blocks * p.lanes; ++o)
      *b++ = (bias && s.bias && o < ocg) ? bias[g * ocg + o] : 0.0f;
}

void pack_depthwise(const KernelPlan& p, const float* weights, const float* bias, float* out) {
  const ConvShape& s = p.shape;
  float* w = out;
  for (std::int64_t cb = 0; cb < p.oc_blocks; ++cb)
    for (std::int64_t y = 0; y < s.kh; ++y)
      for (std::int64_t x = 0; x < s.kw; ++x)
        for (std::int64_t lane = 0; lane < p.lanes; ++lane) {
          const std::int64_t c = cb * p.lanes + lane;
          *w++ = c < s.c ? weights[user_weight_index(s, c, 0, y, x)] : 0.0f;
        }
  float* b = out + p.packed_weight_floats;
  for (std::int64_t c = 0; c < p.oc_blocks * p.lanes; ++c)
    *b++ = (bias && s.bias && c < s.oc) ? bias[c] : 0.0f;
}

void pack_width_vectors(const KernelPlan& p, const float* weights, const float* bias, float* out) {
  const ConvShape& s = p.shape;
  float* w = out;
  for (std::int64_t o = 0; o < s.oc; ++o)
    for (std::int64_t i = 0; i < s.ic_per_group(); ++i)
      for (std::int64_t y = 0; y < s.kh; ++y)
        for (std::int64_t x = 0; x < s.kw; ++x) *w++ = weights[user_weight_index(s, o, i, y, x)];
  float* b = out + p.packed_weight_floats;
  for (std::int64_t o = 0; o < s.oc; ++o) *b++ = (bias && s.bias) ? bias[o] : 0.0f;
}

// U[e][ob][ic][lane] = (G g Gᵀ)[e] of the 3x3 kernel from input channel ic to output
// channel ob·lanes + lane, in double and rounded once.
void pack_winograd(const KernelPlan& p, const float* weights, const float* bias, float* out) {
  const ConvShape& s = p.shape;
  const WinogradTransform& t = winograd_transform(p.winograd.m);
  const int a = t.alpha;
  const std::int64_t per_element = p.oc_blocks * s.c * p.lanes;
  std::fill(out, out + p.packed_weight_floats, 0.0f);
  std::vector<double> gg(static_cast<std::size_t>(a) * 3), u(static_cast<std::size_t>(a) * a);
  for (std::int64_t o = 0; o < s.oc; ++o)
    for (std::int64_t i = 0; i < s.c; ++i) {
      for (int r = 0; r < a; ++r)  // G g
        for (int x = 0; x < 3; ++x) {
          double v = 0;
          for (int y = 0; y < 3; ++y) v += t.g_at(r, y) * weights[user_weight_index(s, o, i, y, x)];
          gg[r * 3 + x] = v;
        }
      for (int r = 0; r < a; ++r)  // (G g) Gᵀ
        for (int c = 0; c < a; ++c) {
          double v = 0;
          for (int x = 0; x < 3; ++x) v += gg[r * 3 + x] * t.g_at(c, x);
          u[r * a + c] = v;
        }
      const std::int64_t ob = o / p.lanes, lane = o % p.lanes;
      for (int e = 0; e < a * a; ++e)
        out[e * per_element + (ob * s.c + i) * p.lanes + lane] = static_cast<float>(u[e]);
    }
  float* b = out + p.packed_weight_floats;
  for (std::int64_t o = 0; o < p.oc_blocks * p.lanes; ++o)
    *b++ = (bias && s.bias && o < s.oc) ? bias[o] : 0.0f;
}

}  // namespace

void pack_for_plan(const KernelPlan& plan, const float* weights, const float* bias, float* out) {
  switch (plan.strategy) {
    case Strategy::oc_vectors: pack_oc_vectors(plan, weights, bias, out); break;
    case Strategy::depthwise: pack_depthwise(plan, weights, bias, out); break;
    case Strategy::width_vectors: pack_width_vectors(plan, weights, bias, out); break;
    case Strategy::winograd: pack_winograd(plan, weights, bias, out); break;
  }
}

}  // namespace convjit
