// The reference backend: KernelCode over the plain loops, weights in the user's layout.
#include "generator/reference/reference_code.hpp"
#include "core/reference.hpp"

namespace convjit {
namespace {

class ReferenceCode final : public KernelCode {
 public:
  explicit ReferenceCode(const ConvShape& shape) : shape_(shape) {}
  std::string_view backend() const noexcept override { return "reference"; }
  bool takes_user_layout() const noexcept override { return true; }
  void call(const KernelCallArgs& a) const override {
    reference_conv_rows(shape_, a.src, a.weights, a.bias, a.dst, a.unit_begin, a.unit_end,
                        a.residual);
  }

 private:
  ConvShape shape_;
};

}  // namespace

std::shared_ptr<const KernelCode> make_reference_code(const KernelPlan& plan) {
  return std::make_shared<ReferenceCode>(plan.shape);
}

}  // namespace convjit
