// build/convjit_tail_access_bench: what one AVX2 tail access costs on this core, masked
// (vmaskmovps) against the exact narrow pieces the kernels could use instead. It is the
// measurement behind generator/vector_store.hpp: masked stores are replaced by pieces, masked
// loads are kept. Each variant is a loop of eight independent accesses, each to its own cache
// line (so stores do not queue behind one address), over a buffer that stays in L1; the
// number is the median over 15 runs of nanoseconds per access (one access = every
// instruction of the variant). Needs AVX2; prints the CPU model first.
#include <xbyak/xbyak.h>
#include <xbyak/xbyak_util.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

using Xbyak::CodeGenerator;
using Xbyak::Xmm;
using Xbyak::Ymm;
namespace util = Xbyak::util;

// Registers by role in the generated loop. System V: (buffer, iterations, mask).
const Xbyak::Reg64 kBuffer = util::rdi;
const Xbyak::Reg64 kIterations = util::rsi;
const Xbyak::Reg64 kMaskWords = util::rdx;
const Ymm kMask = util::ymm15;       // vmaskmovps' lane mask
const Xmm kScratch = util::xmm14;    // a piece's other half
constexpr int kAccesses = 8;         // per iteration, in ymm0..7
constexpr int kLine = 64;            // bytes between the accesses

// One variant's instructions for access i (registers ymm i, address kBuffer + i * kLine).
using Access = std::function<void(CodeGenerator&, int)>;

Xbyak::Address line(int i, int bytes = 0) { return util::ptr[kBuffer + i * kLine + bytes]; }

class AccessLoop : public CodeGenerator {
 public:
  explicit AccessLoop(const Access& access) : CodeGenerator(64 * 1024) {
    vmovups(kMask, util::ptr[kMaskWords]);
    Xbyak::Label top;
    L(top);
    for (int i = 0; i < kAccesses; ++i) access(*this, i);
    dec(kIterations);
    jnz(top, T_NEAR);
    vzeroupper();
    ret();
  }
};

double nanoseconds_per_access(const Access& access, float* buffer, const int* mask) {
  AccessLoop code(access);
  code.ready();
  auto run = code.getCode<void (*)(float*, long, const int*)>();
  constexpr long kIterationsPerRun = 200000;
  std::vector<double> runs;
  for (int r = 0; r < 15; ++r) {
    const auto start = std::chrono::steady_clock::now();
    run(buffer, kIterationsPerRun, mask);
    const auto end = std::chrono::steady_clock::now();
    runs.push_back(std::chrono::duration<double, std::nano>(end - start).count() /
                   (kIterationsPerRun * kAccesses));
  }
  std::sort(runs.begin(), runs.end());
  return runs[runs.size() / 2];
}

std::string cpu_model() {
  std::ifstream info("/proc/cpuinfo");
  for (std::string text; std::getline(info, text);)
    if (text.starts_with("model name")) return text.substr(text.find(':') + 2);
  return "unknown CPU";
}

}  // namespace

int main() {
  Xbyak::util::Cpu cpu;
  if (!cpu.has(Xbyak::util::Cpu::tAVX2)) {
    std::printf("convjit_tail_access_bench needs AVX2\n");
    return 2;
  }
  alignas(64) static float buffer[kAccesses * kLine];
  alignas(32) static const int one[8] = {-1, 0, 0, 0, 0, 0, 0, 0};
  alignas(32) static const int three[8] = {-1, -1, -1, 0, 0, 0, 0, 0};
  alignas(32) static const int six[8] = {-1, -1, -1, -1, -1, -1, 0, 0};
  struct Variant {
    const char* name;
    const int* mask;
    Access access;
  };
  const Variant variants[] = {
      {"store vmaskmovps, 1 lane", one,
       [](CodeGenerator& c, int i) { c.vmaskmovps(line(i), kMask, Ymm(i)); }},
      {"store vmovss (1 lane)", one, [](CodeGenerator& c, int i) { c.vmovss(line(i), Xmm(i)); }},
      {"store vmaskmovps, 3 lanes", three,
       [](CodeGenerator& c, int i) { c.vmaskmovps(line(i), kMask, Ymm(i)); }},
      {"store vmovlps + vextractps (3 lanes)", three,
       [](CodeGenerator& c, int i) {
         c.vmovlps(line(i), Xmm(i));
         c.vextractps(line(i, 8), Xmm(i), 2);
       }},
      {"store vmaskmovps, 6 lanes", six,
       [](CodeGenerator& c, int i) { c.vmaskmovps(line(i), kMask, Ymm(i)); }},
      {"store xmm + vextractf128 + vmovlps (6 lanes)", six,
       [](CodeGenerator& c, int i) {
         c.vmovups(line(i), Xmm(i));
         c.vextractf128(kScratch, Ymm(i), 1);
         c.vmovlps(line(i, 16), kScratch);
       }},
      {"store vmovups ymm (8 lanes)", six, [](CodeGenerator& c, int i) { c.vmovups(line(i), Ymm(i)); }},
      {"load vmaskmovps, 3 lanes", three,
       [](CodeGenerator& c, int i) { c.vmaskmovps(Ymm(i), kMask, line(i)); }},
      {"load vmovsd + vinsertps (3 lanes)", three,
       [](CodeGenerator& c, int i) {
         c.vmovsd(Xmm(i), line(i));
         c.vinsertps(Xmm(i), Xmm(i), line(i, 8), 0x20);
       }},
      {"load vmaskmovps, 6 lanes", six,
       [](CodeGenerator& c, int i) { c.vmaskmovps(Ymm(i), kMask, line(i)); }},
      {"load xmm + vmovsd + vinsertf128 (6 lanes)", six,
       [](CodeGenerator& c, int i) {
         c.vmovups(Xmm(i), line(i));
         c.vmovsd(kScratch, line(i, 16));
         c.vinsertf128(Ymm(i), Ymm(i), kScratch, 1);
       }},
      {"load vmovups ymm (8 lanes)", six, [](CodeGenerator& c, int i) { c.vmovups(Ymm(i), line(i)); }},
  };
  std::printf("cpu: %s\n", cpu_model().c_str());
  for (const Variant& v : variants)
    std::printf("  %-46s %7.3f ns per access\n", v.name,
                nanoseconds_per_access(v.access, buffer, v.mask));
  return 0;
}
