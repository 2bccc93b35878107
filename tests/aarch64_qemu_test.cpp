// NEON kernels, run for real: plans for AArch64 (4-lane vectors, 32 registers) compiled by
// the LLVM backend, linked into one small static AArch64 program (tests/aarch64/
// kernel_runner.c) and run under qemu-aarch64 on inputs and packed weights written here.
// Every output element is judged against the reference with the shared tolerance; 8-bit
// layers (src=u8/s8) against the exact integer reference, byte for byte.
// Without the cross toolchain or the emulator the case is skipped, never passed.
#define BOOST_TEST_MODULE aarch64_qemu
#include <boost/test/unit_test.hpp>

#include "core/quantized_reference.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"
#include "generator/kernel_call_args.hpp"
#include "generator/llvm/llvm_cross_compiler.hpp"
#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/packed_layout.hpp"
#include "generator/quantized_packing.hpp"
#include "tests/aarch64/kernel_runner.h"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace convjit;
using namespace convjit::testing;

namespace {

// ------------------------------------------------------------------ the toolchain

std::string find_on_path(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

std::string command_output(const std::string& command) {
  std::string out;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe)) out += buffer;
    ::pclose(pipe);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// The exit status of a shell command whose output goes to `log`.
int run_logged(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " >'" + log.string() + "' 2>&1").c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

std::string file_text(const fs::path& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

struct Toolchain {
  std::string gcc;   // aarch64-linux-gnu-gcc, with a static C library
  std::string qemu;  // qemu-aarch64
};

constexpr const char* kPackages = "apt-get install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross";

std::optional<Toolchain> find_toolchain(std::string& why_not) {
  Toolchain tools{find_on_path("aarch64-linux-gnu-gcc"), find_on_path("qemu-aarch64")};
  if (tools.gcc.empty()) why_not = "aarch64-linux-gnu-gcc is not on PATH";
  else if (tools.qemu.empty()) why_not = "qemu-aarch64 is not on PATH";
  else {
    // Without its C library the cross compiler cannot link a static program.
    const std::string libc = command_output("'" + tools.gcc + "' -print-file-name=libc.a");
    if (!fs::path(libc).is_absolute() || !fs::exists(libc))
      why_not = "aarch64-linux-gnu-gcc has no static C library (libc.a)";
  }
  if (!why_not.empty()) {
    why_not += std::string(" (Debian: ") + kPackages + ")";
    return std::nullopt;
  }
  return tools;
}

boost::test_tools::assertion_result the_aarch64_toolchain_is_installed(boost::unit_test::test_unit_id) {
  std::string why_not;
  return skip_unless(find_toolchain(why_not).has_value(), why_not);
}

// ------------------------------------------------------------------ the shapes

struct NamedShape {
  std::string origin;  // "feature", "random" or the shapes file's name for it
  ConvShape shape;
};

// One shape for each thing a kernel must get right, so that none depends on what the random
// draw happens to contain.
const char* const kFeatureShapes[] = {
    "c=1,h=8,w=8,oc=1,k=3",                                   // unrolled end to end
    "c=16,h=14,w=14,oc=24,k=3,p=same,act=relu",               // same (extra pixel after)
    "c=16,h=15,w=15,oc=20,k=4,s=2,p=same_lower",              // same_lower, stride 2
    "c=8,h=12,w=12,oc=12,k=3,p=2",                            // symmetric integer padding
    "c=8,h=11,w=13,oc=8,kh=3,kw=5,ph=1,pw=2",                 // per-axis padding
    "c=8,h=7,w=9,oc=8,kh=2,kw=7,pt=1,pb=0,pl=6,pr=0",         // one-sided, asymmetric
    "c=9,h=5,w=5,oc=17,k=11,p=5",                             // kernel larger than the image
    "c=5,h=17,w=19,oc=7,k=3,d=6,p=6",                         // dilation 6
    "c=6,h=16,w=16,oc=10,k=3,dh=2,dw=3,p=3",                  // dilation per axis
    "c=64,h=9,w=9,oc=64,k=1,s=4",                             // 1x1, stride 4
    "c=200,h=8,w=8,oc=36,k=3,p=1",                            // input channels in a loop
    "c=12,h=12,w=12,oc=12,k=3,g=12,p=1,act=relu",             // depthwise, tail lanes
    "c=20,h=11,w=13,oc=20,k=5,g=20,s=2,p=2,bias=0",           // depthwise, stride, no bias
    "c=4,h=9,w=9,oc=12,g=4,k=3,p=1",                          // depthwise channel multiplier
    "c=6,h=10,w=10,oc=9,k=3,g=3,p=1,act=clamp:-0.25:0.5",     // groups, clamp
    "c=3,h=32,w=32,oc=8,k=3,p=1,layout=nchw,act=clamp:0:6",   // nchw width vectors
    "c=2,h=31,w=29,oc=3,k=3,s=2,p=same,layout=nchw",          // nchw strided: gathers
    "c=7,h=13,w=29,oc=5,k=3,d=2,p=2,layout=nchw,bias=0",      // nchw dilated
    "c=4,h=6,w=70,oc=3,kh=2,kw=5,sw=2,pt=1,pb=0,pl=3,pr=1,layout=nchw",
    "c=4,h=4,w=4,oc=4,k=3,g=4,p=1,layout=nchw",               // nchw depthwise
    "n=3,c=2,h=5,w=5,oc=3,k=2,p=valid",                       // a batch of three
    "n=2,c=5,h=9,w=7,oc=6,k=3,p=1,layout=nchw,act=relu",      // a batch, nchw
    "c=9,h=10,w=11,oc=13,k=3,p=1,act=silu",                   // the exp-based epilogue
    "c=6,h=12,w=9,oc=6,g=6,k=3,s=2,p=1,act=sigmoid",          // depthwise sigmoid
    "c=3,h=14,w=15,oc=5,k=3,p=1,layout=nchw,act=hardswish",   // width vectors, hardswish
    "c=8,h=7,w=7,oc=19,k=1,act=leaky_relu:-0.3",              // a negative slope
};

constexpr int kRandomShapes = 40;

// 8-bit layers: every padding kind, stride, dilation, groups, depthwise, partial groups of four
// input channels, a looped reduction, each output type and ReLU; then random ones.
const char* const k8BitShapes[] = {
    "c=16,h=14,w=14,oc=24,k=3,p=same,src=u8,act=relu",
    "c=3,h=15,w=15,oc=16,k=7,s=2,p=3,src=u8",
    "c=13,h=9,w=11,oc=21,k=3,p=1,src=s8,dst=s32",
    "c=8,h=7,w=9,oc=8,kh=2,kw=7,pt=1,pb=0,pl=6,pr=0,src=u8,dst=f32",
    "c=5,h=17,w=19,oc=7,k=3,d=3,p=3,src=s8",
    "c=200,h=8,w=8,oc=36,k=3,p=1,src=u8",
    "c=64,h=9,w=9,oc=64,k=1,s=2,src=u8,dst=s8",
    "c=12,h=12,w=12,oc=12,k=3,g=12,p=1,src=u8,act=relu",
    "c=20,h=11,w=13,oc=20,k=5,g=20,s=2,p=2,bias=0,src=s8",
    "c=6,h=10,w=10,oc=9,k=3,g=3,p=1,src=u8,dst=s32",
    "c=4,h=9,w=9,oc=12,g=4,k=3,p=1,src=s8,dst=f32",
    "c=7,h=6,w=5,oc=3,k=2,src=u8,src_stride=9,dst_stride=5",
};
constexpr int kRandom8BitShapes = 24;

std::vector<NamedShape> shapes_to_run() {
  std::vector<NamedShape> shapes;
  for (const char* spec : kFeatureShapes) shapes.push_back({"feature", ConvSpec::parse(spec).resolve()});
  std::mt19937_64 rng(20260417);
  for (int i = 0; i < kRandomShapes; ++i) shapes.push_back({"random", random_shape(rng)});
  for (auto& [name, shape] : load_shapes_file(shapes_file_path())) shapes.push_back({name, shape});
  for (const char* spec : k8BitShapes) shapes.push_back({"8-bit", ConvSpec::parse(spec).resolve()});
  const DataType outputs[] = {DataType::u8, DataType::s8, DataType::s32, DataType::f32};
  for (int i = 0; i < kRandom8BitShapes;) {
    ConvSpec spec = random_shape(rng).spec();
    spec.n = 1;
    spec.layout = Layout::nhwc;
    spec.src_type = i % 2 ? DataType::s8 : DataType::u8;
    spec.dst_type = outputs[i % 4];
    spec.act = {};
    spec.add_residual = false;
    spec.algo = Algorithm::automatic;
    try {
      shapes.push_back({"8-bit", spec.resolve()});
      ++i;
    } catch (const Error&) {
      // a draw the 8-bit kernels do not take: draw again
    }
  }
  return shapes;
}

// ------------------------------------------------------------------ one kernel, prepared

// 8-bit cases keep their input bytes in `src` (whole floats of them) and their own weights.
struct Case {
  NamedShape named;
  KernelPlan plan;
  std::vector<float> src, weights, bias;  // the user's layout
  std::vector<float> packed;              // what the kernel reads: weights, then bias
  Quantization q;
  std::vector<std::int8_t> s8_weights;
  std::vector<std::int32_t> s32_bias;
};

std::size_t floats_for_bytes(std::int64_t bytes) { return static_cast<std::size_t>((bytes + 3) / 4); }

// An 8-bit layer's data: random bytes, s8 weights, an int32 bias, zero points away from 0 and
// an output scale spreading the sums over the type's range.
void prepare_8bit(Case& c, std::uint64_t seed) {
  const ConvShape& s = c.named.shape;
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  c.src.assign(floats_for_bytes(s.src_elems()), 0.0f);
  auto* x = reinterpret_cast<std::uint8_t*>(c.src.data());
  for (std::int64_t i = 0; i < s.src_elems(); ++i) x[i] = static_cast<std::uint8_t>(byte(rng));
  for (std::int64_t i = 0; i < s.weight_elems(); ++i) c.s8_weights.push_back(static_cast<std::int8_t>(byte(rng) - 128));
  for (std::int64_t i = 0; i < s.oc; ++i) c.s32_bias.push_back(byte(rng) * 40 - 5000);
  Quantization& q = c.q;
  q.input_type = s.src_type;
  q.output_type = s.dst_type;
  q.input_zero_point = s.src_type == DataType::u8 ? 140 : -9;
  q.input_scale = 0.02f;
  q.weight_scales = {0.01f};
  if (s.dst_type == DataType::u8 || s.dst_type == DataType::s8) {
    q.output_zero_point = s.dst_type == DataType::u8 ? 90 : -4;
    q.output_scale = static_cast<float>(0.02 * 0.01 * 5500.0 *
                                        std::sqrt(static_cast<double>(s.kh * s.kw * s.ic_per_group())) / 150.0);
  }
  c.packed.resize(static_cast<std::size_t>(c.plan.packed.total_floats()));
  pack_quantized_for_plan(c.plan, q, c.s8_weights.data(), s.bias ? QuantizedBias(c.s32_bias.data()) : QuantizedBias(),
                          c.packed.data());
}

Case prepare_case(const NamedShape& named, std::uint64_t seed) {
  Case c{named, make_plan(named.shape, Isa::neon), {}, {}, {}, {}, {}, {}, {}};
  const ConvShape& s = named.shape;
  if (s.quantized()) {
    prepare_8bit(c, seed);
    return c;
  }
  c.src = random_floats(static_cast<std::size_t>(s.src_elems()), seed);
  c.weights = random_floats(static_cast<std::size_t>(s.weight_elems()), seed ^ 0x5bd1e995u);
  // Passed even without bias: the kernel must then ignore it.
  c.bias = random_floats(static_cast<std::size_t>(s.oc), seed ^ 0xc2b2ae35u);
  c.packed.resize(static_cast<std::size_t>(c.plan.packed.total_floats()));
  pack_for_plan(c.plan, c.weights.data(), c.bias.data(), c.packed.data());
  return c;
}

std::string kernel_symbol(std::size_t index) { return "convjit_kernel_" + std::to_string(index); }

// The AArch64 object of every case, compiled on every core: each compile has its own LLVM
// context and target machine. (No Boost.Test in the workers; its macros are not thread-safe.)
std::vector<std::vector<std::uint8_t>> cross_compile_objects(const std::vector<Case>& cases) {
  std::vector<std::vector<std::uint8_t>> objects(cases.size());
  const std::size_t workers = std::max(1u, std::thread::hardware_concurrency());
  std::vector<std::future<void>> done;
  for (std::size_t w = 0; w < workers; ++w)
    done.push_back(std::async(std::launch::async, [&, w] {
      for (std::size_t i = w; i < cases.size(); i += workers)
        objects[i] = cross_compile_kernel(cases[i].plan, cross_target(Isa::neon), kernel_symbol(i)).object;
    }));
  for (std::future<void>& worker : done) worker.get();  // rethrows a worker's exception
  return objects;
}

void write_floats(std::ofstream& out, const std::vector<float>& data) {
  out.write(reinterpret_cast<const char*>(data.data()),
            static_cast<std::streamsize>(data.size() * sizeof(float)));
}

void write_inputs(const Case& c, const fs::path& path) {
  std::ofstream out(path, std::ios::binary);
  write_floats(out, c.src);
  write_floats(out, c.packed);
  BOOST_TEST_REQUIRE(out.good(), path);
}

void write_object(const std::vector<std::uint8_t>& object, const fs::path& path) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(object.data()), static_cast<std::streamsize>(object.size()));
  BOOST_TEST_REQUIRE(out.good(), path);
}

// The runner's table of kernels (kernel_runner.h), with this host's KernelCallArgs layout
// asserted, since the kernels were compiled against it.
std::string kernel_table_source(const std::vector<Case>& cases) {
  std::ostringstream c;
  c << "/* Generated by tests/aarch64_qemu_test.cpp. */\n"
    << "#include \"kernel_runner.h\"\n#include <stddef.h>\n\n";
  auto layout = [&](const char* what, std::size_t value) {
    c << "_Static_assert(" << what << " == " << value << ", \"KernelCallArgs: " << what << "\");\n";
  };
  layout("sizeof(struct kernel_call_args)", sizeof(KernelCallArgs));
  layout("offsetof(struct kernel_call_args, src)", offsetof(KernelCallArgs, src));
  layout("offsetof(struct kernel_call_args, weights)", offsetof(KernelCallArgs, weights));
  layout("offsetof(struct kernel_call_args, bias)", offsetof(KernelCallArgs, bias));
  layout("offsetof(struct kernel_call_args, dst)", offsetof(KernelCallArgs, dst));
  layout("offsetof(struct kernel_call_args, unit_begin)", offsetof(KernelCallArgs, unit_begin));
  layout("offsetof(struct kernel_call_args, unit_end)", offsetof(KernelCallArgs, unit_end));
  layout("offsetof(struct kernel_call_args, tile_begin)", offsetof(KernelCallArgs, tile_begin));
  layout("offsetof(struct kernel_call_args, tile_end)", offsetof(KernelCallArgs, tile_end));
  layout("offsetof(struct kernel_call_args, residual)", offsetof(KernelCallArgs, residual));
  layout("offsetof(struct kernel_call_args, scratch)", offsetof(KernelCallArgs, scratch));
  c << "\n";
  for (std::size_t i = 0; i < cases.size(); ++i)
    c << "void " << kernel_symbol(i) << "(const struct kernel_call_args*);\n";
  c << "\nconst struct kernel_case kernel_cases[] = {\n";
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const ConvShape& s = cases[i].named.shape;
    const KernelPlan& p = cases[i].plan;
    // Images in whole floats: 8-bit shapes run one image of bytes.
    const std::size_t src_floats = s.quantized() ? cases[i].src.size() : static_cast<std::size_t>(s.c * s.h * s.w);
    const std::size_t dst_floats = s.quantized() ? floats_for_bytes(s.dst_elems() * s.dst_element_bytes())
                                                 : static_cast<std::size_t>(s.oc * s.out_h * s.out_w);
    c << "  {" << kernel_symbol(i) << ", \"" << s.to_string() << "\", " << s.n << ", "
      << src_floats << ", " << dst_floats << ", " << cases[i].packed.size()
      << ", " << p.packed.weight_floats << ", " << s.out_h << ", " << channel_tile_count(p)
      << "},\n";
  }
  c << "};\nconst int kernel_case_count = " << cases.size() << ";\n";
  return c.str();
}

// ------------------------------------------------------------------ judging one output

std::vector<float> read_floats(const fs::path& path, std::size_t count) {
  std::vector<float> data(count);
  std::ifstream in(path, std::ios::binary);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!in) data.clear();
  return data;
}

// 8-bit: the bytes equal the exact reference's, and the bytes after them in the last float
// keep the NaN the runner filled dst with.
bool check_8bit_output(const Case& c, const std::vector<float>& buffer) {
  const ConvShape& s = c.named.shape;
  const auto bytes = s.dst_elems() * s.dst_element_bytes();
  std::vector<std::uint8_t> expected(floats_for_bytes(bytes) * 4);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t i = 0; i < expected.size(); i += 4) std::memcpy(&expected[i], &nan, 4);
  quantized_reference_conv(s, c.q, c.src.data(), c.s8_weights.data(),
                           s.bias ? QuantizedBias(c.s32_bias.data()) : QuantizedBias(), expected.data());
  const auto* actual = reinterpret_cast<const std::uint8_t*>(buffer.data() + KERNEL_RUNNER_GUARD_FLOATS);
  std::size_t differ = expected.size();
  for (std::size_t i = 0; i < expected.size() && differ == expected.size(); ++i)
    if (actual[i] != expected[i]) differ = i;
  const bool equal = differ == expected.size();
  BOOST_TEST(equal, "byte " << differ << " of dst is " << (equal ? 0 : int(actual[differ]))
                            << ", the exact reference's " << (equal ? 0 : int(expected[differ])));
  return equal;
}

// Checks (BOOST_TEST) and returns whether the output matches.
bool check_output(const Case& c, const fs::path& path) {
  const ConvShape& s = c.named.shape;
  // dst in whole floats (8-bit outputs are bytes in them).
  const std::size_t dst_floats = s.quantized() ? floats_for_bytes(s.dst_elems() * s.dst_element_bytes())
                                               : static_cast<std::size_t>(s.dst_elems());
  constexpr std::size_t guard = KERNEL_RUNNER_GUARD_FLOATS;
  const std::vector<float> buffer = read_floats(path, dst_floats + 2 * guard);
  BOOST_TEST_REQUIRE(!buffer.empty(), "no output from the runner: " << path);
  bool guards_intact = true;
  for (std::size_t i = 0; i < guard; ++i)
    guards_intact = guards_intact && buffer[i] == KERNEL_RUNNER_GUARD_VALUE &&
                    buffer[guard + dst_floats + i] == KERNEL_RUNNER_GUARD_VALUE;
  BOOST_TEST(guards_intact, "the kernel wrote outside dst");
  if (s.quantized()) return check_8bit_output(c, buffer) && guards_intact;

  std::vector<float> expected(dst_floats);
  reference_conv(s, c.src.data(), c.weights.data(), s.bias ? c.bias.data() : nullptr, expected.data());
  const float* actual = buffer.data() + guard;
  std::size_t worst = 0;
  double worst_error = 0;
  for (std::size_t i = 0; i < dst_floats; ++i) {
    const double error = max_abs_error(actual + i, expected.data() + i, 1);
    if (i == 0 || error > worst_error) worst = i, worst_error = error;
  }
  const bool close = worst_error <= tolerance(s);
  BOOST_TEST(close, "max |neon - reference| = " << worst_error << " > " << tolerance(s)
                                                << " at dst[" << worst << "]: " << actual[worst]
                                                << " vs " << expected[worst]);
  return guards_intact && close;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A fresh directory for one run's objects, data and logs, kept unless the run succeeded.
class Workspace {
 public:
  Workspace() {
    std::string pattern = (fs::temp_directory_path() / "convjit-aarch64-XXXXXX").string();
    BOOST_TEST_REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    dir_ = pattern;
  }
  ~Workspace() {
    if (keep_) std::cout << "aarch64: kept " << dir_.string() << " for a look\n";
    else fs::remove_all(dir_);
  }
  const fs::path& dir() const { return dir_; }
  void discard() { keep_ = false; }

 private:
  fs::path dir_;
  bool keep_ = true;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(neon_kernels_under_qemu)

BOOST_AUTO_TEST_CASE(kernels_for_every_kind_of_shape_match_the_reference_on_aarch64,
                     *boost::unit_test::precondition(the_aarch64_toolchain_is_installed)) {
  std::string why_not;
  const Toolchain tools = find_toolchain(why_not).value();
  Workspace workspace;
  const fs::path& dir = workspace.dir();
  const auto started = std::chrono::steady_clock::now();

  // The host side: plans, inputs, packed weights and objects.
  const std::vector<NamedShape> shapes = shapes_to_run();
  BOOST_TEST_REQUIRE(shapes.size() >= 50u);
  std::vector<Case> cases;
  for (std::size_t i = 0; i < shapes.size(); ++i) {
    cases.push_back(prepare_case(shapes[i], 7000 + i));
    BOOST_TEST_REQUIRE(cases.back().plan.lanes == 4);
    BOOST_TEST_REQUIRE(cases.back().plan.vector_registers == 32);
    write_inputs(cases.back(), dir / ("case_" + std::to_string(i) + ".in"));
  }
  const std::vector<std::vector<std::uint8_t>> compiled = cross_compile_objects(cases);
  std::string objects;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const fs::path object = dir / ("kernel_" + std::to_string(i) + ".o");
    write_object(compiled[i], object);
    objects += " '" + object.string() + "'";
  }
  std::ofstream(dir / "kernel_table.c") << kernel_table_source(cases);
  const double compile_s = seconds_since(started);

  // One static AArch64 program holding every kernel.
  const auto link_started = std::chrono::steady_clock::now();
  const fs::path runner_dir = CONVJIT_AARCH64_RUNNER_DIR;
  const fs::path runner = dir / "kernel_runner";
  const std::string link = "'" + tools.gcc + "' -O2 -static -I'" + runner_dir.string() + "' '" +
                           (runner_dir / "kernel_runner.c").string() + "' '" +
                           (dir / "kernel_table.c").string() + "'" + objects + " -o '" +
                           runner.string() + "'";
  BOOST_TEST_REQUIRE(run_logged(link, dir / "link.log") == 0,
                     "linking the runner failed:\n" << file_text(dir / "link.log"));
  const double link_s = seconds_since(link_started);

  // Run under the emulator, then judge every output on the host.
  const auto run_started = std::chrono::steady_clock::now();
  const int status = run_logged("'" + tools.qemu + "' '" + runner.string() + "' '" + dir.string() + "'",
                                dir / "run.log");
  const std::string log = file_text(dir / "run.log");
  BOOST_TEST_REQUIRE(status == 0, "the runner exited with " << status << "; its log ends:\n"
                                      << log.substr(log.size() > 2000 ? log.size() - 2000 : 0));
  BOOST_TEST_REQUIRE(log.find("ran " + std::to_string(cases.size()) + " kernels") != std::string::npos);
  const double run_s = seconds_since(run_started);

  std::size_t matched = 0;
  for (std::size_t i = 0; i < cases.size(); ++i)
    BOOST_TEST_CONTEXT(cases[i].named.origin << " " << cases[i].named.shape.to_string() << " ("
                                             << cases[i].plan.name << ")") {
      matched += check_output(cases[i], dir / ("case_" + std::to_string(i) + ".out"));
    }
  if (matched == cases.size()) workspace.discard();

  std::size_t features = 0, random = 0, eight_bit = 0;
  for (const NamedShape& s : shapes) {
    features += s.origin == "feature";
    random += s.origin == "random";
    eight_bit += s.origin == "8-bit";
  }
  std::cout << "aarch64: " << cases.size() << " shapes ran as NEON kernels under qemu-aarch64 ("
            << features << " feature shapes, " << random << " random, " << eight_bit
            << " 8-bit (exact), " << cases.size() - features - random - eight_bit
            << " from bench/shapes.txt), " << matched
            << " matched the reference; compile " << compile_s << " s, link " << link_s
            << " s, run " << run_s << " s, total " << seconds_since(started) << " s\n";
}

BOOST_AUTO_TEST_SUITE_END()
