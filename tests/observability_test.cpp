// CONVJIT_VERBOSE, CONVJIT_DUMP and CONVJIT_PERF_MAP. The library reads them once per process,
// so this test sets them before its first use of the library.
#define BOOST_TEST_MODULE observability
#include <boost/test/unit_test.hpp>

#include <convjit/convjit.hpp>

#include "runtime/kernel_state.hpp"
#include "generator/kernel_code.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path& dump_dir() {
  static const fs::path dir = fs::temp_directory_path() / ("convjit-dump-" + std::to_string(::getpid()));
  return dir;
}

std::string perf_map_path() { return "/tmp/perf-" + std::to_string(::getpid()) + ".map"; }

struct Environment {
  Environment() {
    setenv("CONVJIT_VERBOSE", "1", 1);
    setenv("CONVJIT_DUMP", dump_dir().c_str(), 1);
    setenv("CONVJIT_PERF_MAP", "1", 1);
  }
  ~Environment() {
    std::error_code ec;
    fs::remove_all(dump_dir(), ec);
    fs::remove(perf_map_path(), ec);
  }
};
BOOST_TEST_GLOBAL_FIXTURE(Environment);

// Runs `action` with stderr redirected to a file and returns what it wrote.
template <class Action>
std::string capture_stderr(Action action) {
  std::fflush(stderr);
  const fs::path file = dump_dir().string() + ".stderr";
  const int saved = ::dup(2);
  FILE* f = std::fopen(file.c_str(), "w");
  ::dup2(::fileno(f), 2);
  action();
  std::fflush(stderr);
  ::dup2(saved, 2);
  ::close(saved);
  std::fclose(f);
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  fs::remove(file);
  return text.str();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(observability)

BOOST_AUTO_TEST_CASE(verbose_mode_logs_one_line_per_cache_miss_hit_and_run) {
  convjit::Jit jit(convjit::JitOptions{.backend = convjit::Backend::xbyak, .threads = 1});
  const auto spec = convjit::ConvSpec::parse("c=2,h=6,w=7,oc=3,k=3,p=same");
  const std::string log = capture_stderr([&] {
    auto k = jit.get(spec);
    jit.get(spec);
    std::vector<float> src(2 * 6 * 7, 1.0f), w(3 * 3 * 2 * 3, 0.5f), dst(6 * 7 * 3);
    k->run(src.data(), k->pack_weights(w.data(), nullptr), dst.data());
  });
  BOOST_TEST(log.find("convjit_verbose,get,miss,xbyak,") != std::string::npos, log);
  BOOST_TEST(log.find("convjit_verbose,get,hit,xbyak,") != std::string::npos, log);
  BOOST_TEST(log.find("convjit_verbose,run,xbyak,") != std::string::npos, log);
  BOOST_TEST(log.find("run_us=") != std::string::npos, log);
  BOOST_TEST(log.find("gen_us=") != std::string::npos, log);
  BOOST_TEST(log.find(spec.resolve().to_string()) != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(dump_directory_gets_machine_code_disassembly_and_plan) {
  convjit::Jit jit(convjit::JitOptions{.backend = convjit::Backend::xbyak});
  auto k = jit.compile(convjit::ConvSpec::parse("c=8,h=9,w=9,oc=16,k=3,p=1").resolve());
  bool bin = false, disassembly = false, plan = false;
  for (const auto& entry : fs::directory_iterator(dump_dir())) {
    const std::string name = entry.path().filename().string();
    if (name.find(k->name()) != 0) continue;
    if (entry.path().extension() == ".bin") bin = fs::file_size(entry.path()) == kernel_code(*k).machine_code().size();
    if (entry.path().extension() == ".s") {
      std::ifstream in(entry.path());
      std::stringstream text;
      text << in.rdbuf();
      disassembly = text.str().find("vfmadd231ps") != std::string::npos;
    }
    if (name.ends_with(".plan.txt")) plan = true;
  }
  BOOST_TEST(bin);
  BOOST_TEST(disassembly);
  BOOST_TEST(plan);
}

BOOST_AUTO_TEST_CASE(perf_map_names_each_generated_kernel_at_its_address) {
  convjit::Jit jit(convjit::JitOptions{.backend = convjit::Backend::xbyak});
  auto k = jit.compile(convjit::ConvSpec::parse("c=4,h=5,w=5,oc=8,k=1").resolve());
  std::ifstream in(perf_map_path());
  std::stringstream text;
  text << in.rdbuf();
  std::ostringstream expected;
  expected << std::hex << reinterpret_cast<std::uintptr_t>(kernel_code(*k).machine_code().data()) << " "
           << kernel_code(*k).machine_code().size() << " convjit_" << k->name();
  BOOST_TEST(text.str().find(expected.str()) != std::string::npos, text.str());
}

BOOST_AUTO_TEST_SUITE_END()
