#pragma once
// convjit.Kernel's C++ side, shared by both extension modules (the type is registered once, by
// _native; _torch_native receives it through pybind11's shared type registry).
#include "layer.hpp"

#include <convjit/convjit.hpp>

#include <memory>
#include <vector>

namespace convjit::python {

struct KernelHandle {
  std::shared_ptr<const Kernel> kernel;
};

// Kernel dims in the order of the kernel's layout: (n, c, h, w) or (n, h, w, c).
std::vector<std::int64_t> input_dims(const ConvShape& shape);
std::vector<std::int64_t> output_dims(const ConvShape& shape);
// PyTorch's weight layout (OIHW), whatever the kernel's activation layout.
std::vector<std::int64_t> weight_dims(const ConvShape& shape);

// Run with the GIL released when the kernel is long enough for that to pay.
void run_kernel(const Kernel& kernel, const float* src, const PackedWeights& packed, float* dst,
                int threads, bool release_gil);
void run_compiled(const CompiledInput& compiled, const float* src, float* dst, int threads);

}  // namespace convjit::python
