#include "runtime/kernel_state.hpp"
#include "runtime/observability.hpp"

#include "core/environment.hpp"
#include "runtime/disassembler.hpp"
#include "generator/kernel_code.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

namespace convjit {
namespace {

std::mutex& output_mutex() {
  static std::mutex m;
  return m;
}

void write_file(const std::filesystem::path& path, const void* data, std::size_t bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}

void dump_kernel(const Kernel& kernel, const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::ostringstream stem;
  stem << kernel.name() << "_" << std::hex << kernel.shape().hash() << "_" << kernel.backend();
  const auto base = dir / stem.str();
  const std::string plan = kernel.describe();
  write_file(base.string() + ".plan.txt", plan.data(), plan.size());
  const auto code = kernel_code(kernel).machine_code();
  if (!code.empty()) {
    write_file(base.string() + ".bin", code.data(), code.size());
    const std::string text =
        disassemble_x86_64(code, reinterpret_cast<std::uintptr_t>(code.data()));
    write_file(base.string() + ".s", text.data(), text.size());
  }
  if (const std::string ir = kernel_code(kernel).ir(); !ir.empty())
    write_file(base.string() + ".ll", ir.data(), ir.size());
}

void append_perf_map(const Kernel& kernel) {
  const auto code = kernel_code(kernel).machine_code();
  if (code.empty()) return;
  const std::string path = "/tmp/perf-" + std::to_string(::getpid()) + ".map";
  if (FILE* f = std::fopen(path.c_str(), "a")) {
    std::fprintf(f, "%llx %zx convjit_%s_%s\n",
                 static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(code.data())),
                 code.size(), kernel.name().c_str(), std::string(kernel.backend()).c_str());
    std::fclose(f);
  }
}

}  // namespace

void log_cache_lookup(const Kernel& kernel, bool hit, double lookup_us) {
  std::lock_guard lock(output_mutex());
  // A tuned kernel's generation time includes its tuning, which is shown on its own too.
  std::string tuning;
  if (const auto& report = kernel.state().tuning) {
    char text[160];
    std::snprintf(text, sizeof text, ",tune=%s,tune_us=%.1f,candidates=%zu,winner=%zu%s",
                  std::string(to_string(report->mode)).c_str(), report->tuning_us,
                  report->candidates.size(), report->winner, report->from_cache ? ",from_cache" : "");
    tuning = text;
  }
  std::fprintf(stderr, "convjit_verbose,get,%s,%s,%s,%s,gen_us=%.1f,lookup_us=%.2f%s\n",
               hit ? "hit" : "miss", std::string(kernel.backend()).c_str(), kernel.name().c_str(),
               kernel.shape().to_string().c_str(), kernel.generation_us(), lookup_us, tuning.c_str());
}

void log_run(const Kernel& kernel, int threads, double run_us) {
  std::lock_guard lock(output_mutex());
  std::fprintf(stderr, "convjit_verbose,run,%s,%s,%s,threads=%d,run_us=%.2f\n",
               std::string(kernel.backend()).c_str(), kernel.name().c_str(),
               kernel.shape().to_string().c_str(), threads, run_us);
}

void publish_generated_kernel(const Kernel& kernel) {
  static const char* dump_dir = std::getenv("CONVJIT_DUMP");
  static const bool perf_map = env_flag("CONVJIT_PERF_MAP");
  if (dump_dir && *dump_dir) {
    std::lock_guard lock(output_mutex());
    dump_kernel(kernel, dump_dir);
  }
  if (perf_map) {
    std::lock_guard lock(output_mutex());
    append_perf_map(kernel);
  }
}

}  // namespace convjit
