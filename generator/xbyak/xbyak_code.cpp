// XbyakCode: the KernelCode of the Xbyak backend; owns the emitter's executable memory.
#include "generator/xbyak/xbyak_emitter.hpp"
#include "generator/xbyak/xbyak_code.hpp"
#include "generator/xbyak/xbyak_winograd_emitter.hpp"

#include <convjit/error.hpp>

#include <memory>
#include <optional>

namespace convjit {
namespace {

constexpr std::size_t kMaxCodeBytes = std::size_t{64} << 20;

class XbyakCode final : public KernelCode {
 public:
  explicit XbyakCode(std::unique_ptr<Xbyak::CodeGenerator> emitter)
      : emitter_(std::move(emitter)),
        entry_(emitter_->getCode<Entry>()) {}

  std::string_view backend() const noexcept override { return "xbyak"; }
  void call(const KernelCallArgs& args) const override { entry_(&args); }
  Entry entry() const noexcept override { return entry_; }
  bool splits_channel_tiles() const noexcept override { return true; }
  std::span<const std::uint8_t> machine_code() const override {
    return {emitter_->getCode(), emitter_->getSize()};
  }

 private:
  std::unique_ptr<Xbyak::CodeGenerator> emitter_;
  Entry entry_;
};

}  // namespace

std::shared_ptr<const KernelCode> make_xbyak_code(const KernelPlan& plan) {
  // The schedule once, whatever the capacity tries below.
  const bool winograd = plan.strategy == Strategy::winograd;
  const std::optional<WinogradSchedule> winograd_schedule =
      winograd ? std::optional(make_winograd_schedule(plan)) : std::nullopt;
  const std::optional<KernelSchedule> schedule =
      winograd ? std::nullopt : std::optional(make_schedule(plan));
  // Start from the planner's estimate and grow on overflow; the estimate is usually close.
  std::size_t capacity = 4096;
  while (capacity < static_cast<std::size_t>(plan.estimated_code_bytes) * 2) capacity *= 2;
  for (; capacity <= kMaxCodeBytes; capacity *= 2) {
    try {
      if (winograd)
        return std::make_shared<XbyakCode>(
            std::make_unique<XbyakWinogradEmitter>(plan, *winograd_schedule, capacity));
      return std::make_shared<XbyakCode>(std::make_unique<XbyakEmitter>(plan, *schedule, capacity));
    } catch (const Xbyak::Error& e) {
      if (static_cast<int>(e) != Xbyak::ERR_CODE_IS_TOO_BIG)
        throw Error("xbyak", std::string("code generation failed: ") + e.what());
    }
  }
  throw Error("shape", "the generated kernel would exceed " + std::to_string(kMaxCodeBytes >> 20) +
                           " MiB of code");
}

}  // namespace convjit
