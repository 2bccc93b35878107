// convjit demo: the courses' worked examples, JIT-compiled, with their feature maps, a
// Keras-style summary, and a short specialised-vs-generic-vs-reference timing table.
#include "tools/convjit/cli.hpp"

#include "core/reference.hpp"
#include "tools/convjit/summary.hpp"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>
#include <sstream>

namespace convjit::cli {
namespace {

// A feature map computed through Jit::global() (automatic backend). When that backend
// cannot run here (not built, CPU too old), the reference backend stands in, and the demo
// says so once.
struct FeatureMap {
  ConvShape shape;
  std::vector<float> values;
  std::string backend;
  std::string kernel_name;
  double generation_us = 0;
};

class MapRunner {
 public:
  FeatureMap run(const std::string& spec_text, const std::vector<float>& image,
                 const std::vector<float>& kernel_weights) {
    const ConvSpec spec = ConvSpec::parse(spec_text);
    std::shared_ptr<const Kernel> kernel;
    if (!fallback_) {
      try {
        kernel = Jit::global().get(spec);
      } catch (const Error& e) {
        std::cout << "(backend " << to_string(Jit::global().backend())
                  << " unavailable: " << e.reason()
                  << "; the feature maps below come from the reference backend)\n\n";
        fallback_ = std::make_unique<Jit>(JitOptions{.backend = Backend::reference});
      }
    }
    if (!kernel) kernel = fallback_->get(spec);
    FeatureMap map;
    map.shape = kernel->shape();
    map.values.assign(static_cast<std::size_t>(map.shape.dst_elems()), 0.0f);
    const PackedWeights packed = kernel->pack_weights(kernel_weights.data(), nullptr);
    kernel->run(image.data(), packed, map.values.data());
    map.backend = std::string(kernel->backend());
    map.kernel_name = kernel->name();
    map.generation_us = kernel->generation_us();
    return map;
  }

 private:
  std::unique_ptr<Jit> fallback_;
};

// Rows of a one-channel map as a right-aligned grid.
void print_grid(std::ostream& out, const std::vector<float>& values, std::int64_t rows,
                std::int64_t cols, std::string_view indent = "    ") {
  std::vector<std::string> cells;
  std::size_t width = 1;
  for (float v : values) {
    cells.push_back(format_number(v, 4));
    width = std::max(width, cells.back().size());
  }
  for (std::int64_t r = 0; r < rows; ++r) {
    out << indent;
    for (std::int64_t c = 0; c < cols; ++c) {
      const std::string& cell = cells[static_cast<std::size_t>(r * cols + c)];
      out << (c ? " " : "") << std::string(width - cell.size(), ' ') << cell;
    }
    out << "\n";
  }
}

std::string row_text(const std::vector<float>& row) {
  std::string s = "[";
  for (std::size_t i = 0; i < row.size(); ++i) s += (i ? "," : "") + format_number(row[i]);
  return s + "]";
}

// Checks a map against the reference kernel and, when the course states it, against the
// course's numbers. Prints one line; returns false on a disagreement.
bool check_map(std::ostream& out, const FeatureMap& map, const std::vector<float>& image,
               const std::vector<float>& weights,
               const std::optional<std::vector<float>>& course_every_row,
               const std::optional<std::vector<float>>& course_whole) {
  std::vector<float> reference(map.values.size());
  reference_conv(map.shape, image.data(), weights.data(), nullptr, reference.data());
  double worst = 0;
  for (std::size_t i = 0; i < reference.size(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(map.values[i]) - reference[i]));
  bool ok = worst <= 1e-5;
  std::string verdict = ok ? "agrees with the reference" : "DIFFERS from the reference by " +
                                                                  format_number(worst, 3);
  auto close = [](float a, float b) { return std::fabs(a - b) <= 1e-5f; };
  if (course_every_row) {
    const std::size_t cols = course_every_row->size();
    bool rows_ok = map.shape.out_w == static_cast<std::int64_t>(cols);
    for (std::size_t i = 0; rows_ok && i < map.values.size(); ++i)
      rows_ok = close(map.values[i], (*course_every_row)[i % cols]);
    verdict += rows_ok ? "; every row is " + row_text(*course_every_row) + ", as in the course"
                       : "; MISMATCH: the course has rows " + row_text(*course_every_row);
    ok = ok && rows_ok;
  }
  if (course_whole) {
    bool whole_ok = map.values.size() == course_whole->size();
    for (std::size_t i = 0; whole_ok && i < map.values.size(); ++i)
      whole_ok = close(map.values[i], (*course_whole)[i]);
    verdict += whole_ok ? "; as in the course" : "; MISMATCH with the course";
    ok = ok && whole_ok;
  }
  out << "    (" << verdict << ")\n";
  return ok;
}

void print_map_header(std::ostream& out, std::string_view title, const std::string& spec,
                      const FeatureMap& map) {
  out << title << ": " << spec << " -> " << map.shape.out_h << "x" << map.shape.out_w
      << "  [" << map.kernel_name << ", " << map.backend << ", compiled in "
      << format_us(map.generation_us) << " us]\n";
}

// ------------------------------------------------------------------ timing
struct Timed {
  std::optional<double> us;
  std::string unavailable;
  double compile_us = 0;
};

Timed time_backend(const ConvShape& shape, Backend backend, const std::vector<float>& src,
                   const std::vector<float>& weights, const std::vector<float>& bias) {
  Timed t;
  std::shared_ptr<const Kernel> kernel;
  try {
    kernel = Jit(JitOptions{.backend = backend, .threads = 1}).compile(shape);
  } catch (const Error& e) {
    t.unavailable = e.reason();
    return t;
  }
  t.compile_us = kernel->generation_us();
  std::vector<float> dst(static_cast<std::size_t>(shape.dst_elems()));
  const PackedWeights packed = kernel->pack_weights(weights.data(), bias.data());
  t.us = median_us([&] { kernel->run(src.data(), packed, dst.data(), 1); }, 0.12, 5000);
  return t;
}

void print_timing(std::ostream& out) {
  struct Case {
    std::string_view label;
    std::string_view spec;
  };
  const Case cases[] = {
      {"8x8 seed, 3x3 valid", "c=1,h=8,w=8,oc=1,k=3"},
      {"LeNet C1, 32x32 5x5 -> 6", "c=1,h=32,w=32,oc=6,k=5"},
      {"ResNet 3x3, 56x56x64 -> 64", "n=1,c=64,h=56,w=56,oc=64,k=3,p=1"},
  };
  const Backend specialised = resolve_backend(Backend::automatic);
  const std::string spec_name = "JIT (" + std::string(to_string(specialised)) + ")";
  out << "Median time per call, one thread (us; lower is better):\n";
  std::vector<std::vector<std::string>> rows = {
      {"shape", "MFLOP", spec_name, "generic", "reference", "generic/JIT", "reference/JIT",
       "JIT compile"}};
  std::vector<std::string> notes;
  for (const Case& c : cases) {
    const ConvShape shape = parse_shape(c.spec);
    const auto src = random_floats(static_cast<std::size_t>(shape.src_elems()), 11);
    const auto weights = random_floats(static_cast<std::size_t>(shape.weight_elems()), 12);
    const auto bias = random_floats(static_cast<std::size_t>(shape.oc), 13);
    const Timed jit = time_backend(shape, specialised, src, weights, bias);
    const Timed generic = time_backend(shape, Backend::generic, src, weights, bias);
    const Timed reference = time_backend(shape, Backend::reference, src, weights, bias);
    auto cell = [&](const Timed& t) {
      if (t.us) return format_us(*t.us);
      const std::string note = "(backend unavailable: " + t.unavailable + ")";
      if (std::find(notes.begin(), notes.end(), note) == notes.end()) notes.push_back(note);
      return std::string("n/a");
    };
    auto ratio = [](const Timed& slow, const Timed& fast) -> std::string {
      if (!slow.us || !fast.us || *fast.us <= 0) return "-";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1fx", *slow.us / *fast.us);
      return buf;
    };
    rows.push_back({std::string(c.label), format_number(shape.flops() / 1e6, 3),
                    cell(jit), cell(generic), cell(reference),
                    ratio(generic, jit), ratio(reference, jit),
                    jit.us ? format_us(jit.compile_us) + " us" : "-"});
  }
  print_table(out, rows, "lrrrrrrr", "  ");
  for (const std::string& note : notes) out << "  " << note << "\n";
}

}  // namespace

int cmd_demo(const std::vector<std::string>& args) {
  const ParsedArgs parsed = parse_args(args, "demo", {}, {});
  if (!parsed.positional.empty())
    throw Error("demo", "takes no arguments, got '" + parsed.positional[0] + "'");
  std::ostream& out = std::cout;
  bool all_ok = true;
  MapRunner runner;

  out << "convjit demo: the courses' worked examples, each JIT-compiled for its exact shape\n"
      << "(automatic backend: " << to_string(resolve_backend(Backend::automatic)) << ")\n\n";

  // --- the vertical-line detector on the 8x8 image with a two-pixel line (columns 3, 4)
  std::vector<float> image(64, 0.0f);
  for (int r = 0; r < 8; ++r) image[r * 8 + 3] = image[r * 8 + 4] = 1.0f;
  // A tall 3x3 kernel that sums the middle column of each window: a vertical line under
  // the window's centre gives 3 (the course's [0,0,3,3,0,0]).
  const std::vector<float> detector = {0, 1, 0,  //
                                       0, 1, 0,  //
                                       0, 1, 0};
  out << "Input: 8x8 image with a two-pixel vertical line (columns 3 and 4)\n";
  print_grid(out, image, 8, 8);
  out << "Kernel: 3x3 vertical-line detector\n";
  print_grid(out, detector, 3, 3);
  out << "\n";

  const std::string valid = "c=1,h=8,w=8,oc=1,k=3";
  const std::string same = "c=1,h=8,w=8,oc=1,k=3,p=same";
  const std::string stride2 = "c=1,h=8,w=8,oc=1,k=3,s=2";
  const FeatureMap valid_map = runner.run(valid, image, detector);
  print_map_header(out, "valid", valid, valid_map);
  print_grid(out, valid_map.values, valid_map.shape.out_h, valid_map.shape.out_w);
  all_ok &= check_map(out, valid_map, image, detector, std::vector<float>{0, 0, 3, 3, 0, 0},
                      std::nullopt);
  out << "\n";

  const FeatureMap same_map = runner.run(same, image, detector);
  print_map_header(out, "same", same, same_map);
  print_grid(out, same_map.values, same_map.shape.out_h, same_map.shape.out_w);
  all_ok &= check_map(out, same_map, image, detector, std::nullopt, std::nullopt);
  out << "\n";

  const FeatureMap stride_map = runner.run(stride2, image, detector);
  print_map_header(out, "stride 2", stride2, stride_map);
  print_grid(out, stride_map.values, stride_map.shape.out_h, stride_map.shape.out_w);
  all_ok &= check_map(out, stride_map, image, detector, std::vector<float>{0, 3, 0},
                      std::nullopt);
  out << "\n";

  // --- the 3x3 input 0..8 with the 2x2 kernel [[0,1],[2,3]]
  std::vector<float> small(9);
  for (int i = 0; i < 9; ++i) small[i] = static_cast<float>(i);
  const std::vector<float> k2 = {0, 1, 2, 3};
  out << "Input: 3x3 image 0..8, kernel 2x2 [[0,1],[2,3]]\n";
  print_grid(out, small, 3, 3);
  const std::string small_spec = "c=1,h=3,w=3,oc=1,k=2";
  const FeatureMap small_map = runner.run(small_spec, small, k2);
  print_map_header(out, "valid", small_spec, small_map);
  print_grid(out, small_map.values, small_map.shape.out_h, small_map.shape.out_w);
  all_ok &= check_map(out, small_map, small, k2, std::nullopt,
                      std::vector<float>{19, 25, 37, 43});
  out << "\n";

  // --- the course's stack, Keras-style
  out << "The course's stack: two 3x3 'valid' layers on the 8x8x1 image\n";
  const InputSize input{8, 8, 1};
  print_summary(out, input, stack_layers(input, {"oc=1,k=3", "oc=1,k=3"}));
  out << "\n";

  // --- specialised vs generic vs reference
  print_timing(out);

  if (!all_ok) {
    out << "\ndemo: MISMATCH (see above)\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace convjit::cli
