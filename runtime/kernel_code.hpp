#pragma once
// KernelCode: the executable half of a Kernel, one implementation per backend.
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace convjit {

// What a generated entry point receives: one image, output rows [row_begin, row_end) of the
// channel tiles [tile_begin, tile_end) (numbered over groups × channel tiles, see
// channel_tile_count()). Passed by pointer in the first argument register; emitters address
// fields by offsetof.
struct KernelCallArgs {
  const float* src;      // this image
  const float* weights;  // packed
  const float* bias;     // packed, padded to whole vectors
  float* dst;            // this image
  std::int64_t row_begin;
  std::int64_t row_end;
  std::int64_t tile_begin = 0;
  std::int64_t tile_end = INT64_MAX;
};

class KernelCode {
 public:
  using Entry = void (*)(const KernelCallArgs*);

  virtual ~KernelCode() = default;
  // The generated function itself, for backends that have one: run() calls it directly
  // and skips the virtual call (it matters on tiny shapes).
  virtual Entry entry() const noexcept { return nullptr; }
  virtual std::string_view backend() const noexcept = 0;
  virtual void call(const KernelCallArgs& args) const = 0;
  // True when the code reads weights in the user's layout (the reference) rather than the
  // plan's packed layout.
  virtual bool takes_user_layout() const noexcept { return false; }
  // True when call() honours tile_begin/tile_end, so run() may split channels across threads.
  virtual bool splits_channel_tiles() const noexcept { return false; }
  // The generated machine code, empty for ahead-of-time backends.
  virtual std::span<const std::uint8_t> machine_code() const { return {}; }
  // The generated LLVM IR, empty for other backends.
  virtual std::string ir() const { return {}; }
};

}  // namespace convjit
