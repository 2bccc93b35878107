// libFuzzer target: arbitrary bytes as a spec string through ConvSpec::parse and resolve().
//
// Must never crash, hang or leak, and every rejection must be a convjit::Error with a field
// and a reason (any other exception escapes and libFuzzer reports it). Accepted specs must
// also keep the documented invariants:
//  - ConvSpec::to_string() parses back to an equal spec;
//  - resolve() gives output sizes >= 1, non-negative padding, the formula of docs/ARCHITECTURE.md, and
//    tensors of at most 2^34 elements;
//  - ConvShape::to_string() parses and resolves back to an equal shape;
//  - the planner accepts every resolved shape of moderate size (it is a pure function; the
//    huge ones are left out only to keep each execution fast).
#include <convjit/error.hpp>
#include <convjit/shape.hpp>
#include <convjit/spec.hpp>

#include "generator/plan.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

[[noreturn]] void fail(const std::string& input, const std::string& what) {
  std::fprintf(stderr, "spec_fuzzer: %s\n  input: '%s'\n", what.c_str(), input.c_str());
  std::abort();
}

void check_axis(const std::string& input, const char* axis, std::int64_t in, std::int64_t k,
                std::int64_t s, std::int64_t d, std::int64_t before, std::int64_t after,
                std::int64_t out) {
  if (before < 0 || after < 0) fail(input, std::string(axis) + ": negative padding");
  if (out < 1) fail(input, std::string(axis) + ": output size below 1");
  const std::int64_t extent = d * (k - 1) + 1;
  if (out != (in + before + after - extent) / s + 1)
    fail(input, std::string(axis) + ": output size disagrees with floor((I+Pb+Pa-E)/S)+1");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  try {
    const convjit::ConvSpec spec = convjit::ConvSpec::parse(input);
    const std::string text = spec.to_string();
    if (!(convjit::ConvSpec::parse(text) == spec))
      fail(input, "ConvSpec::to_string() '" + text + "' does not parse back to the same spec");

    const convjit::ConvShape shape = spec.resolve();
    check_axis(input, "height", shape.h, shape.kh, shape.sh, shape.dh, shape.pad_top,
               shape.pad_bottom, shape.out_h);
    check_axis(input, "width", shape.w, shape.kw, shape.sw, shape.dw, shape.pad_left,
               shape.pad_right, shape.out_w);
    constexpr std::int64_t kMaxElems = std::int64_t{1} << 34;
    if (shape.src_elems() > kMaxElems || shape.dst_elems() > kMaxElems ||
        shape.weight_elems() > kMaxElems)
      fail(input, "resolve() accepted a tensor of more than 2^34 elements");
    if (shape.c % shape.groups || shape.oc % shape.groups)
      fail(input, "resolve() accepted channels not divisible by groups");

    const std::string shape_text = shape.to_string();
    if (!(convjit::ConvSpec::parse(shape_text).resolve() == shape))
      fail(input, "ConvShape::to_string() '" + shape_text + "' does not resolve back to the same shape");

    if (shape.out_h <= 4096 && shape.out_w <= 4096 && shape.c <= 4096 && shape.oc <= 4096) {
      const convjit::KernelPlan plan = convjit::make_plan(shape);
      if (plan.packed.weight_floats < shape.weight_elems())
        fail(input, "the plan packs fewer weights than the shape has");
    }
  } catch (const convjit::Error& e) {
    if (e.field().empty() || e.reason().empty()) fail(input, std::string("an Error without a field or reason: ") + e.what());
  }
  return 0;
}
