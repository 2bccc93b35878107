// oneDNN (2.x) convolution_forward on NHWC activations: the optimised-library baseline.
// Primitive creation, weight reorder and scratchpad allocation happen in prepare(); run()
// points the src/dst memory objects at the caller's buffers (when they change) and executes.
#include "bench/baseline.hpp"

#include <convjit/error.hpp>

#include <dnnl.hpp>
#include <omp.h>

#include <cstdlib>
#include <string>
#include <unordered_map>

namespace convjit::bench {
namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;
using dt = dnnl::memory::data_type;

const char* isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::all: return "all";
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx512_mic: return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops: return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
  }
  return "?";
}

// oneDNN's OpenMP runtime takes its team size from the calling thread's OpenMP ICV, both
// when a primitive is created (blocking decisions) and when it runs.
class OmpThreads {
 public:
  explicit OmpThreads(int threads) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(threads);
  }
  ~OmpThreads() { omp_set_num_threads(previous_); }
  OmpThreads(const OmpThreads&) = delete;
  OmpThreads& operator=(const OmpThreads&) = delete;

 private:
  int previous_;
};

class OneDnnPrepared final : public PreparedConv {
 public:
  OneDnnPrepared(const ConvShape& s, const float* weights_hwio, const float* bias, int threads)
      : threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    OmpThreads omp(threads_);
    const memory::dim g = s.groups, icg = s.ic_per_group(), ocg = s.oc_per_group();
    const memory::desc src_md({s.n, s.c, s.h, s.w}, dt::f32, tag::nhwc);
    const memory::desc dst_md({s.n, s.oc, s.out_h, s.out_w}, dt::f32, tag::nhwc);
    const memory::desc bias_md({s.oc}, dt::f32, tag::x);

    // The user's HWIO weights, O running over all output channels (o = group·ocg + og),
    // described by strides so one description covers plain and grouped convolutions.
    const memory::dim s_o = 1, s_i = s.oc, s_x = icg * s.oc, s_y = s.kw * icg * s.oc;
    memory::desc user_w_md;
    memory::dims w_dims;
    if (g == 1) {
      w_dims = {s.oc, icg, s.kh, s.kw};
      user_w_md = memory::desc(w_dims, dt::f32, memory::dims{s_o, s_i, s_y, s_x});
    } else {
      w_dims = {g, ocg, icg, s.kh, s.kw};
      user_w_md = memory::desc(w_dims, dt::f32, memory::dims{ocg * s_o, s_o, s_i, s_y, s_x});
    }
    const memory::desc any_w_md(w_dims, dt::f32, tag::any);

    dnnl::post_ops ops;
    switch (s.act.kind) {
      case ActivationKind::none: break;
      case ActivationKind::relu:
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        break;
      case ActivationKind::clamp:
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_clip, s.act.lo, s.act.hi);
        break;
    }
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

    const memory::dims strides{s.sh, s.sw};
    const memory::dims dilates{s.dh - 1, s.dw - 1};  // oneDNN counts dilation from 0
    const memory::dims pad_l{s.pad_top, s.pad_left};
    const memory::dims pad_r{s.pad_bottom, s.pad_right};
    const auto desc =
        s.bias ? dnnl::convolution_forward::desc(
                     dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_auto,
                     src_md, any_w_md, bias_md, dst_md, strides, dilates, pad_l, pad_r)
               : dnnl::convolution_forward::desc(
                     dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_auto,
                     src_md, any_w_md, dst_md, strides, dilates, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
    if (pd.src_desc() != src_md || pd.dst_desc() != dst_md)
      throw Error("baseline", "onednn: the chosen implementation does not take NHWC src/dst");
    impl_ = pd.impl_info_str();
    primitive_ = dnnl::convolution_forward(pd);

    weights_ = memory(pd.weights_desc(), engine_);
    {
      memory user_w(user_w_md, engine_, const_cast<float*>(weights_hwio));
      dnnl::reorder(user_w, weights_).execute(stream_, user_w, weights_);
    }
    src_ = memory(src_md, engine_, DNNL_MEMORY_NONE);
    dst_ = memory(dst_md, engine_, DNNL_MEMORY_NONE);
    scratchpad_ = memory(pd.scratchpad_desc(), engine_);
    args_ = {{DNNL_ARG_SRC, src_},
             {DNNL_ARG_WEIGHTS, weights_},
             {DNNL_ARG_DST, dst_},
             {DNNL_ARG_SCRATCHPAD, scratchpad_}};
    if (s.bias) {
      bias_ = memory(pd.bias_desc(), engine_);
      float* b = static_cast<float*>(bias_.get_data_handle());
      for (std::int64_t o = 0; o < s.oc; ++o) b[o] = bias ? bias[o] : 0.0f;
      args_.emplace(DNNL_ARG_BIAS, bias_);
    }
    stream_.wait();
  }

  void run(const float* src, float* dst) override {
    OmpThreads omp(threads_);
    if (src != last_src_) src_.set_data_handle(const_cast<float*>(src)), last_src_ = src;
    if (dst != last_dst_) dst_.set_data_handle(dst), last_dst_ = dst;
    primitive_.execute(stream_, args_);
    stream_.wait();
  }

  std::string describe() const override { return impl_; }

 private:
  int threads_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive primitive_;
  memory src_, dst_, weights_, bias_, scratchpad_;
  std::unordered_map<int, memory> args_;
  std::string impl_;
  const float* last_src_ = nullptr;
  const float* last_dst_ = nullptr;
};

class OneDnnBaseline final : public Baseline {
 public:
  std::string name() const override { return "onednn"; }
  std::string version() const override {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " (effective isa " +
           isa_name(dnnl::get_effective_cpu_isa()) +
           (std::getenv("DNNL_MAX_CPU_ISA") ? std::string("; DNNL_MAX_CPU_ISA=") +
                                                    std::getenv("DNNL_MAX_CPU_ISA")
                                              : std::string("; uncapped")) +
           "; convolution_auto, scratchpad user)";
  }
  std::string unsupported_reason(const ConvShape& s) const override {
    if (s.layout != Layout::nhwc) return "baselines take NHWC activations only";
    return {};
  }
  std::unique_ptr<PreparedConv> prepare(const ConvShape& s, const float* weights_hwio,
                                        const float* bias, int threads) const override {
    if (auto why = unsupported_reason(s); !why.empty()) throw Error("baseline", "onednn: " + why);
    try {
      return std::make_unique<OneDnnPrepared>(s, weights_hwio, bias, threads < 1 ? 1 : threads);
    } catch (const dnnl::error& e) {
      throw Error("baseline", std::string("onednn: ") + e.what());
    }
  }
};

}  // namespace

std::unique_ptr<Baseline> make_onednn_baseline() { return std::make_unique<OneDnnBaseline>(); }

}  // namespace convjit::bench
