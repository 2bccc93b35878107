// im2col + OpenBLAS sgemm: the classic way (Caffe, early frameworks) to turn a convolution
// into one matrix product per image and group.
//
// NHWC makes it simple: for image n and group g,
//   col[M = out_h·out_w][K = kh·kw·icg]   the receptive field of each output pixel, zeros
//                                         where a tap falls in the padding;
//   W_g = the user's HWIO weights seen as a K × oc matrix, columns g·ocg … g·ocg+ocg−1
//         (ldb = oc, so no reorder at all);
//   dst[M][oc] columns of group g (ldc = oc) = bias + col · W_g.
// A 1×1, stride-1, unpadded convolution with one group skips im2col (col is src itself),
// as every im2col implementation does. Activation is applied after the product.
//
// OpenBLAS is loaded with dlopen on first use rather than linked: a DYNAMIC_ARCH OpenBLAS picks
// its kernels in a load-time constructor, and 0.3.21 does not recognise recent CPUs (e.g.
// family 6 model 207) and falls back to "Prescott" SSE3 kernels, several times slower than
// what the CPU can do. Loading it ourselves lets us set OPENBLAS_CORETYPE first (only when the
// user has not): SkylakeX on AVX-512 CPUs, Haswell on AVX2 ones. version() says what happened.
#include "bench/baseline.hpp"
#include "core/reference.hpp"

#include <convjit/error.hpp>

#include <cblas.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#ifndef CONVJIT_OPENBLAS_SONAME
#define CONVJIT_OPENBLAS_SONAME "libopenblas.so.0"
#endif

namespace convjit::bench {
namespace {

struct OpenblasApi {
  decltype(&cblas_sgemm) sgemm = nullptr;
  decltype(&openblas_set_num_threads) set_num_threads = nullptr;
  decltype(&openblas_get_num_threads) get_num_threads = nullptr;
  decltype(&openblas_get_config) get_config = nullptr;
  decltype(&openblas_get_corename) get_corename = nullptr;
  std::string error;  // why it could not be loaded; empty when loaded
  std::string note;   // what we did about the core type

  static const OpenblasApi& get() {
    static const OpenblasApi api = load();
    return api;
  }

 private:
  static const char* wanted_coretype() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512cd"))
      return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return nullptr;
  }

  static OpenblasApi load() {
    OpenblasApi api;
    if (const char* user = std::getenv("OPENBLAS_CORETYPE"); user && *user) {
      api.note = std::string("OPENBLAS_CORETYPE=") + user + " from the environment";
    } else if (const char* core = wanted_coretype()) {
      setenv("OPENBLAS_CORETYPE", core, 0);
      api.note = std::string("OPENBLAS_CORETYPE=") + core +
                 " set by convjit bench (autodetection misses recent CPUs)";
    } else {
      api.note = "OpenBLAS autodetected core";
    }
    void* lib = nullptr;
    for (const char* name : {CONVJIT_OPENBLAS_SONAME, "libopenblas.so.0", "libopenblas.so"})
      if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
    if (!lib) {
      const char* why = dlerror();
      api.error = std::string("cannot load OpenBLAS (") + CONVJIT_OPENBLAS_SONAME + "): " +
                  (why ? why : "dlopen failed");
      return api;
    }
    auto sym = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(lib, name));
      if (!fn && api.error.empty()) api.error = std::string("OpenBLAS lacks ") + name;
    };
    sym(api.sgemm, "cblas_sgemm");
    sym(api.set_num_threads, "openblas_set_num_threads");
    sym(api.get_num_threads, "openblas_get_num_threads");
    sym(api.get_config, "openblas_get_config");
    sym(api.get_corename, "openblas_get_corename");
    return api;
  }
};

class Im2colPrepared final : public PreparedConv {
 public:
  Im2colPrepared(const ConvShape& s, const float* weights_hwio, const float* bias, int threads)
      : s_(s),
        threads_(threads < 1 ? 1 : threads),
        m_(s.out_h * s.out_w),
        k_(s.kh * s.kw * s.ic_per_group()),
        weights_(weights_hwio, weights_hwio + s.weight_elems()),
        bias_(static_cast<std::size_t>(s.oc), 0.0f) {
    if (s.bias && bias) std::copy(bias, bias + s.oc, bias_.begin());
    direct_ = s.kh == 1 && s.kw == 1 && s.sh == 1 && s.sw == 1 && s.pad_top == 0 &&
              s.pad_bottom == 0 && s.pad_left == 0 && s.pad_right == 0 && s.groups == 1;
    if (!direct_) col_.assign(static_cast<std::size_t>(m_ * k_), 0.0f);
  }

  void run(const float* src, float* dst) override {
    const OpenblasApi& blas = OpenblasApi::get();
    if (blas.get_num_threads() != threads_) blas.set_num_threads(threads_);
    const std::int64_t ocg = s_.oc_per_group();
    const std::int64_t src_image = s_.h * s_.w * s_.c, dst_image = m_ * s_.oc;
    for (std::int64_t n = 0; n < s_.n; ++n) {
      const float* x = src + n * src_image;
      float* y = dst + n * dst_image;
      for (std::int64_t p = 0; p < m_; ++p) std::memcpy(y + p * s_.oc, bias_.data(), s_.oc * 4);
      for (std::int64_t g = 0; g < s_.groups; ++g) {
        const float* a = x;
        std::int64_t lda = s_.c;
        if (!direct_) {
          im2col(x, g);
          a = col_.data();
          lda = k_;
        }
        blas.sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(m_),
                    static_cast<int>(ocg), static_cast<int>(k_), 1.0f, a, static_cast<int>(lda),
                    weights_.data() + g * ocg, static_cast<int>(s_.oc), 1.0f, y + g * ocg,
                    static_cast<int>(s_.oc));
      }
      activate(y);
    }
  }

  std::string describe() const override {
    return direct_ ? "sgemm on src (1x1: no im2col)" : "im2col + sgemm per image and group";
  }

 private:
  void im2col(const float* x, std::int64_t g) {
    const std::int64_t icg = s_.ic_per_group();
    float* col = col_.data();
    for (std::int64_t oh = 0; oh < s_.out_h; ++oh) {
      for (std::int64_t ow = 0; ow < s_.out_w; ++ow) {
        float* row = col + (oh * s_.out_w + ow) * k_;
        for (std::int64_t ky = 0; ky < s_.kh; ++ky) {
          const std::int64_t ih = oh * s_.sh - s_.pad_top + ky * s_.dh;
          for (std::int64_t kx = 0; kx < s_.kw; ++kx) {
            float* out = row + (ky * s_.kw + kx) * icg;
            const std::int64_t iw = ow * s_.sw - s_.pad_left + kx * s_.dw;
            if (ih < 0 || ih >= s_.h || iw < 0 || iw >= s_.w) {
              std::fill(out, out + icg, 0.0f);
            } else {
              const float* in = x + (ih * s_.w + iw) * s_.c + g * icg;
              std::copy(in, in + icg, out);
            }
          }
        }
      }
    }
  }

  void activate(float* y) const {
    const std::int64_t count = m_ * s_.oc;
    switch (s_.act.kind) {
      case ActivationKind::none: return;
      case ActivationKind::relu:
        for (std::int64_t i = 0; i < count; ++i) y[i] = std::max(y[i], 0.0f);
        return;
      case ActivationKind::clamp:
        for (std::int64_t i = 0; i < count; ++i)
          y[i] = std::min(std::max(y[i], s_.act.lo), s_.act.hi);
        return;
      default:  // the others as the reference computes them
        for (std::int64_t i = 0; i < count; ++i) y[i] = apply_activation(s_.act, y[i]);
        return;
    }
  }

  ConvShape s_;
  int threads_;
  std::int64_t m_, k_;
  bool direct_ = false;
  std::vector<float> weights_;
  std::vector<float> bias_;
  std::vector<float> col_;
};

class Im2colOpenblasBaseline final : public Baseline {
 public:
  std::string name() const override { return "im2col_openblas"; }
  std::string version() const override {
    const OpenblasApi& blas = OpenblasApi::get();
    if (!blas.error.empty()) return blas.error;
    std::string config = blas.get_config();
    while (!config.empty() && config.back() == ' ') config.pop_back();
    return config + " (core " + blas.get_corename() + "; " + blas.note + ")";
  }
  std::string unsupported_reason(const ConvShape& s) const override {
    if (const OpenblasApi& blas = OpenblasApi::get(); !blas.error.empty()) return blas.error;
    if (s.layout != Layout::nhwc) return "baselines take NHWC activations only";
    constexpr std::int64_t int_max = 0x7fffffff;
    if (s.out_h * s.out_w * s.kh * s.kw * s.ic_per_group() > int_max || s.oc > int_max)
      return "im2col matrix larger than BLAS int indices";
    return {};
  }
  std::unique_ptr<PreparedConv> prepare(const ConvShape& s, const float* weights_hwio,
                                        const float* bias, int threads) const override {
    if (auto why = unsupported_reason(s); !why.empty())
      throw Error("baseline", "im2col_openblas: " + why);
    return std::make_unique<Im2colPrepared>(s, weights_hwio, bias, threads);
  }
};

}  // namespace

std::unique_ptr<Baseline> make_im2col_openblas_baseline() {
  return std::make_unique<Im2colOpenblasBaseline>();
}

}  // namespace convjit::bench
