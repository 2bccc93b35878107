// The baseline registry: which outside libraries this build was configured with.
#include "bench/baseline.hpp"

#include <convjit/error.hpp>

namespace convjit::bench {

PreparedConv::~PreparedConv() = default;
Baseline::~Baseline() = default;

std::unique_ptr<PreparedConv> Baseline::prepare_quantized(const ConvShape&, const Quantization&,
                                                          const std::int8_t*, const std::int32_t*,
                                                          int) const {
  throw Error("baseline", name() + ": computes fp32 only");
}

#ifdef CONVJIT_HAVE_ONEDNN
std::unique_ptr<Baseline> make_onednn_baseline();
std::unique_ptr<Baseline> make_onednn_winograd_baseline();
#endif
#ifdef CONVJIT_HAVE_XNNPACK
std::unique_ptr<Baseline> make_xnnpack_baseline();
#endif
#ifdef CONVJIT_HAVE_OPENBLAS
std::unique_ptr<Baseline> make_im2col_openblas_baseline();
#endif

std::vector<std::unique_ptr<Baseline>> available_baselines() {
  std::vector<std::unique_ptr<Baseline>> out;
#ifdef CONVJIT_HAVE_ONEDNN
  out.push_back(make_onednn_baseline());
  out.push_back(make_onednn_winograd_baseline());
#endif
#ifdef CONVJIT_HAVE_XNNPACK
  out.push_back(make_xnnpack_baseline());
#endif
#ifdef CONVJIT_HAVE_OPENBLAS
  out.push_back(make_im2col_openblas_baseline());
#endif
  return out;
}

const std::vector<std::string>& known_baseline_names() {
  static const std::vector<std::string> names{"onednn", "onednn_winograd", "xnnpack",
                                                "im2col_openblas"};
  return names;
}

std::string baseline_missing_reason(const std::string& name) {
  const char* disabled = "";
#ifdef CONVJIT_BENCH_BASELINES_DISABLED
  disabled = " (CONVJIT_BUILD_BENCH_BASELINES=OFF)";
#endif
  if (name == "onednn" || name == "onednn_winograd") {
#ifndef CONVJIT_HAVE_ONEDNN
    return std::string("not built: oneDNN (libdnnl-dev) was not found when convjit was configured") +
           disabled;
#endif
  } else if (name == "xnnpack") {
#ifndef CONVJIT_HAVE_XNNPACK
    return std::string("not built: XNNPACK (libxnnpack-dev + libpthreadpool-dev) was not found "
                       "when convjit was configured") + disabled;
#endif
  } else if (name == "im2col_openblas") {
#ifndef CONVJIT_HAVE_OPENBLAS
    return std::string("not built: OpenBLAS (libopenblas-dev) was not found when convjit was "
                       "configured") + disabled;
#endif
  } else {
    return "unknown baseline '" + name + "'";
  }
  (void)disabled;
  return {};
}

}  // namespace convjit::bench
