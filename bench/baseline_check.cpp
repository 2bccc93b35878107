// Every baseline against the reference convolution on shapes that catch layout and padding
// mistakes. A baseline either refuses a shape (unsupported_reason) or computes it right.
// Exit 0: all good; 1: some baseline was wrong.
#include "bench/baseline.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

int main() {
  namespace cb = convjit::bench;
  const char* specs[] = {
      "c=1,h=8,w=8,oc=1,k=3,p=valid",
      "c=3,h=17,w=13,oc=10,k=3,p=same",
      "c=8,h=16,w=16,oc=16,k=3,s=2,p=same",             // stride 2, extra pad after
      "c=8,h=16,w=16,oc=16,k=3,s=2,p=same_lower",       // stride 2, extra pad before
      "c=16,h=20,w=20,oc=8,k=3,d=2,p=2",                 // dilation 2
      "c=6,h=12,w=11,oc=9,kh=3,kw=2,dh=2,dw=3,pt=2,pb=0,pl=1,pr=3",  // asymmetric everything
      "c=8,h=10,w=10,oc=12,k=3,g=2,p=1",                 // groups
      "c=12,h=9,w=9,oc=6,k=3,g=3,s=2,pt=1,pb=2,pl=0,pr=1",  // groups, stride 2, asymmetric
      "c=16,h=14,w=14,oc=16,k=3,g=16,p=1",               // depthwise
      "c=16,h=14,w=14,oc=32,k=3,g=16,p=1",               // depthwise, multiplier 2
      "c=32,h=7,w=7,oc=16,k=1",                          // pointwise
      "n=3,c=5,h=9,w=9,oc=7,k=3,p=1,act=relu",           // batch, relu
      "c=4,h=9,w=9,oc=8,k=3,p=1,bias=0,act=clamp:-0.5:0.25",
      "c=4,h=9,w=9,oc=8,k=5,s=3,p=same,bias=0",
      "c=16,h=14,w=14,oc=32,k=3,p=1",                    // Winograd-eligible (onednn_winograd)
      "c=64,h=13,w=13,oc=48,k=3,p=1,act=relu",          // Winograd, partial tiles, relu
      "c=8,h=9,w=9,oc=12,k=3,p=1,act=leaky_relu:0.2",    // the eltwise post-ops (xnnpack refuses)
      "c=8,h=9,w=9,oc=12,k=3,p=1,act=leaky_relu:-0.5",
      "c=16,h=10,w=10,oc=16,k=3,g=16,p=1,act=hardswish",
      "c=8,h=9,w=9,oc=12,k=1,act=silu",
      "c=8,h=9,w=9,oc=12,k=3,p=1,act=sigmoid",
      "c=4,h=8,w=8,oc=8,k=3,p=1,layout=nchw",            // must be refused
  };
  const auto baselines = cb::available_baselines();
  if (baselines.empty()) {
    std::cout << "no baselines built: nothing to check\n";
    return 0;
  }
  for (const auto& b : baselines) std::cout << b->name() << ": " << b->version() << "\n";
  int failures = 0;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  for (const char* spec : specs) {
    const convjit::ConvShape s = convjit::ConvSpec::parse(spec).resolve();
    std::vector<float> src(s.src_elems()), w(s.weight_elems()), bias(s.oc), ref(s.dst_elems());
    for (float& v : src) v = uni(rng);
    for (float& v : w) v = uni(rng);
    for (float& v : bias) v = uni(rng);
    convjit::reference_conv(s, src.data(), w.data(), bias.data(), ref.data());
    double scale = 1;
    for (float v : ref) scale = std::max(scale, double(std::fabs(v)));
    for (const auto& b : baselines) {
      std::cout << "  " << b->name() << "  " << spec << ": ";
      if (!b->supports(s)) {
        std::cout << "refused (" << b->unsupported_reason(s) << ")\n";
        continue;
      }
      try {
        auto p = b->prepare(s, w.data(), s.bias ? bias.data() : nullptr, 1);
        std::vector<float> out(s.dst_elems(), std::numeric_limits<float>::quiet_NaN());
        p->stage_input(src.data());
        p->run(src.data(), out.data());
        p->run(src.data(), out.data());  // twice: re-running must not accumulate
        p->finish_output(out.data());
        double worst = 0;
        for (std::size_t i = 0; i < out.size(); ++i) {
          const double e = std::fabs(double(out[i]) - double(ref[i]));
          if (!(e <= worst)) worst = std::isnan(e) ? INFINITY : e;
        }
        // This check's own bound, or the algorithm's (core/tolerance.hpp) where looser.
        const double bound = std::max(1e-4 * scale, convjit::tolerance(s, p->algorithm(), ref));
        const bool ok = worst <= bound;
        std::cout << (ok ? "ok" : "WRONG") << " (max abs err " << worst << ", "
                  << to_string(p->algorithm()) << ")\n";
        failures += !ok;
      } catch (const std::exception& e) {
        // Refusing at prepare time is allowed too; it must not be a wrong answer.
        std::cout << "refused at prepare (" << e.what() << ")\n";
      }
    }
  }
  std::cout << (failures ? "FAILED: " : "all baselines correct or refusing: ") << failures
            << " wrong\n";
  return failures ? 1 : 0;
}
