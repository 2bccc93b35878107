#pragma once
// The Keras-style model summary shared by `convjit summary` and `convjit demo`.
#include <convjit/convjit.hpp>

#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace convjit::cli {

struct InputSize {
  std::int64_t h = 0, w = 0, c = 0;
};

// "8x8x1" -> {8, 8, 1}; Error("--input", ...) otherwise.
InputSize parse_input_size(std::string_view text);

// Resolves stacked layers: each layer's text is a spec without c, h, w (taken from the
// previous layer's output, or from `input` for the first). Errors name the layer:
// "convjit: layer 2: k: ...".
std::vector<ConvShape> stack_layers(InputSize input, const std::vector<std::string>& layers);

// Keras' "Layer (type) / Output Shape / Param #" table with totals.
void print_summary(std::ostream& out, InputSize input, const std::vector<ConvShape>& layers,
                   std::string_view model_name = "sequential");

}  // namespace convjit::cli
