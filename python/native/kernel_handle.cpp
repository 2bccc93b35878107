#include "kernel_handle.hpp"

#include <pybind11/pybind11.h>

namespace convjit::python {

std::vector<std::int64_t> input_dims(const ConvShape& s) {
  if (s.layout == Layout::nchw) return {s.n, s.c, s.h, s.w};
  return {s.n, s.h, s.w, s.c};
}

std::vector<std::int64_t> output_dims(const ConvShape& s) {
  if (s.layout == Layout::nchw) return {s.n, s.oc, s.out_h, s.out_w};
  return {s.n, s.out_h, s.out_w, s.oc};
}

std::vector<std::int64_t> weight_dims(const ConvShape& s) { return {s.oc, s.ic_per_group(), s.kh, s.kw}; }

void run_kernel(const Kernel& kernel, const float* src, const PackedWeights& packed, float* dst,
                int threads, bool release_gil) {
  if (!release_gil) {
    kernel.run(src, packed, dst, threads);
    return;
  }
  pybind11::gil_scoped_release unlocked;
  kernel.run(src, packed, dst, threads);
}

void run_compiled(const CompiledInput& compiled, const float* src, float* dst, int threads) {
  if (!compiled.worth_releasing_gil) {
    compiled.run(src, dst, threads);
    return;
  }
  pybind11::gil_scoped_release unlocked;
  compiled.run(src, dst, threads);
}

}  // namespace convjit::python
