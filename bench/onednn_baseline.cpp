// oneDNN (2.x) convolution_forward: the optimised-library baselines.
//   onednn           convolution_auto on the user's NHWC activations;
//   onednn_winograd  convolution_winograd (F(2x2, 3x3) or F(4x4, 3x3), oneDNN's choice) with
//                    src and dst in the layout the implementation prefers (format `any`),
//                    converted outside the timed loop.
// One class serves both: they differ only in the algorithm and in whose layout the
// activations are in. Primitive creation, weight reorder and scratchpad allocation happen in
// prepare(); run() points the src/dst memory objects at the caller's buffers (when they
// change) or, in the implementation's layout, at its own, and executes.
#include "bench/baseline.hpp"

#include <convjit/error.hpp>

#include <dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <vector>
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

dt onednn_type(DataType type) {
  switch (type) {
    case DataType::u8: return dt::u8;
    case DataType::s8: return dt::s8;
    case DataType::s32: return dt::s32;
    case DataType::f32: break;
  }
  return dt::f32;
}

// The user's HWIO weights as oneDNN's [g][oc][ic][kh][kw] dimensions (O running over all
// output channels, o = group·ocg + og), described by strides so one description covers plain
// and grouped convolutions.
memory::desc hwio_weights(const ConvShape& s, dt type, memory::dims& dims) {
  const memory::dim g = s.groups, icg = s.ic_per_group(), ocg = s.oc_per_group();
  const memory::dim s_o = 1, s_i = s.oc, s_x = icg * s.oc, s_y = s.kw * icg * s.oc;
  if (g == 1) {
    dims = {s.oc, icg, s.kh, s.kw};
    return memory::desc(dims, type, memory::dims{s_o, s_i, s_y, s_x});
  }
  dims = {g, ocg, icg, s.kh, s.kw};
  return memory::desc(dims, type, memory::dims{ocg * s_o, s_o, s_i, s_y, s_x});
}

// What tells the two oneDNN baselines apart.
struct OneDnnVariant {
  const char* name;
  dnnl::algorithm algorithm;
  // src and dst in the layout the implementation picks (format `any`) rather than NHWC.
  bool own_layout;
  // The error bound the output is held to (Winograd: refined by the implementation chosen).
  Algorithm bound;
  const char* algorithm_name;
};

constexpr OneDnnVariant direct_variant{"onednn", dnnl::algorithm::convolution_auto, false,
                                       Algorithm::direct, "convolution_auto"};
constexpr OneDnnVariant winograd_variant{"onednn_winograd",
                                         dnnl::algorithm::convolution_winograd, true,
                                         Algorithm::winograd_f4, "convolution_winograd"};

class OneDnnPrepared final : public PreparedConv {
 public:
  OneDnnPrepared(const ConvShape& s, const float* weights_hwio, const float* bias, int threads,
                 const OneDnnVariant& variant)
      : threads_(threads), variant_(variant), engine_(dnnl::engine::kind::cpu, 0),
        stream_(engine_) {
    OmpThreads omp(threads_);
    const memory::desc user_src_md({s.n, s.c, s.h, s.w}, dt::f32, tag::nhwc);
    const memory::desc user_dst_md({s.n, s.oc, s.out_h, s.out_w}, dt::f32, tag::nhwc);
    const tag activations = variant_.own_layout ? tag::any : tag::nhwc;
    const memory::desc src_md({s.n, s.c, s.h, s.w}, dt::f32, activations);
    const memory::desc dst_md({s.n, s.oc, s.out_h, s.out_w}, dt::f32, activations);
    const memory::desc bias_md({s.oc}, dt::f32, tag::x);

    memory::dims w_dims;
    const memory::desc user_w_md = hwio_weights(s, dt::f32, w_dims);
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
      case ActivationKind::leaky_relu:  // relu's alpha is the slope below zero
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, s.act.alpha, 0.0f);
        break;
      case ActivationKind::hardswish:  // x·ReLU6(x + 3)/6 (alpha and beta unused in 2.x)
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_hardswish, 0.0f, 0.0f);
        break;
      case ActivationKind::silu:  // swish: x·sigmoid(alpha·x)
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.0f, 0.0f);
        break;
      case ActivationKind::sigmoid:
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_logistic, 0.0f, 0.0f);
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
                     dnnl::prop_kind::forward_inference, variant_.algorithm,
                     src_md, any_w_md, bias_md, dst_md, strides, dilates, pad_l, pad_r)
               : dnnl::convolution_forward::desc(
                     dnnl::prop_kind::forward_inference, variant_.algorithm,
                     src_md, any_w_md, dst_md, strides, dilates, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
    if (!variant_.own_layout && (pd.src_desc() != src_md || pd.dst_desc() != dst_md))
      throw Error("baseline", "onednn: the chosen implementation does not take NHWC src/dst");
    impl_ = pd.impl_info_str();
    // oneDNN 2.6 has two f32 Winograd kernels, jit_fp32_wino_2x3 (F(2x2, 3x3)) and
    // jit_fp32_wino_4x3 (F(4x4, 3x3)); each is held to the bound of its tile size.
    bound_ = variant_.bound;
    if (bound_ != Algorithm::direct)
      bound_ = impl_.find("wino_2x3") != std::string::npos ? Algorithm::winograd_f2
                                                           : Algorithm::winograd_f4;
    if (variant_.own_layout)
      impl_ += pd.src_desc() == user_src_md && pd.dst_desc() == user_dst_md
                   ? " (NHWC)"
                   : " (its own src/dst layout; reorders untimed)";
    primitive_ = dnnl::convolution_forward(pd);

    weights_ = memory(pd.weights_desc(), engine_);
    {
      memory user_w(user_w_md, engine_, const_cast<float*>(weights_hwio));
      dnnl::reorder(user_w, weights_).execute(stream_, user_w, weights_);
    }
    if (variant_.own_layout) {
      // run() works on these; the reorders to and from the user's NHWC are not timed.
      src_ = memory(pd.src_desc(), engine_);
      dst_ = memory(pd.dst_desc(), engine_);
      user_src_ = memory(user_src_md, engine_, DNNL_MEMORY_NONE);
      user_dst_ = memory(user_dst_md, engine_, DNNL_MEMORY_NONE);
      stage_ = dnnl::reorder(user_src_, src_);
      finish_ = dnnl::reorder(dst_, user_dst_);
    } else {
      src_ = memory(src_md, engine_, DNNL_MEMORY_NONE);
      dst_ = memory(dst_md, engine_, DNNL_MEMORY_NONE);
    }
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
    if (!variant_.own_layout) {
      if (src != last_src_) src_.set_data_handle(const_cast<float*>(src)), last_src_ = src;
      if (dst != last_dst_) dst_.set_data_handle(dst), last_dst_ = dst;
    }
    primitive_.execute(stream_, args_);
    stream_.wait();
  }

  void stage_input(const float* src) override {
    if (!variant_.own_layout) return;
    OmpThreads omp(threads_);
    user_src_.set_data_handle(const_cast<float*>(src));
    stage_.execute(stream_, user_src_, src_);
    stream_.wait();
  }

  void finish_output(float* dst) override {
    if (!variant_.own_layout) return;
    OmpThreads omp(threads_);
    user_dst_.set_data_handle(dst);
    finish_.execute(stream_, dst_, user_dst_);
    stream_.wait();
  }

  std::string describe() const override { return impl_; }
  Algorithm algorithm() const override { return bound_; }

 private:
  int threads_;
  const OneDnnVariant& variant_;
  dnnl::engine engine_;
  dnnl::stream stream_;
  dnnl::primitive primitive_;
  memory src_, dst_, weights_, bias_, scratchpad_;
  // Own layout only: the user's NHWC buffers and the reorders between them and src_/dst_.
  memory user_src_, user_dst_;
  dnnl::reorder stage_, finish_;
  std::unordered_map<int, memory> args_;
  std::string impl_;
  Algorithm bound_ = Algorithm::direct;
  const float* last_src_ = nullptr;
  const float* last_dst_ = nullptr;
};

// oneDNN's int8 convolution (x8s8s32x): u8 or s8 NHWC input with its zero point, s8 weights
// with per-channel output scales, the int32 bias added to the accumulator, ReLU as a post-op,
// the output's zero point, NHWC output of the shape's type.
class OneDnnQuantizedPrepared final : public PreparedConv {
 public:
  OneDnnQuantizedPrepared(const ConvShape& s, const Quantization& q, const std::int8_t* weights,
                          const std::int32_t* bias, int threads)
      : threads_(threads), engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {
    OmpThreads omp(threads_);
    const memory::desc src_md({s.n, s.c, s.h, s.w}, onednn_type(s.src_type), tag::nhwc);
    const memory::desc dst_md({s.n, s.oc, s.out_h, s.out_w}, onednn_type(s.dst_type), tag::nhwc);
    const memory::desc bias_md({s.oc}, dt::s32, tag::x);
    memory::dims w_dims;
    const memory::desc user_w_md = hwio_weights(s, dt::s8, w_dims);
    const memory::desc any_w_md(w_dims, dt::s8, tag::any);

    dnnl::primitive_attr attr;
    std::vector<float> scales(static_cast<std::size_t>(s.oc), 1.0f);
    for (std::int64_t o = 0; o < s.oc; ++o) {
      const float input_times_weight = q.input_scale * q.weight_scale(o);
      if (s.dst_type == DataType::u8 || s.dst_type == DataType::s8)
        scales[static_cast<std::size_t>(o)] = input_times_weight / q.output_scale;
      else if (s.dst_type == DataType::f32)
        scales[static_cast<std::size_t>(o)] = input_times_weight;
    }
    attr.set_output_scales(1 << 1, scales);
    if (q.input_zero_point != 0) attr.set_zero_points(DNNL_ARG_SRC, 0, {q.input_zero_point});
    if (q.output_zero_point != 0) attr.set_zero_points(DNNL_ARG_DST, 0, {q.output_zero_point});
    dnnl::post_ops ops;
    if (s.act.kind == ActivationKind::relu)
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
    attr.set_post_ops(ops);
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);

    const memory::dims strides{s.sh, s.sw}, dilates{s.dh - 1, s.dw - 1};
    const memory::dims pad_l{s.pad_top, s.pad_left}, pad_r{s.pad_bottom, s.pad_right};
    const auto desc =
        bias ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                               dnnl::algorithm::convolution_direct, src_md,
                                               any_w_md, bias_md, dst_md, strides, dilates, pad_l, pad_r)
             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                               dnnl::algorithm::convolution_direct, src_md,
                                               any_w_md, dst_md, strides, dilates, pad_l, pad_r);
    const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine_);
    impl_ = pd.impl_info_str();
    primitive_ = dnnl::convolution_forward(pd);
    weights_ = memory(pd.weights_desc(), engine_);
    {
      // The reorder into the implementation's weights computes its zero-point compensation.
      memory user_w(user_w_md, engine_, const_cast<std::int8_t*>(weights));
      dnnl::reorder(user_w, weights_).execute(stream_, user_w, weights_);
    }
    src_ = memory(src_md, engine_, DNNL_MEMORY_NONE);
    dst_ = memory(dst_md, engine_, DNNL_MEMORY_NONE);
    scratchpad_ = memory(pd.scratchpad_desc(), engine_);
    args_ = {{DNNL_ARG_SRC, src_}, {DNNL_ARG_WEIGHTS, weights_}, {DNNL_ARG_DST, dst_},
             {DNNL_ARG_SCRATCHPAD, scratchpad_}};
    if (bias) {
      bias_ = memory(bias_md, engine_);
      std::copy(bias, bias + s.oc, static_cast<std::int32_t*>(bias_.get_data_handle()));
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
  explicit OneDnnBaseline(const OneDnnVariant& variant) : variant_(variant) {}
  std::string name() const override { return variant_.name; }
  std::string version() const override {
    const dnnl_version_t* v = dnnl_version();
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
           std::to_string(v->patch) + " (effective isa " + effective_isa() +
           (std::getenv("DNNL_MAX_CPU_ISA") ? std::string("; DNNL_MAX_CPU_ISA=") +
                                                    std::getenv("DNNL_MAX_CPU_ISA")
                                              : std::string("; uncapped")) +
           "; " + variant_.algorithm_name +
           (variant_.own_layout ? ", src/dst/weights in its layout (format any), reorders untimed"
                                : "") +
           ", scratchpad user)";
  }
  std::string unsupported_reason(const ConvShape& s) const override {
    if (s.layout != Layout::nhwc) return "baselines take NHWC activations only";
    if (s.quantized() && variant_.own_layout) return "oneDNN's Winograd is fp32 only";
    return {};
  }
  bool computes_8bit() const override { return !variant_.own_layout; }
  std::unique_ptr<PreparedConv> prepare_quantized(const ConvShape& s, const Quantization& q,
                                                  const std::int8_t* weights,
                                                  const std::int32_t* bias,
                                                  int threads) const override {
    try {
      return std::make_unique<OneDnnQuantizedPrepared>(s, q, weights, bias, threads < 1 ? 1 : threads);
    } catch (const dnnl::error& e) {
      throw Error("baseline", std::string(variant_.name) + " int8: " + e.what());
    }
  }
  std::unique_ptr<PreparedConv> prepare(const ConvShape& s, const float* weights_hwio,
                                        const float* bias, int threads) const override {
    const std::string name = variant_.name;
    if (auto why = unsupported_reason(s); !why.empty()) throw Error("baseline", name + ": " + why);
    try {
      return std::make_unique<OneDnnPrepared>(s, weights_hwio, bias, threads < 1 ? 1 : threads,
                                              variant_);
    } catch (const dnnl::error& e) {
      // oneDNN says "unimplemented" when no implementation of the algorithm takes the shape
      // on this ISA: for Winograd that is an answer (n/a), not a failure.
      if (e.status == dnnl_unimplemented && variant_.algorithm == dnnl::algorithm::convolution_winograd)
        throw Error("baseline", "n/a: oneDNN has no " + std::string(variant_.algorithm_name) +
                                    " implementation for this shape at isa " + effective_isa());
      throw Error("baseline", name + ": " + e.what());
    }
  }

 private:
  static std::string effective_isa() { return isa_name(dnnl::get_effective_cpu_isa()); }
  const OneDnnVariant& variant_;
};

}  // namespace

std::unique_ptr<Baseline> make_onednn_baseline() {
  return std::make_unique<OneDnnBaseline>(direct_variant);
}
std::unique_ptr<Baseline> make_onednn_winograd_baseline() {
  return std::make_unique<OneDnnBaseline>(winograd_variant);
}

}  // namespace convjit::bench
