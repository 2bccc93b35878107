// A small host application: the courses' stacked networks built from convjit kernels.
//  1. three 'same' 3×3 layers on the 8×8 image with a two-pixel vertical line;
//  2. a LeNet-like stack on a 32×32 image (5×5 convolutions, ReLU, stride-2 downsampling).
// It uses only the public API: ConvSpec, Jit, Kernel, PackedWeights.
#include <convjit/convjit.hpp>

#include <cstdio>
#include <string>
#include <vector>

namespace {

struct Layer {
  std::string spec;  // without the input keys; c, h, w come from the previous layer
  std::shared_ptr<const convjit::Kernel> kernel;
  convjit::PackedWeights weights;
};

// Deterministic weights: a vertical-line detector where the shape allows, else a small ramp.
std::vector<float> make_weights(const convjit::ConvShape& s) {
  std::vector<float> w(static_cast<std::size_t>(s.weight_elems()));
  for (std::size_t i = 0; i < w.size(); ++i) w[i] = 0.02f * static_cast<float>((i * 7) % 11) - 0.1f;
  if (s.kh == 3 && s.kw == 3 && s.c == 1 && s.oc == 1) w = {0, 1, 0, 0, 1, 0, 0, 1, 0};
  return w;
}

void print_map(const char* title, const std::vector<float>& data, std::int64_t h, std::int64_t w,
               std::int64_t c) {
  std::printf("%s (%lldx%lld, channel 0)\n", title, static_cast<long long>(h), static_cast<long long>(w));
  for (std::int64_t y = 0; y < h; ++y) {
    for (std::int64_t x = 0; x < w; ++x) std::printf("%6.2f", data[(y * w + x) * c]);
    std::printf("\n");
  }
}

// Builds each layer's kernel from the previous layer's output, runs the stack, prints it.
std::vector<float> run_stack(const char* name, std::int64_t h, std::int64_t w, std::int64_t c,
                             std::vector<float> input, const std::vector<std::string>& layer_specs,
                             bool print_maps) {
  std::printf("\n== %s ==\n%-28s %-22s %8s\n", name, "Layer (type)", "Output Shape", "Param #");
  long long total = 0;
  for (std::size_t i = 0; i < layer_specs.size(); ++i) {
    const std::string spec = "c=" + std::to_string(c) + ",h=" + std::to_string(h) +
                             ",w=" + std::to_string(w) + "," + layer_specs[i];
    auto kernel = convjit::Jit::global().get(convjit::ConvSpec::parse(spec));
    const convjit::ConvShape& s = kernel->shape();
    const std::vector<float> bias(static_cast<std::size_t>(s.oc), 0.0f);
    const auto packed = kernel->pack_weights(make_weights(s).data(), bias.data());
    std::vector<float> output(static_cast<std::size_t>(s.dst_elems()));
    kernel->run(input.data(), packed, output.data());

    char shape_text[64];
    std::snprintf(shape_text, sizeof shape_text, "(None, %lld, %lld, %lld)",
                  static_cast<long long>(s.out_h), static_cast<long long>(s.out_w),
                  static_cast<long long>(s.oc));
    std::printf("conv2d_%-21zu %-22s %8lld\n", i + 1, shape_text, static_cast<long long>(s.params()));
    total += s.params();
    if (print_maps) print_map(("  after " + layer_specs[i]).c_str(), output, s.out_h, s.out_w, s.oc);
    input = std::move(output);
    h = s.out_h; w = s.out_w; c = s.oc;
  }
  std::printf("Total params: %lld\n", total);
  return input;
}

}  // namespace

int main() {
  try {
    std::vector<float> line(64, 0.0f);
    for (int y = 0; y < 8; ++y) line[y * 8 + 3] = line[y * 8 + 4] = 1.0f;
    run_stack("three 'same' 3x3 layers on the 8x8 line image", 8, 8, 1, line,
              {"oc=1,k=3,p=same,bias=0", "oc=1,k=3,p=same,bias=0", "oc=1,k=3,p=same,bias=0"}, true);

    std::vector<float> digit(32 * 32);
    for (int i = 0; i < 32 * 32; ++i) digit[i] = ((i / 32 - 16) * (i / 32 - 16) + (i % 32 - 16) * (i % 32 - 16) < 100) ? 1.0f : 0.0f;
    const auto features = run_stack("LeNet-like stack on 32x32", 32, 32, 1, digit,
                                    {"oc=6,k=5,act=relu", "oc=6,k=2,s=2", "oc=16,k=5,act=relu",
                                     "oc=16,k=2,s=2", "oc=120,k=5,act=relu"}, false);
    std::printf("final features: %zu values, first %.4f\n", features.size(), features[0]);

    const convjit::CacheStats stats = convjit::Jit::global().stats();
    std::printf("kernel cache: %llu misses, %llu hits, %.0f us generating\n",
                static_cast<unsigned long long>(stats.misses), static_cast<unsigned long long>(stats.hits),
                stats.generation_us_total);
    return 0;
  } catch (const convjit::Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 2;
  }
}
