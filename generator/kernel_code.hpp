#pragma once
// KernelCode: the executable half of a Kernel, one implementation per backend (each backend
// under generator/ has a factory header that makes its own).
#include "generator/kernel_call_args.hpp"

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace convjit {

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
