#include "runtime/pack.hpp"

#include "core/reference.hpp"

#include <algorithm>

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

}  // namespace

void pack_for_plan(const KernelPlan& plan, const float* weights, const float* bias, float* out) {
  switch (plan.strategy) {
    case Strategy::oc_vectors: pack_oc_vectors(plan, weights, bias, out); break;
    case Strategy::depthwise: pack_depthwise(plan, weights, bias, out); break;
    case Strategy::width_vectors: pack_width_vectors(plan, weights, bias, out); break;
  }
}

}  // namespace convjit
