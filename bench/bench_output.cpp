#include "bench/bench_output.hpp"

#include "bench/bench_format.hpp"
#include "bench/network_totals.hpp"

#include <convjit/convjit.hpp>

#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <ostream>
#include <sstream>

namespace convjit::bench {
using namespace std::string_literals;
namespace {

// The continuation indent of the environment header's values.
constexpr const char* continued = "               ";
// "Big" shapes for the summary's second speed-up column.
constexpr double big_flops = 10e6;

// Three significant-ish digits for times that range from 0.1 µs to seconds.
std::string time_us(double us) {
  if (!std::isfinite(us)) return "-";
  return fixed(us, us < 10 ? 3 : us < 1000 ? 2 : 1);
}

std::string getenv_or(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "(unset)";
}

std::string timer_name(const BenchOptions& o) { return use_cpu_timer(o) ? "cpu" : "wall"; }

// What --isa native makes convjit generate on this CPU.
std::string native_isa_name() {
  return std::string(to_string(resolve_isa(Isa::automatic, Backend::xbyak)));
}

double gflops_of(const ConvShape& s, double median_us) {
  return std::isfinite(median_us) && median_us > 0 ? s.flops() / (median_us * 1e3) : nan_value;
}

double share_of_peak(double gflops, double peak) { return peak > 0 ? gflops / peak : nan_value; }

// "2.06x": effective GFLOP/s as a multiple of the FMA peak ("-" when the peak is unknown).
std::string peak_multiple(double gflops, double peak) {
  const double share = share_of_peak(gflops, peak);
  return std::isfinite(share) ? fixed(share, 2) + "x" : std::string("-");
}

// median(backend) / median(xbyak): > 1 means xbyak is faster.
double speedup_of_xbyak(const Case& c, const Case* xbyak) {
  return c.ok() && xbyak ? c.stats.median_us / xbyak->stats.median_us : nan_value;
}

// Accumulates a geometric mean in the log domain.
struct GeometricMean {
  double log_sum = 0;
  int count = 0;
  void add(double v) {
    log_sum += std::log(v);
    ++count;
  }
  double value() const { return std::exp(log_sum / count); }
};

void print_label(std::ostream& out, const std::string& label) {
  out << std::left << std::setw(16) << label << std::right;
}

// ------------------------------------------------------------------ environment header

void print_cpu_and_peaks(const Environment& env, std::ostream& out) {
  out << "  cpu        : " << env.cpu << " (" << env.logical_cpus << " logical CPUs)\n";
  out << "  peak       : " << fixed(env.peak_avx2, 1)
      << " GFLOP/s single-thread AVX2 FMA (measured now: 12 chains of vfmadd231ps ymm, 16 flop"
         " each)";
  if (env.peak_avx512 > 0)
    out << "\n" << continued << fixed(env.peak_avx512, 1)
        << " GFLOP/s with AVX-512 zmm, for context: libraries that run AVX-512 code can exceed"
           " 1x the AVX2 peak";
  if (env.peak_vnni > 0)
    out << "\n" << continued << fixed(env.peak_vnni, 1)
        << " GOP/s 8-bit (12 chains of vpdpbusd zmm, 128 operations each): what 8-bit shapes'"
           " x peak is of";
  out << "\n";
}

void print_threads_and_load(const Environment& env, const BenchOptions& o, std::ostream& out) {
  out << "  threads    : " << o.threads << " per call"
      << (o.threads > 1 ? " (x peak is of threads x the single-thread peak)" : "") << "\n";
  out << "  load       : " << (env.load_average.empty() ? "?" : env.load_average)
      << " (1-minute load average at start)";
  // Above half a load per CPU, other processes take noticeable time from the measured thread.
  if (const double load = std::atof(env.load_average.c_str());
      env.logical_cpus && load > 0.5 * env.logical_cpus)
    out << " - a busy machine: wall times are noisy"
        << (use_cpu_timer(o) ? ", so the tables use thread CPU time (see 'quiet')" : "");
  out << "\n";
}

void print_libraries(const Environment& env, std::ostream& out) {
  out << "  convjit    : available here: " << join(env.convjit_available, ", ") << "\n";
  if (env.baselines.empty()) {
    out << "  baselines  : none built (oneDNN, XNNPACK, OpenBLAS not found at configure time)\n";
  } else {
    bool first = true;
    for (const auto& [name, version] : env.baselines) {
      out << (first ? "  baselines  : " : continued);
      print_label(out, name);
      out << version << "\n";
      first = false;
    }
  }
  for (const auto& name : known_baseline_names())
    if (const std::string why = baseline_missing_reason(name); !why.empty()) {
      out << continued;
      print_label(out, name);
      out << why << "\n";
    }
}

void print_isa(const Environment& env, const BenchOptions& o, std::ostream& out) {
  out << "  isa        : "
      << (o.same_isa ? "avx2: convjit generates AVX2 and the baselines are capped to it "
                       "(DNNL_MAX_CPU_ISA="s +
                           getenv_or("DNNL_MAX_CPU_ISA") + ", OPENBLAS_CORETYPE=" +
                           getenv_or("OPENBLAS_CORETYPE") + "; XNNPACK cannot be capped)"
                     : "native: convjit ("s + native_isa_name() +
                           ") and every baseline use the widest vectors this CPU has")
      << "\n"
      << "  x peak     : effective GFLOP/s as a multiple of the "
      << (peak_is_avx512(env, o) ? "AVX-512" : "AVX2") << " peak above\n";
}

void print_method(const BenchOptions& o, std::ostream& out) {
  out << "  method     : NHWC activations, HWIO weights packed outside the timed loop; outputs"
         " checked against the reference first (the tests'"
         " bound);\n"
      << continued << "backends timed round-robin, each repetition a batch of back-to-back"
         " calls >= "
      << fixed(o.min_batch_seconds * 1e3, 1) << " ms, " << o.repetitions << ".."
      << o.max_repetitions << " repetitions, >= " << fixed(o.min_seconds_per_case, 2)
      << " s per case;\n"
      << continued << "timer: "
      << (use_cpu_timer(o) ? "the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID)"
                           : "wall clock (steady_clock)")
      << "; median per call; spread = (p75 - p25) / median;\n"
      << continued << "eff.GFLOP/s = direct-convolution FLOPs / median, whatever the algorithm:"
         " Winograd does fewer\n"
      << continued << "multiplications, so its effective rate can pass 1x the FMA peak;\n"
      << continued << "speedup = backend median / xbyak median (> 1: xbyak faster);"
         " quiet = repetitions not preempted (CPU time >= 95% of wall)\n";
}

// ------------------------------------------------------------------ per shape

void print_shape_heading(const ShapeResult& r, std::size_t index, std::size_t total,
                         std::ostream& out) {
  const ConvShape& s = r.shape;
  out << "\n[" << index << "/" << total << "] " << r.name << "  " << s.to_string() << "\n"
      << "      " << fixed(s.flops() * 1e-6, 2) << " MFLOP, output " << s.n << "x" << s.out_h
      << "x" << s.out_w << "x" << s.oc << "\n";
  out << "  ";
  print_label(out, "backend");
  out << std::setw(12) << "compile_us" << std::setw(12) << "median_us" << std::setw(12)
      << "min_us" << std::setw(12) << "max_us" << std::setw(8) << "spread" << std::setw(13)
      << "eff.GFLOP/s" << std::setw(8) << "x peak" << std::setw(10) << "speedup" << std::setw(7)
      << "quiet" << "  impl\n";
}

void print_case_row(const Case& c, const ConvShape& s, const Case* xbyak, double peak,
                    std::ostream& out) {
  out << "  ";
  print_label(out, c.backend);
  if (!c.ok()) {
    // "n/a: ..." (no implementation of the algorithm for the shape) says it all.
    out << (c.reason.rfind("n/a", 0) == 0 ? c.reason : c.status + ": " + c.reason) << "\n";
    return;
  }
  const Stats& st = c.stats;
  const double gf = gflops_of(s, st.median_us);
  const double spread = (st.p75_us - st.p25_us) / st.median_us * 100;
  out << std::setw(12) << fixed(c.compile_us, 1) << std::setw(12) << time_us(st.median_us)
      << std::setw(12) << time_us(st.min_us) << std::setw(12) << time_us(st.max_us)
      << std::setw(7) << fixed(spread, 1) << "%" << std::setw(13) << fixed(gf, 2)
      << std::setw(8) << peak_multiple(gf, peak) << std::setw(10)
      << (xbyak ? fixed(speedup_of_xbyak(c, xbyak), 2) + "x" : std::string("-"))
      << std::setw(6) << fixed(c.undisturbed * 100, 0) << "%  " << c.impl << "\n";
}

std::string case_json(const Case& c, const ShapeResult& r, const Case* xbyak,
                      const BenchOptions& o, double peak) {
  const ConvShape& s = r.shape;
  const Stats& st = c.stats;
  const double gf = c.ok() ? gflops_of(s, st.median_us) : nan_value;
  std::ostringstream os;
  os << "{\"name\":" << json_string(r.name) << ",\"spec\":" << json_string(s.to_string())
     << ",\"backend\":" << json_string(c.backend) << ",\"status\":" << json_string(c.status)
     << ",\"algorithm\":" << json_string(std::string(to_string(c.algorithm)))
     << ",\"count\":" << r.count << ",\"source\":" << json_string(r.source);
  if (!c.ok()) os << ",\"reason\":" << json_string(c.reason);
  os << ",\"median_us\":" << json_number(st.median_us)
     << ",\"min_us\":" << json_number(st.min_us) << ",\"max_us\":" << json_number(st.max_us)
     << ",\"p25_us\":" << json_number(st.p25_us) << ",\"p75_us\":" << json_number(st.p75_us)
     << ",\"timer\":" << json_string(timer_name(o))
     << ",\"median_wall_us\":" << json_number(c.median_wall_us)
     << ",\"median_cpu_us\":" << json_number(c.median_cpu_us)
     << ",\"undisturbed\":" << json_number(c.undisturbed, 3)
     << ",\"gflops\":" << json_number(gf) << ",\"peak_gflops\":" << json_number(peak, 2)
     << ",\"peak_fraction\":" << json_number(share_of_peak(gf, peak), 4)
     << ",\"compile_us\":" << json_number(c.compile_us)
     << ",\"pack_us\":" << json_number(c.pack_us)
     << ",\"mflop\":" << json_number(s.flops() * 1e-6) << ",\"threads\":" << o.threads
     << ",\"reps\":" << c.wall_us.size() << ",\"calls_per_rep\":"
     << (c.ok() ? c.calls_per_rep : 0)
     << ",\"max_abs_err\":" << json_number(c.max_abs_err, 9)
     << ",\"speedup_of_xbyak\":" << json_number(speedup_of_xbyak(c, xbyak), 4)
     << ",\"impl\":" << json_string(c.impl) << "}";
  return os.str();
}

// ------------------------------------------------------------------ summary

void print_gflops_geomeans(const std::vector<ShapeResult>& results,
                           const std::vector<std::string>& backends, double peak,
                           std::ostream& out) {
  out << "\n  geometric mean effective GFLOP/s and multiple of the peak per backend (over the"
         " shapes it ran):\n";
  for (const std::string& b : backends) {
    GeometricMean gflops;
    for (const ShapeResult& r : results)
      if (const Case* c = r.find(b)) gflops.add(gflops_of(r.shape, c->stats.median_us));
    out << "    ";
    print_label(out, b);
    if (!gflops.count) {
      out << "not measured\n";
      continue;
    }
    const double gm = gflops.value();
    out << std::setw(9) << fixed(gm, 2) << " GFLOP/s " << std::setw(6)
        << peak_multiple(gm, peak) << " peak  over " << gflops.count << " shape"
        << (gflops.count == 1 ? "" : "s") << "\n";
  }
}

// "1.23x (n)" over the n shapes both ran, "-" for none.
std::string speedup_cell(const GeometricMean& speedup) {
  if (!speedup.count) return "-";
  return fixed(speedup.value(), 2) + "x (" + std::to_string(speedup.count) + ")";
}

void print_speedup_geomeans(const std::vector<ShapeResult>& results,
                            const std::vector<std::string>& backends, std::ostream& out) {
  out << "  xbyak speedup = geometric mean of (backend median / xbyak median); > 1: xbyak "
         "faster\n";
  out << "    ";
  print_label(out, "vs backend");
  out << std::setw(22) << "all shapes" << std::setw(22) << ">= 10 MFLOP" << "\n";
  for (const std::string& b : backends) {
    if (b == "xbyak") continue;
    GeometricMean all, big;
    for (const ShapeResult& r : results) {
      const Case* x = r.find("xbyak");
      const Case* c = r.find(b);
      if (!x || !c) continue;
      const double speedup = c->stats.median_us / x->stats.median_us;
      all.add(speedup);
      if (r.shape.flops() >= big_flops) big.add(speedup);
    }
    out << "    ";
    print_label(out, b);
    out << std::setw(22) << speedup_cell(all) << std::setw(22) << speedup_cell(big) << "\n";
  }
  out << "    (the number in parentheses is how many shapes both ran)\n";
}

bool xbyak_ran_somewhere(const std::vector<ShapeResult>& results) {
  for (const ShapeResult& r : results)
    if (r.find("xbyak")) return true;
  return false;
}

// ------------------------------------------------------------------ the parts of the report

void print_environment_text(const Environment& env, const BenchOptions& o,
                            const std::vector<std::string>& backends, std::ostream& out) {
  out << "convjit bench\n";
  print_cpu_and_peaks(env, out);
  print_threads_and_load(env, o, out);
  print_libraries(env, out);
  print_isa(env, o, out);
  out << "  backends   : " << join(backends, ", ") << "\n";
  print_method(o, out);
}

std::string environment_json(const Environment& env, const BenchOptions& o) {
  std::ostringstream os;
  os << "{\"environment\":{\"cpu\":" << json_string(env.cpu)
     << ",\"logical_cpus\":" << env.logical_cpus
     << ",\"fma_peak_gflops\":" << json_number(env.peak_avx2, 2)
     << ",\"avx512_fma_peak_gflops\":"
     << json_number(env.peak_avx512 > 0 ? env.peak_avx512 : nan_value, 2)
     << ",\"vnni_peak_gops\":" << json_number(env.peak_vnni > 0 ? env.peak_vnni : nan_value, 2)
     << ",\"convjit_isa\":" << json_string(o.same_isa ? "avx2" : native_isa_name())
     << ",\"threads\":" << o.threads << ",\"timer\":" << json_string(timer_name(o))
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

void print_shape_text(const ShapeResult& r, std::size_t index, std::size_t total, double peak,
                      std::ostream& out) {
  print_shape_heading(r, index, total, out);
  const Case* xbyak = r.find("xbyak");
  for (const Case& c : r.cases) print_case_row(c, r.shape, xbyak, peak, out);
  out.flush();
}

void print_shape_json(const ShapeResult& r, const BenchOptions& o, double peak,
                      std::ostream& out) {
  const Case* xbyak = r.find("xbyak");
  for (const Case& c : r.cases) out << case_json(c, r, xbyak, o, peak) << "\n";
  out.flush();
}

void print_summary_text(const std::vector<ShapeResult>& results,
                        const std::vector<std::string>& backends, double peak,
                        std::ostream& out) {
  out << "\nSummary";
  print_gflops_geomeans(results, backends, peak, out);
  if (!xbyak_ran_somewhere(results))
    out << "  xbyak was not measured on any shape: no speedup ratios.\n";
  else
    print_speedup_geomeans(results, backends, out);
  print_network_totals(results, backends, peak, out);
}

}  // namespace

void print_environment(const Environment& env, const BenchOptions& o,
                       const std::vector<std::string>& backends, std::ostream& out) {
  if (!o.json)
    print_environment_text(env, o, backends, out);
  else if (o.json_environment)
    out << environment_json(env, o) << "\n";
  out.flush();
}

void print_shape(const ShapeResult& r, std::size_t number, const BenchOptions& o, double peak,
                 std::ostream& out) {
  if (o.json)
    print_shape_json(r, o, peak, out);
  else
    print_shape_text(r, number, o.shapes.size(), peak, out);
}

void print_summary(const std::vector<ShapeResult>& results,
                   const std::vector<std::string>& backends, const BenchOptions& o, double peak,
                   std::ostream& out) {
  if (!o.json) print_summary_text(results, backends, peak, out);
}

}  // namespace convjit::bench
