#include "runtime/thread_scratch.hpp"

#include <memory>
#include <new>

namespace convjit {
namespace {

struct AlignedDelete {
  void operator()(float* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

struct ScratchBuffer {
  std::unique_ptr<float[], AlignedDelete> data;
  std::size_t floats = 0;
};

thread_local ScratchBuffer scratch;
thread_local ScratchBuffer staging;

float* at_least(ScratchBuffer& buffer, std::size_t floats) {
  if (floats > buffer.floats) [[unlikely]] {
    buffer.data.reset();
    buffer.floats = 0;
    buffer.data.reset(static_cast<float*>(::operator new[](floats * sizeof(float), std::align_val_t{64})));
    buffer.floats = floats;
  }
  return buffer.data.get();
}

}  // namespace

float* thread_scratch(std::size_t floats) { return at_least(scratch, floats); }

float* thread_staging(std::size_t floats) { return at_least(staging, floats); }

}  // namespace convjit
