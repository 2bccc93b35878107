// XNNPACK convolution2d_nhwc_f32: the mobile/TFLite-style baseline. The operator (weights
// packed at creation) is built in prepare(); run() sets up the input/output pointers (only
// when they change) and runs it. Threadpool NULL = the calling thread only.
#include "bench/baseline.hpp"

#include <convjit/error.hpp>

#include <pthreadpool.h>
#include <xnnpack.h>

#include <limits>
#include <mutex>
#include <string>
#include <vector>

#ifndef CONVJIT_XNNPACK_VERSION
#define CONVJIT_XNNPACK_VERSION "unknown version"
#endif

namespace convjit::bench {
namespace {

const char* status_name(xnn_status st) {
  switch (st) {
    case xnn_status_success: return "success";
    case xnn_status_uninitialized: return "uninitialized";
    case xnn_status_invalid_parameter: return "invalid parameter";
    case xnn_status_invalid_state: return "invalid state";
    case xnn_status_unsupported_parameter: return "unsupported parameter";
    case xnn_status_unsupported_hardware: return "unsupported hardware";
    case xnn_status_out_of_memory: return "out of memory";
  }
  return "unknown status";
}

void check(xnn_status st, const char* what) {
  if (st != xnn_status_success)
    throw Error("baseline", std::string("xnnpack: ") + what + " failed: " + status_name(st));
}

void initialize_once() {
  static std::once_flag once;
  static xnn_status status = xnn_status_uninitialized;
  std::call_once(once, [] { status = xnn_initialize(nullptr); });
  check(status, "xnn_initialize");
}

class XnnpackPrepared final : public PreparedConv {
 public:
  XnnpackPrepared(const ConvShape& s, const float* weights_hwio, const float* bias, int threads)
      : shape_(s) {
    initialize_once();
    if (threads > 1) {
      pool_ = pthreadpool_create(static_cast<std::size_t>(threads));
      if (!pool_) throw Error("baseline", "xnnpack: pthreadpool_create failed");
    }
    // XNNPACK wants [groups][group_output_channels][kh][kw][group_input_channels] (OHWI with
    // O over all output channels); the user holds HWIO.
    const std::int64_t icg = s.ic_per_group();
    std::vector<float> ohwi(static_cast<std::size_t>(s.weight_elems()));
    for (std::int64_t o = 0; o < s.oc; ++o)
      for (std::int64_t y = 0; y < s.kh; ++y)
        for (std::int64_t x = 0; x < s.kw; ++x)
          for (std::int64_t i = 0; i < icg; ++i)
            ohwi[static_cast<std::size_t>(((o * s.kh + y) * s.kw + x) * icg + i)] =
                weights_hwio[((y * s.kw + x) * icg + i) * s.oc + o];

    float lo = -std::numeric_limits<float>::infinity();
    float hi = std::numeric_limits<float>::infinity();
    if (s.act.kind == ActivationKind::relu) lo = 0.0f;
    if (s.act.kind == ActivationKind::clamp) lo = s.act.lo, hi = s.act.hi;

    const xnn_status st = xnn_create_convolution2d_nhwc_f32(
        static_cast<uint32_t>(s.pad_top), static_cast<uint32_t>(s.pad_right),
        static_cast<uint32_t>(s.pad_bottom), static_cast<uint32_t>(s.pad_left),
        static_cast<uint32_t>(s.kh), static_cast<uint32_t>(s.kw), static_cast<uint32_t>(s.sh),
        static_cast<uint32_t>(s.sw), static_cast<uint32_t>(s.dh), static_cast<uint32_t>(s.dw),
        static_cast<uint32_t>(s.groups), static_cast<std::size_t>(icg),
        static_cast<std::size_t>(s.oc_per_group()), static_cast<std::size_t>(s.c),
        static_cast<std::size_t>(s.oc), ohwi.data(), (s.bias && bias) ? bias : nullptr, lo, hi,
        0, &op_);
    if (st != xnn_status_success) {
      destroy();
      check(st, "xnn_create_convolution2d_nhwc_f32");
    }
  }

  ~XnnpackPrepared() override { destroy(); }

  std::string describe() const override { return "xnn_convolution2d_nhwc_f32"; }

  // Set up again only when the buffers change, as XNNPACK's own runtime does (setup rebuilds
  // the indirection buffer; repeated inference on the same buffers just runs the operator).
  void run(const float* src, float* dst) override {
    if (src != last_src_ || dst != last_dst_) {
      check(xnn_setup_convolution2d_nhwc_f32(op_, static_cast<std::size_t>(shape_.n),
                                             static_cast<std::size_t>(shape_.h),
                                             static_cast<std::size_t>(shape_.w), src, dst, pool_),
            "xnn_setup_convolution2d_nhwc_f32");
      last_src_ = src;
      last_dst_ = dst;
    }
    check(xnn_run_operator(op_, pool_), "xnn_run_operator");
  }

 private:
  void destroy() {
    if (op_) xnn_delete_operator(op_);
    if (pool_) pthreadpool_destroy(pool_);
    op_ = nullptr;
    pool_ = nullptr;
  }

  ConvShape shape_;
  xnn_operator_t op_ = nullptr;
  pthreadpool_t pool_ = nullptr;
  const float* last_src_ = nullptr;
  const float* last_dst_ = nullptr;
};

class XnnpackBaseline final : public Baseline {
 public:
  std::string name() const override { return "xnnpack"; }
  std::string version() const override {
    return std::string("XNNPACK ") + CONVJIT_XNNPACK_VERSION +
           " (no version API; convolution2d_nhwc_f32, own ISA dispatch)";
  }
  std::string unsupported_reason(const ConvShape& s) const override {
    if (s.layout != Layout::nhwc) return "baselines take NHWC activations only";
    if (s.act.kind == ActivationKind::clamp && !(s.act.lo < s.act.hi))
      return "XNNPACK needs output_min < output_max";
    // Its convolution operator fuses only an output clamp; a separate operator would time
    // something else than one fused layer.
    if (s.act.kind != ActivationKind::none && s.act.kind != ActivationKind::relu &&
        s.act.kind != ActivationKind::clamp) {
      const std::string act = to_string(s.act);
      return "not comparable: XNNPACK's convolution fuses no " + act.substr(0, act.find(':')) +
             " (only an output clamp)";
    }
    return {};
  }
  std::unique_ptr<PreparedConv> prepare(const ConvShape& s, const float* weights_hwio,
                                        const float* bias, int threads) const override {
    if (auto why = unsupported_reason(s); !why.empty()) throw Error("baseline", "xnnpack: " + why);
    return std::make_unique<XnnpackPrepared>(s, weights_hwio, bias, threads);
  }
};

}  // namespace

std::unique_ptr<Baseline> make_xnnpack_baseline() { return std::make_unique<XnnpackBaseline>(); }

}  // namespace convjit::bench
