// convjit summary --input HxWxC LAYER...: a Keras-style table for stacked layers.
#include "tools/convjit/cli.hpp"

#include "tools/convjit/summary.hpp"

#include <iostream>
#include <sstream>

namespace convjit::cli {
namespace {

// Keras' Sequential summary: 65 columns, fields starting at 0, 29 and 55.
constexpr std::size_t kLineLength = 65;
constexpr std::size_t kShapeColumn = 29;
constexpr std::size_t kParamColumn = 55;

std::string keras_shape(std::int64_t a, std::int64_t b, std::int64_t c) {
  return "(None, " + std::to_string(a) + ", " + std::to_string(b) + ", " + std::to_string(c) +
         ")";
}

std::string output_shape(const ConvShape& s) {
  return s.layout == Layout::nhwc ? keras_shape(s.out_h, s.out_w, s.oc)
                                  : keras_shape(s.oc, s.out_h, s.out_w);
}

std::string fields(const std::string& a, const std::string& b, const std::string& c) {
  std::string line = " " + a;
  if (line.size() + 1 > kShapeColumn) line += " ";
  line.resize(std::max(line.size(), kShapeColumn), ' ');
  line += b;
  if (line.size() + 1 > kParamColumn) line += " ";
  line.resize(std::max(line.size(), kParamColumn), ' ');
  line += c;
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

}  // namespace

InputSize parse_input_size(std::string_view text) {
  const std::vector<std::string> parts = split_list("--input", text, 'x');
  if (parts.size() != 3)
    throw Error("--input", "expected HxWxC (e.g. 8x8x1), got '" + std::string(text) + "'");
  InputSize in;
  in.h = parse_integer("--input", parts[0], 1, 1 << 24);
  in.w = parse_integer("--input", parts[1], 1, 1 << 24);
  in.c = parse_integer("--input", parts[2], 1, 1 << 24);
  return in;
}

std::vector<ConvShape> stack_layers(InputSize input, const std::vector<std::string>& layers) {
  std::vector<ConvShape> shapes;
  std::int64_t h = input.h, w = input.w, c = input.c;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string field = "layer " + std::to_string(i + 1);
    const std::string& text = layers[i];
    // The input keys come from the previous layer; refuse them rather than guess.
    std::size_t start = 0;
    while (start <= text.size()) {
      std::size_t end = text.find(',', start);
      if (end == std::string::npos) end = text.size();
      const std::string item = text.substr(start, end - start);
      const std::string key = item.substr(0, item.find('='));
      if (key == "c" || key == "h" || key == "w")
        throw Error(field, "'" + key + "' comes from the previous layer (or --input); leave it out");
      start = end + 1;
    }
    ConvShape s;
    try {
      s = ConvSpec::parse("c=" + std::to_string(c) + ",h=" + std::to_string(h) +
                          ",w=" + std::to_string(w) + "," + text)
              .resolve();
    } catch (const Error& e) {
      throw Error(field + ": " + e.field(), e.reason());
    }
    shapes.push_back(s);
    h = s.out_h;
    w = s.out_w;
    c = s.oc;
  }
  return shapes;
}

void print_summary(std::ostream& out, InputSize input, const std::vector<ConvShape>& layers,
                   std::string_view model_name) {
  const std::string rule(kLineLength, '_');
  const std::string double_rule(kLineLength, '=');
  out << "Model: \"" << model_name << "\"   input: "
      << keras_shape(input.h, input.w, input.c) << "\n"
      << rule << "\n"
      << fields("Layer (type)", "Output Shape", "Param #") << "\n"
      << double_rule << "\n";
  std::int64_t total = 0, conv = 0, depthwise = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const ConvShape& s = layers[i];
    std::string name;
    if (s.is_depthwise()) {
      name = depthwise ? "depthwise_conv2d_" + std::to_string(depthwise) : "depthwise_conv2d";
      name += " (DepthwiseConv2D)";
      ++depthwise;
    } else {
      name = conv ? "conv2d_" + std::to_string(conv) : "conv2d";
      name += " (Conv2D)";
      ++conv;
    }
    out << fields(name, output_shape(s), std::to_string(s.params())) << "\n";
    if (i + 1 < layers.size()) out << "\n";
    total += s.params();
  }
  out << double_rule << "\n"
      << "Total params: " << with_thousands(total) << "\n"
      << "Trainable params: " << with_thousands(total) << "\n"
      << "Non-trainable params: 0\n"
      << rule << "\n";
}

int cmd_summary(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "summary", {"--input"}, {});
  if (!parsed.has("--input"))
    throw Error("--input", "is required, as HxWxC (e.g. --input 8x8x1)");
  if (parsed.positional.empty())
    throw Error("summary", "needs at least one LAYER spec (e.g. oc=1,k=3)");
  const InputSize input = parse_input_size(parsed.value("--input"));
  const std::vector<ConvShape> layers = stack_layers(input, parsed.positional);
  print_summary(std::cout, input, layers);
  return kExitOk;
}

}  // namespace convjit::cli
