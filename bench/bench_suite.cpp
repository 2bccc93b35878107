// The benchmark suite: environment, per-shape interleaved timing of every backend, summary.
#include "bench/bench_suite.hpp"

#include "bench/baseline.hpp"
#include "bench/bench_case.hpp"
#include "bench/bench_environment.hpp"
#include "core/reference.hpp"
#include "core/tolerance.hpp"

#include <convjit/convjit.hpp>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <functional>
#include <iomanip>
#include <istream>
#include <limits>
#include <map>
#include <memory>
#include <ostream>
#include <random>
#include <sstream>

namespace convjit::bench {
using namespace std::string_literals;
namespace {

bool is_convjit_backend(const std::string& name) {
  return name == "xbyak" || name == "llvm" || name == "generic" || name == "reference";
}

// ------------------------------------------------------------------ small formatting helpers


std::string json_string(const std::string& s) { return "\"" + json_escape(s) + "\""; }

std::string json_number(double v, int precision = 3) {
  if (!std::isfinite(v)) return "null";
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

std::string fixed(double v, int precision) {
  if (!std::isfinite(v)) return "-";
  std::ostringstream os;
  os << std::fixed << std::setprecision(precision) << v;
  return os.str();
}

// Three significant-ish digits for times that range from 0.1 µs to seconds.
std::string time_us(double us) {
  if (!std::isfinite(us)) return "-";
  return fixed(us, us < 10 ? 3 : us < 1000 ? 2 : 1);
}

// ------------------------------------------------------------------ one (shape, backend) case

struct ShapeData {
  std::vector<float> src, weights, bias, expected;
};

ShapeData make_data(const ConvShape& s, std::uint32_t seed, bool with_expected) {
  ShapeData d;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  d.src.resize(static_cast<std::size_t>(s.src_elems()));
  d.weights.resize(static_cast<std::size_t>(s.weight_elems()));
  d.bias.resize(static_cast<std::size_t>(s.oc));
  for (float& v : d.src) v = uni(rng);
  for (float& v : d.weights) v = uni(rng);
  for (float& v : d.bias) v = uni(rng);
  if (with_expected) {
    d.expected.resize(static_cast<std::size_t>(s.dst_elems()));
    reference_conv(s, d.src.data(), d.weights.data(), d.bias.data(), d.expected.data());
  }
  return d;
}


std::string join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string getenv_or(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "(unset)";
}

void print_environment_text(const Environment& env, const BenchOptions& o,
                            const std::vector<std::string>& backends, std::ostream& out) {
  out << "convjit bench\n";
  out << "  cpu        : " << env.cpu << " (" << env.logical_cpus << " logical CPUs)\n";
  out << "  peak       : " << fixed(env.peak_avx2, 1)
      << " GFLOP/s single-thread AVX2 FMA (measured now: 12 chains of vfmadd231ps ymm, 16 flop"
         " each)";
  if (env.peak_avx512 > 0)
    out << "\n               " << fixed(env.peak_avx512, 1)
        << " GFLOP/s with AVX-512 zmm, for context: libraries that run AVX-512 code can exceed"
           " 100% of the AVX2 peak";
  out << "\n  threads    : " << o.threads << " per call"
      << (o.threads > 1 ? " (%peak is of threads x the single-thread peak)" : "") << "\n";
  out << "  load       : " << (env.load_average.empty() ? "?" : env.load_average)
      << " (1-minute load average at start)";
  if (const double load = std::atof(env.load_average.c_str());
      env.logical_cpus && load > 0.5 * env.logical_cpus)
    out << " - a busy machine: wall times are noisy"
        << (use_cpu_timer(o) ? ", so the tables use thread CPU time (see 'quiet')" : "");
  out << "\n";
  out << "  convjit    : available here: " << join(env.convjit_available, ", ") << "\n";
  if (env.baselines.empty()) {
    out << "  baselines  : none built (oneDNN, XNNPACK, OpenBLAS not found at configure time)\n";
  } else {
    bool first = true;
    for (const auto& [name, version] : env.baselines) {
      out << (first ? "  baselines  : " : "               ") << std::left << std::setw(16)
          << name << std::right << version << "\n";
      first = false;
    }
  }
  for (const auto& name : known_baseline_names())
    if (const std::string why = baseline_missing_reason(name); !why.empty())
      out << "               " << std::left << std::setw(16) << name << std::right << why << "\n";
  out << "  isa        : "
      << (o.same_isa ? "avx2: convjit generates AVX2 and the baselines are capped to it "
                       "(DNNL_MAX_CPU_ISA="s +
                           getenv_or("DNNL_MAX_CPU_ISA") + ", OPENBLAS_CORETYPE=" +
                           getenv_or("OPENBLAS_CORETYPE") + "; XNNPACK cannot be capped)"
                     : "native: convjit ("s + std::string(to_string(resolve_isa(Isa::automatic, Backend::xbyak))) +
                           ") and every baseline use the widest vectors this CPU has")
      << "\n"
      << "  %peak      : of the "
      << (peak_is_avx512(env, o) ? "AVX-512" : "AVX2") << " peak above\n";
  out << "  backends   : " << join(backends, ", ") << "\n";
  out << "  method     : NHWC activations, HWIO weights packed outside the timed loop; outputs"
         " checked against the reference first (the tests'"
         " bound);\n"
      << "               backends timed round-robin, each repetition a batch of back-to-back"
         " calls >= "
      << fixed(o.min_batch_seconds * 1e3, 1) << " ms, " << o.repetitions << ".."
      << o.max_repetitions << " repetitions, >= " << fixed(o.min_seconds_per_case, 2)
      << " s per case;\n"
      << "               timer: "
      << (use_cpu_timer(o) ? "the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID)"
                           : "wall clock (steady_clock)")
      << "; median per call; spread = (p75 - p25) / median;\n"
      << "               speedup = backend median / xbyak median (> 1: xbyak faster);"
         " quiet = repetitions not preempted (CPU time >= 95% of wall)\n";
}

std::string environment_json(const Environment& env, const BenchOptions& o) {
  std::ostringstream os;
  os << "{\"environment\":{\"cpu\":" << json_string(env.cpu)
     << ",\"logical_cpus\":" << env.logical_cpus
     << ",\"fma_peak_gflops\":" << json_number(env.peak_avx2, 2)
     << ",\"avx512_fma_peak_gflops\":" << json_number(env.peak_avx512 > 0 ? env.peak_avx512 : nan_value, 2)
     << ",\"convjit_isa\":"
     << json_string(o.same_isa ? "avx2" : std::string(to_string(resolve_isa(Isa::automatic, Backend::xbyak))))
     << ",\"threads\":" << o.threads << ",\"timer\":"
     << json_string(use_cpu_timer(o) ? "cpu" : "wall")
     << ",\"load_average\":" << json_string(env.load_average) << ",\"convjit_backends\":[";
  for (std::size_t i = 0; i < env.convjit_available.size(); ++i)
    os << (i ? "," : "") << json_string(env.convjit_available[i]);
  os << "],\"baselines\":{";
  for (std::size_t i = 0; i < env.baselines.size(); ++i)
    os << (i ? "," : "") << json_string(env.baselines[i].first) << ":"
       << json_string(env.baselines[i].second);
  os << "}}}";
  return os.str();
}

// ------------------------------------------------------------------ preparing cases

void prepare_convjit(Case& c, const ConvShape& shape, const ShapeData& d, int threads,
                     bool same_isa) {
  JitOptions jo;
  jo.backend = parse_backend(c.backend);
  jo.isa = same_isa ? Isa::avx2 : Isa::automatic;
  jo.threads = threads;
  Jit jit(jo);
  c.kernel = jit.compile(shape);
  c.compile_us = c.kernel->generation_us();
  c.impl = c.kernel->name();
  const auto t0 = Clock::now();
  c.packed = c.kernel->pack_weights(d.weights.data(), shape.bias ? d.bias.data() : nullptr);
  c.pack_us = seconds_since(t0) * 1e6;
  const Kernel* k = c.kernel.get();
  const PackedWeights* w = &c.packed;
  const float* src = d.src.data();
  float* dst = c.dst.data();
  c.call = [k, w, src, dst, threads] { k->run(src, *w, dst, threads); };
}

void prepare_baseline(Case& c, const Baseline& b, const ConvShape& shape, const ShapeData& d,
                      int threads) {
  if (const std::string why = b.unsupported_reason(shape); !why.empty()) {
    c.skip("unsupported: " + why);
    return;
  }
  const auto t0 = Clock::now();
  c.prepared = b.prepare(shape, d.weights.data(), shape.bias ? d.bias.data() : nullptr, threads);
  c.compile_us = seconds_since(t0) * 1e6;
  c.impl = c.prepared->describe();
  PreparedConv* p = c.prepared.get();
  const float* src = d.src.data();
  float* dst = c.dst.data();
  c.call = [p, src, dst] { p->run(src, dst); };
}

// ------------------------------------------------------------------ reporting

double gflops_of(const ConvShape& s, double median_us) {
  return std::isfinite(median_us) && median_us > 0 ? s.flops() / (median_us * 1e3) : nan_value;
}

void print_shape_text(const ShapeResult& r, std::size_t index, std::size_t total, double peak,
                      std::ostream& out) {
  const ConvShape& s = r.shape;
  out << "\n[" << index << "/" << total << "] " << r.name << "  " << s.to_string() << "\n"
      << "      " << fixed(s.flops() * 1e-6, 2) << " MFLOP, output " << s.n << "x" << s.out_h
      << "x" << s.out_w << "x" << s.oc << "\n";
  out << "  " << std::left << std::setw(16) << "backend" << std::right << std::setw(12)
      << "compile_us" << std::setw(12) << "median_us" << std::setw(12) << "min_us"
      << std::setw(12) << "max_us" << std::setw(8) << "spread" << std::setw(9) << "GFLOP/s"
      << std::setw(7) << "%peak" << std::setw(10) << "speedup" << std::setw(7) << "quiet"
      << "  impl\n";
  const Case* xbyak = r.find("xbyak");
  for (const Case& c : r.cases) {
    out << "  " << std::left << std::setw(16) << c.backend << std::right;
    if (!c.ok()) {
      out << c.status << ": " << c.reason << "\n";
      continue;
    }
    const Stats& st = c.stats;
    const double gf = gflops_of(s, st.median_us);
    const double spread = (st.p75_us - st.p25_us) / st.median_us * 100;
    const double speedup = xbyak ? st.median_us / xbyak->stats.median_us : nan_value;
    out << std::setw(12) << fixed(c.compile_us, 1) << std::setw(12) << time_us(st.median_us)
        << std::setw(12) << time_us(st.min_us) << std::setw(12) << time_us(st.max_us)
        << std::setw(7) << fixed(spread, 1) << "%" << std::setw(9) << fixed(gf, 2)
        << std::setw(6) << fixed(peak > 0 ? gf / peak * 100 : nan_value, 1) << "%"
        << std::setw(9) << (xbyak ? fixed(speedup, 2) + "x" : std::string("-"))
        << std::setw(6) << fixed(c.undisturbed * 100, 0) << "%  " << c.impl << "\n";
  }
  out.flush();
}

void print_shape_json(const ShapeResult& r, const BenchOptions& o, double peak,
                      std::ostream& out) {
  const ConvShape& s = r.shape;
  const Case* xbyak = r.find("xbyak");
  for (const Case& c : r.cases) {
    const Stats& st = c.stats;
    const double gf = c.ok() ? gflops_of(s, st.median_us) : nan_value;
    out << "{\"name\":" << json_string(r.name) << ",\"spec\":" << json_string(s.to_string())
        << ",\"backend\":" << json_string(c.backend) << ",\"status\":" << json_string(c.status);
    if (!c.ok()) out << ",\"reason\":" << json_string(c.reason);
    out << ",\"median_us\":" << json_number(st.median_us)
        << ",\"min_us\":" << json_number(st.min_us) << ",\"max_us\":" << json_number(st.max_us)
        << ",\"p25_us\":" << json_number(st.p25_us) << ",\"p75_us\":" << json_number(st.p75_us)
        << ",\"timer\":" << json_string(use_cpu_timer(o) ? "cpu" : "wall")
        << ",\"median_wall_us\":" << json_number(c.median_wall_us)
        << ",\"median_cpu_us\":" << json_number(c.median_cpu_us)
        << ",\"undisturbed\":" << json_number(c.undisturbed, 3)
        << ",\"gflops\":" << json_number(gf) << ",\"peak_gflops\":" << json_number(peak, 2)
        << ",\"peak_fraction\":" << json_number(peak > 0 ? gf / peak : nan_value, 4)
        << ",\"compile_us\":" << json_number(c.compile_us)
        << ",\"pack_us\":" << json_number(c.pack_us)
        << ",\"mflop\":" << json_number(s.flops() * 1e-6) << ",\"threads\":" << o.threads
        << ",\"reps\":" << c.wall_us.size() << ",\"calls_per_rep\":"
        << (c.ok() ? c.calls_per_rep : 0)
        << ",\"max_abs_err\":" << json_number(c.max_abs_err, 9)
        << ",\"speedup_of_xbyak\":"
        << json_number(c.ok() && xbyak ? st.median_us / xbyak->stats.median_us : nan_value, 4)
        << ",\"impl\":" << json_string(c.impl) << "}\n";
  }
  out.flush();
}

void print_summary_text(const std::vector<ShapeResult>& results,
                        const std::vector<std::string>& backends, double peak,
                        std::ostream& out) {
  constexpr double big_flops = 10e6;
  out << "\nSummary";
  out << "\n  geometric mean GFLOP/s and %peak per backend (over the shapes it ran):\n";
  for (const std::string& b : backends) {
    double log_sum = 0;
    int count = 0;
    for (const ShapeResult& r : results)
      if (const Case* c = r.find(b)) {
        log_sum += std::log(gflops_of(r.shape, c->stats.median_us));
        ++count;
      }
    out << "    " << std::left << std::setw(16) << b << std::right;
    if (!count) {
      out << "not measured\n";
      continue;
    }
    const double gm = std::exp(log_sum / count);
    out << std::setw(9) << fixed(gm, 2) << " GFLOP/s " << std::setw(6)
        << fixed(peak > 0 ? gm / peak * 100 : nan_value, 1) << "%  over " << count << " shape"
        << (count == 1 ? "" : "s") << "\n";
  }

  bool any_xbyak = false;
  for (const ShapeResult& r : results) any_xbyak = any_xbyak || r.find("xbyak");
  if (!any_xbyak) {
    out << "  xbyak was not measured on any shape: no speedup ratios.\n";
    return;
  }
  out << "  xbyak speedup = geometric mean of (backend median / xbyak median); > 1: xbyak "
         "faster\n";
  out << "    " << std::left << std::setw(16) << "vs backend" << std::right << std::setw(22)
      << "all shapes" << std::setw(22) << ">= 10 MFLOP" << "\n";
  for (const std::string& b : backends) {
    if (b == "xbyak") continue;
    double log_all = 0, log_big = 0;
    int n_all = 0, n_big = 0;
    for (const ShapeResult& r : results) {
      const Case* x = r.find("xbyak");
      const Case* c = r.find(b);
      if (!x || !c) continue;
      const double l = std::log(c->stats.median_us / x->stats.median_us);
      log_all += l;
      ++n_all;
      if (r.shape.flops() >= big_flops) log_big += l, ++n_big;
    }
    auto cell = [](double log_sum, int n) {
      if (!n) return std::string("-");
      return fixed(std::exp(log_sum / n), 2) + "x (" + std::to_string(n) + ")";
    };
    out << "    " << std::left << std::setw(16) << b << std::right << std::setw(22)
        << cell(log_all, n_all) << std::setw(22) << cell(log_big, n_big) << "\n";
  }
  out << "    (the number in parentheses is how many shapes both ran)\n";
}

// ------------------------------------------------------------------ option checks

std::vector<std::string> resolve_backends(const BenchOptions& o) {
  if (o.backends.empty()) return default_backend_names();
  std::vector<std::string> out;
  for (const std::string& b : o.backends) {
    const auto& known = known_backend_names();
    if (std::find(known.begin(), known.end(), b) == known.end())
      throw Error("backend", "unknown backend '" + b + "' (expected " + join(known, ", ") + ")");
    if (std::find(out.begin(), out.end(), b) == out.end()) out.push_back(b);
  }
  return out;
}

void check_options(const BenchOptions& o) {
  if (o.shapes.empty()) throw Error("shapes", "no shapes to benchmark");
  if (o.threads < 1) throw Error("threads", "must be at least 1");
  if (!(o.min_seconds_per_case >= 0)) throw Error("min_seconds_per_case", "must not be negative");
  if (!(o.min_batch_seconds >= 0)) throw Error("min_batch_seconds", "must not be negative");
  if (o.repetitions < 1) throw Error("repetitions", "must be at least 1");
  if (o.max_repetitions < o.repetitions)
    throw Error("max_repetitions", "must be at least repetitions");
}

bool parse_int(const std::string& text, std::int64_t& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last;
}

}  // namespace

// ==================================================================== public API

const std::vector<std::string>& known_backend_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v{"xbyak", "llvm", "generic", "reference"};
    for (const auto& b : known_baseline_names()) v.push_back(b);
    return v;
  }();
  return names;
}

std::vector<std::string> default_backend_names() {
  std::vector<std::string> out;
  const auto available = available_backends();
  for (Backend b : {Backend::xbyak, Backend::llvm, Backend::generic, Backend::reference})
    if (std::find(available.begin(), available.end(), b) != available.end())
      out.emplace_back(to_string(b));
  for (const auto& b : known_baseline_names())
    if (baseline_missing_reason(b).empty()) out.push_back(b);
  return out;
}

std::vector<std::string> parse_backend_list(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  const auto& known = known_backend_names();
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string name =
        text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (name.empty()) throw Error("backend", "empty backend name in '" + text + "'");
    if (name == "all") {
      if (text != "all") throw Error("backend", "'all' cannot be combined with other backends");
      return {};
    }
    if (name == "auto") {
      // The backend the host application would get.
      const std::string resolved(to_string(resolve_backend(Backend::automatic)));
      if (std::find(out.begin(), out.end(), resolved) == out.end()) out.push_back(resolved);
    } else if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw Error("backend", "unknown backend '" + name + "' (expected all, auto, " +
                                 join(known, ", ") + ")");
    } else if (std::find(out.begin(), out.end(), name) == out.end()) {
      out.push_back(name);
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

std::vector<std::pair<std::string, ConvShape>> parse_shapes(std::istream& in,
                                                            const std::string& source) {
  static const char* const fields[] = {"N",  "C",  "H",  "W",  "OC", "KH", "KW",
                                       "SH", "SW", "PH", "PW", "DH", "DW"};
  std::vector<std::pair<std::string, ConvShape>> out;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string where = source + ":" + std::to_string(line_no) + ": ";
    if (const auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream tokens(line);
    std::vector<std::string> t;
    for (std::string tok; tokens >> tok;) t.push_back(tok);
    if (t.empty()) continue;
    if (t.size() != 14)
      throw Error("shapes", where + "expected 14 fields 'name N C H W OC KH KW SH SW PH PW DH DW'"
                                    ", got " + std::to_string(t.size()));
    std::int64_t v[13];
    for (int i = 0; i < 13; ++i)
      if (!parse_int(t[i + 1], v[i]))
        throw Error("shapes", where + "field " + fields[i] + " is not an integer: '" + t[i + 1] +
                                  "'");
    ConvSpec spec;
    spec.n = v[0], spec.c = v[1], spec.h = v[2], spec.w = v[3], spec.oc = v[4];
    spec.kh = v[5], spec.kw = v[6], spec.sh = v[7], spec.sw = v[8];
    spec.padding = PaddingMode::explicit_pads;
    spec.pad_top = spec.pad_bottom = v[9];
    spec.pad_left = spec.pad_right = v[10];
    spec.dh = v[11], spec.dw = v[12];
    try {
      out.emplace_back(t[0], spec.resolve());
    } catch (const Error& e) {
      throw Error("shapes", where + t[0] + ": " + e.field() + ": " + e.reason());
    }
  }
  return out;
}

std::vector<std::pair<std::string, ConvShape>> load_shapes_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error("shapes", "cannot open '" + path + "'");
  return parse_shapes(in, path);
}

int run_bench(const BenchOptions& o, std::ostream& out) {
  check_options(o);
  // Must precede the first oneDNN / OpenBLAS call: both read these once, at initialisation.
  if (o.same_isa) {
    setenv("DNNL_MAX_CPU_ISA", "AVX2", 0);
    setenv("OPENBLAS_CORETYPE", "Haswell", 0);
  }
  const std::vector<std::string> backends = resolve_backends(o);
  const bool reference_explicit =
      std::find(o.backends.begin(), o.backends.end(), "reference") != o.backends.end();

  const auto baselines = available_baselines();
  std::map<std::string, const Baseline*> baseline_by_name;
  for (const auto& b : baselines) baseline_by_name[b->name()] = b.get();

  const Environment env = probe_environment(baselines);
  const double peak = peak_gflops(env, o);
  if (!o.json)
    print_environment_text(env, o, backends, out);
  else if (o.json_environment)
    out << environment_json(env, o) << "\n";
  out.flush();

  std::vector<ShapeResult> results;
  bool any_mismatch = false;
  std::uint32_t seed = 20240611;
  for (std::size_t si = 0; si < o.shapes.size(); ++si) {
    const auto& [name, shape] = o.shapes[si];
    const ShapeData data = make_data(shape, seed++, o.verify);
    ShapeResult r{name, shape, {}};
    r.cases.reserve(backends.size());
    for (const std::string& b : backends) {
      Case& c = r.cases.emplace_back();
      c.backend = b;
      c.dst.assign(static_cast<std::size_t>(shape.dst_elems()),
                   std::numeric_limits<float>::quiet_NaN());
      if (b == "reference" && !reference_explicit &&
          shape.flops() > o.reference_max_mflops * 1e6) {
        c.skip(fixed(shape.flops() * 1e-6, 1) + " MFLOP > " + fixed(o.reference_max_mflops, 0) +
               " MFLOP, too slow (list 'reference' in the backends to run it anyway)");
        continue;
      }
      try {
        if (is_convjit_backend(b)) {
          prepare_convjit(c, shape, data, o.threads, o.same_isa);
        } else if (auto it = baseline_by_name.find(b); it != baseline_by_name.end()) {
          prepare_baseline(c, *it->second, shape, data, o.threads);
        } else {
          c.skip(baseline_missing_reason(b));
        }
      } catch (const Error& e) {
        c.skip(e.field() == "backend" || e.field() == "baseline" ? e.reason()
                                                                 : std::string(e.what()));
      } catch (const std::exception& e) {
        c.skip(std::string("failed to prepare: ") + e.what());
      }
      if (!c.ok()) continue;
      // First call: the correctness check (and the first warm-up call).
      try {
        c.call();
      } catch (const std::exception& e) {
        c.skip_failed_run(e);
        continue;
      }
      if (o.verify) {
        c.max_abs_err = max_abs_error(c.dst, data.expected);
        if (!(c.max_abs_err <= tolerance(shape))) {
          c.status = "mismatch";
          c.reason = "output differs from the reference: max abs error " +
                     json_number(c.max_abs_err, 6) + " (tolerance " +
                     json_number(tolerance(shape), 6) + ")";
          c.call = nullptr;
          any_mismatch = true;
        }
      }
    }
    time_cases(r.cases, o);
    // Release buffers and kernels before the next shape; keep what the report needs.
    for (Case& c : r.cases) {
      c.call = nullptr;
      c.prepared.reset();
      c.packed = PackedWeights();
      c.kernel.reset();
      std::vector<float>().swap(c.dst);
    }
    if (o.json)
      print_shape_json(r, o, peak, out);
    else
      print_shape_text(r, si + 1, o.shapes.size(), peak, out);
    results.push_back(std::move(r));
  }
  if (!o.json) print_summary_text(results, backends, peak, out);
  out.flush();
  return any_mismatch ? 1 : 0;
}


std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char ch : s) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (ch < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", ch);
          out += buf;
        } else {
          out += static_cast<char>(ch);
        }
    }
  }
  return out;
}

}  // namespace convjit::bench
