// The command-line tool, run as a user runs it (popen on build/convjit), and the
// disassembler behind `convjit asm`.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include "runtime/disassembler.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#ifndef CONVJIT_TOOL
#error "CMake defines CONVJIT_TOOL as the path of build/convjit"
#endif

namespace {

struct Result {
  int status = -1;     // exit status
  std::string output;  // stdout, then stderr (2>&1)
  std::string out;     // stdout alone
};

// Runs `convjit ARGS` through the shell. stdout is read from the pipe, stderr goes to a
// temporary file; `output` is both (for "one line in all" checks), `out` stdout alone.
Result run_tool(const std::string& args) {
  char err_path[] = "/tmp/convjit_cli_test_XXXXXX";
  const int fd = mkstemp(err_path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  const std::string command =
      std::string("'") + CONVJIT_TOOL + "' " + args + " 2>'" + err_path + "'";
  Result r;
  FILE* pipe = popen(command.c_str(), "r");
  BOOST_REQUIRE(pipe != nullptr);
  std::array<char, 4096> buf{};
  std::size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) r.out.append(buf.data(), n);
  const int raw = pclose(pipe);
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  std::string err;
  if (FILE* f = fopen(err_path, "r")) {
    while ((n = fread(buf.data(), 1, buf.size(), f)) > 0) err.append(buf.data(), n);
    fclose(f);
  }
  std::remove(err_path);
  r.output = r.out + err;
  return r;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The layer rows of a Keras-style summary: (output shape, params).
std::vector<std::pair<std::string, std::string>> layer_rows(const std::string& summary) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const std::string& line : lines_of(summary)) {
    if (line.rfind(" conv2d", 0) != 0 && line.rfind(" depthwise_conv2d", 0) != 0) continue;
    const auto open = line.find("(None");
    const auto close = line.find(')', open);
    BOOST_REQUIRE(open != std::string::npos && close != std::string::npos);
    std::string params = line.substr(close + 1);
    params.erase(0, params.find_first_not_of(' '));
    rows.emplace_back(line.substr(open, close - open + 1), params);
  }
  return rows;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_CASE(shape_json_gives_the_courses_28_to_10) {
  const Result r = run_tool("shape 'c=1,h=28,w=28,oc=1,k=3,p=1,s=3' --json");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(lines_of(r.out).size() == 1u);
  BOOST_TEST(contains(r.out, "\"out_h\":10"));
  BOOST_TEST(contains(r.out, "\"out_w\":10"));
  BOOST_TEST(contains(r.out, "\"pad\":[1,1,1,1]"));
  BOOST_TEST(contains(r.out, "\"params\":10"));
  BOOST_TEST(contains(r.out, "\"n\":1"));
  BOOST_TEST(contains(r.out, "\"oc\":1"));
  BOOST_TEST(contains(r.out, "\"flops\":"));
  BOOST_TEST(r.out.front() == '{');
}

BOOST_AUTO_TEST_CASE(shape_json_stride_one_and_same) {
  Result r = run_tool("shape c=1,h=28,w=28,oc=1,k=3,p=1 --json");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "\"out_h\":28"));
  r = run_tool("shape c=1,h=5,w=5,oc=1,k=3,p=same,s=2 --json");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "\"out_h\":3"));
  BOOST_TEST(contains(r.out, "\"out_w\":3"));
  r = run_tool("shape c=3,h=32,w=32,oc=6,k=5");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "1x28x28x6"));
  BOOST_TEST(contains(r.out, "456"));  // 5*5*3*6 + 6
}

BOOST_AUTO_TEST_CASE(summary_two_valid_3x3_layers) {
  const Result r = run_tool("summary --input 8x8x1 oc=1,k=3 oc=1,k=3");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "Layer (type)"));
  BOOST_TEST(contains(r.out, "Output Shape"));
  BOOST_TEST(contains(r.out, "Param #"));
  const auto rows = layer_rows(r.out);
  BOOST_REQUIRE(rows.size() == 2u);
  BOOST_TEST(rows[0].first == "(None, 6, 6, 1)");
  BOOST_TEST(rows[0].second == "10");
  BOOST_TEST(rows[1].first == "(None, 4, 4, 1)");
  BOOST_TEST(rows[1].second == "10");
  BOOST_TEST(contains(r.out, "Total params: 20"));
}

BOOST_AUTO_TEST_CASE(summary_three_same_layers_keep_8x8) {
  const Result r =
      run_tool("summary --input 8x8x1 oc=1,k=3,p=same oc=1,k=3,p=same oc=1,k=3,p=same");
  BOOST_TEST(r.status == 0);
  const auto rows = layer_rows(r.out);
  BOOST_REQUIRE(rows.size() == 3u);
  for (const auto& row : rows) {
    BOOST_TEST(row.first == "(None, 8, 8, 1)");
    BOOST_TEST(row.second == "10");
  }
  BOOST_TEST(contains(r.out, "Total params: 30"));
}

BOOST_AUTO_TEST_CASE(summary_single_layers_of_the_course) {
  struct Case {
    const char* layer;
    const char* shape;
    const char* params;
  };
  for (const Case& c : {Case{"oc=1,k=5", "(None, 4, 4, 1)", "26"},
                        Case{"oc=1,k=1", "(None, 8, 8, 1)", "2"},
                        Case{"oc=1,k=8", "(None, 1, 1, 1)", "65"}}) {
    const Result r = run_tool(std::string("summary --input 8x8x1 ") + c.layer);
    BOOST_TEST_CONTEXT(c.layer) {
      BOOST_TEST(r.status == 0);
      const auto rows = layer_rows(r.out);
      BOOST_REQUIRE(rows.size() == 1u);
      BOOST_TEST(rows[0].first == c.shape);
      BOOST_TEST(rows[0].second == c.params);
    }
  }
}

BOOST_AUTO_TEST_CASE(summary_seven_5x5_layers_leave_4x4) {
  std::string args = "summary --input 32x32x3";
  for (int i = 0; i < 7; ++i) args += " oc=8,k=5";
  const Result r = run_tool(args);
  BOOST_TEST(r.status == 0);
  const auto rows = layer_rows(r.out);
  BOOST_REQUIRE(rows.size() == 7u);
  BOOST_TEST(rows[0].first == "(None, 28, 28, 8)");
  BOOST_TEST(rows[0].second == "608");  // 5*5*3*8 + 8
  BOOST_TEST(rows[6].first == "(None, 4, 4, 8)");
  BOOST_TEST(rows[6].second == "1608");  // 5*5*8*8 + 8
}

BOOST_AUTO_TEST_CASE(bad_arguments_exit_2_with_one_line) {
  for (const char* args :
       {"shape 'c=1,h=8,w=8,oc=1,k=3,zz=1'",   // unknown key
        "shape 'c=1,h=8,w=8,k=3'",             // missing oc
        "shape 'c=1,h=4,w=4,oc=1,k=5'",        // kernel larger than the input
        "shape 'c=3,h=8,w=8,oc=4,k=3,g=2'",    // channels not divisible by groups
        "shape c=1,h=8,w=8,oc=1,k=3 --bogus",  // unknown option
        "summary --input 8x8 oc=1,k=3",        // --input needs three sizes
        "summary --input 8x8x1 c=2,oc=1,k=3",  // input keys come from --input
        "summary --input 8x8x1 oc=1,k=3 oc=1,k=9",
        "verify c=1,h=8,w=8,oc=1,k=3 --backend nosuch",
        "plan c=1,h=8,w=8,oc=1,k=3 --backend nosuch",
        "bench",                                // needs SPEC or --shapes
        "nosuchcommand"}) {
    BOOST_TEST_CONTEXT(args) {
      const Result r = run_tool(args);
      BOOST_TEST(r.status == 2);
      BOOST_TEST(r.out.empty());
      const auto lines = lines_of(r.output);
      BOOST_TEST(lines.size() == 1u);
      if (!lines.empty()) BOOST_TEST(lines[0].rfind("convjit: ", 0) == 0u);
    }
  }
  const Result r = run_tool("shape 'c=1,h=8,w=8,oc=1,k=3,zz=1'");
  BOOST_TEST(contains(r.output, "convjit: zz: "));
}

BOOST_AUTO_TEST_CASE(usage) {
  Result r = run_tool("--help");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "usage"));
  BOOST_TEST(contains(r.out, "summary --input HxWxC"));
  r = run_tool("help");
  BOOST_TEST(r.status == 0);
  r = run_tool("shape --help");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "--json"));
  r = run_tool("");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(contains(r.output, "usage"));
}

BOOST_AUTO_TEST_CASE(verify_reference_against_itself) {
  const Result r =
      run_tool("verify c=1,h=8,w=8,oc=1,k=3 'c=4,h=7,w=9,oc=6,k=3,p=same,layout=nchw' "
               "--backend reference --seed 7");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "reference"));
  BOOST_TEST(contains(r.out, "ok"));
  BOOST_TEST(!contains(r.out, "MISMATCH"));
}

BOOST_AUTO_TEST_CASE(verify_default_backends_agree_with_the_reference) {
  // Whatever this CPU and build can run; a backend that cannot run is skipped, not failed.
  const Result r = run_tool(
      "verify c=1,h=8,w=8,oc=1,k=3 c=1,h=8,w=8,oc=1,k=3,s=2 c=16,h=9,w=10,oc=24,k=3,p=same "
      "c=8,h=12,w=12,oc=8,k=3,g=8,d=2,p=same,act=relu");
  BOOST_TEST(!contains(r.out, "MISMATCH"));
  BOOST_TEST(r.status != 2);
}

BOOST_AUTO_TEST_CASE(verify_holds_8bit_specs_to_the_exact_reference) {
  // Whatever 8-bit kernels this CPU runs (xbyak and llvm at avx2 at least); none may differ.
  const Result r = run_tool(
      "verify c=13,h=9,w=11,oc=21,k=3,p=1,src=u8 c=24,h=7,w=7,oc=24,k=3,p=1,g=24,src=s8,dst=f32 "
      "c=3,h=9,w=9,oc=8,k=7,s=2,p=3,src=u8,dst=s32 --backend xbyak,llvm");
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(contains(r.out, "direct, exact"));
  BOOST_TEST(!contains(r.out, "MISMATCH"));
}

BOOST_AUTO_TEST_CASE(demo_prints_the_courses_feature_maps) {
  const Result r = run_tool("demo");
  BOOST_TEST(r.status == 0);
  int valid_rows = 0;
  int stride_rows = 0;
  for (const std::string& line : lines_of(r.out)) {
    valid_rows += line == "    0 0 3 3 0 0";
    stride_rows += line == "    0 3 0";
  }
  BOOST_TEST(valid_rows == 6);
  BOOST_TEST(stride_rows == 3);
  BOOST_TEST(contains(r.out, "    19 25\n    37 43\n"));
  BOOST_TEST(contains(r.out, "(None, 6, 6, 1)"));
  BOOST_TEST(contains(r.out, "(None, 4, 4, 1)"));
  BOOST_TEST(!contains(r.out, "MISMATCH"));
  BOOST_TEST(contains(r.out, "generic"));
}

BOOST_AUTO_TEST_CASE(plan_prints_the_plan) {
  const Result r = run_tool("plan c=1,h=8,w=8,oc=1,k=3 --backend reference");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "backend    reference"));
  BOOST_TEST(contains(r.out, "strategy"));
  // A backend that cannot compile here still shows the plan.
  const Result any = run_tool("plan c=16,h=14,w=14,oc=32,k=3,p=1 --backend llvm");
  BOOST_TEST(any.status == 0);
  BOOST_TEST(contains(any.out, "strategy"));
}

BOOST_AUTO_TEST_CASE(plan_without_tune_prints_no_tuning_and_plan_tune_lists_the_candidates) {
  const Result plain = run_tool("plan c=16,h=12,w=12,oc=16,k=3,p=1 --backend xbyak");
  BOOST_TEST(plain.status == 0);
  BOOST_TEST(!contains(plain.out, "tuning"), plain.out);
  const Result tuned = run_tool("plan c=16,h=12,w=12,oc=16,k=3,p=1 --backend xbyak --tune --mode fast");
  BOOST_TEST(tuned.status == 0, tuned.output);
  BOOST_TEST(contains(tuned.out, "tuning     fast"), tuned.out);
  BOOST_TEST(contains(tuned.out, "  * "), tuned.out);
  BOOST_TEST(contains(tuned.out, "measured"), tuned.out);
  BOOST_TEST(run_tool("plan c=16,h=12,w=12,oc=16,k=3 --mode fast").status == 2);
}

BOOST_AUTO_TEST_CASE(tune_prints_a_winner_and_the_time_spent_per_shape) {
  const Result r = run_tool("tune c=16,h=12,w=12,oc=16,k=3,p=1 c=8,h=9,w=9,oc=24,k=5 --backend xbyak");
  BOOST_TEST(r.status == 0, r.output);
  BOOST_TEST(contains(r.out, "winner"), r.out);
  BOOST_TEST(contains(r.out, "tuning_ms"), r.out);
  BOOST_TEST(contains(r.out, "2 shape(s)"), r.out);
  BOOST_TEST(run_tool("tune").status == 2);
  BOOST_TEST(run_tool("tune c=8,h=8,w=8,oc=8,k=3 --mode off").status == 2);
}

BOOST_AUTO_TEST_CASE(asm_needs_generated_code) {
  Result r = run_tool("asm c=1,h=8,w=8,oc=1,k=3 --backend reference");
  BOOST_TEST(r.status == 2);
  BOOST_TEST(lines_of(r.output).size() == 1u);
  r = run_tool("asm c=1,h=8,w=8,oc=1,k=3");  // the automatic backend
  if (r.status == 0) {
    BOOST_TEST(contains(r.out, "ret"));
    BOOST_TEST(!contains(r.out, "(bad)"));
  }
}

BOOST_AUTO_TEST_CASE(asm_target_aarch64_prints_the_neon_kernels_assembly) {
  const Result r = run_tool("asm c=16,h=14,w=14,oc=24,k=3,p=same --target aarch64");
  BOOST_TEST(r.status == 0);
  BOOST_TEST(contains(r.out, "_neon"));
  BOOST_TEST(contains(r.out, "aarch64"));
  BOOST_TEST(contains(r.out, "fmla\tv"));
  BOOST_TEST(contains(r.out, ".4s"));
  BOOST_TEST(contains(r.out, "ret"));
  for (const char* bad : {"asm c=1,h=8,w=8,oc=1,k=3 --target riscv",
                          "asm c=1,h=8,w=8,oc=1,k=3 --target aarch64 --backend xbyak"}) {
    const Result e = run_tool(bad);
    BOOST_TEST(e.status == 2, bad);
    BOOST_TEST(lines_of(e.output).size() == 1u, bad);
  }
}

BOOST_AUTO_TEST_CASE(disassembler_decodes_intel_syntax) {
  const std::vector<std::uint8_t> code = {
      0xc5, 0xfc, 0x58, 0xc1,                    // vaddps ymm0, ymm0, ymm1
      0xc4, 0xe2, 0x75, 0xb8, 0xc2,              // vfmadd231ps ymm0, ymm1, ymm2
      0xc3};                                     // ret
  const std::string text = convjit::disassemble_x86_64(code, 0);
  const auto lines = lines_of(text);
  BOOST_REQUIRE(lines.size() == 3u);
  BOOST_TEST(contains(lines[0], "0000:"));
  BOOST_TEST(contains(lines[0], "c5 fc 58 c1"));
  BOOST_TEST(contains(lines[0], "vaddps ymm0, ymm0, ymm1"));
  BOOST_TEST(contains(lines[1], "0004:"));
  BOOST_TEST(contains(lines[1], "vfmadd231ps ymm0, ymm1, ymm2"));
  BOOST_TEST(contains(lines[2], "0009:"));
  BOOST_TEST(contains(lines[2], "ret"));
  BOOST_TEST(convjit::disassemble_x86_64({}, 0).empty());
}

BOOST_AUTO_TEST_CASE(disassembler_stops_at_the_constant_pool) {
  const std::vector<std::uint8_t> code = {
      0xc5, 0xfc, 0x10, 0x05, 0x01, 0x00, 0x00, 0x00,  // vmovups ymm0, [rip + 0x1]
      0xc3,                                            // ret
      0x00, 0x00, 0x80, 0x3f};                         // 1.0f
  const auto insns = convjit::disassemble_x86_64_instructions(code, 0x1000);
  BOOST_REQUIRE(insns.size() == 3u);
  BOOST_TEST(insns[0].address == 0x1000u);
  BOOST_TEST(insns[0].text == "vmovups ymm0, ymmword ptr [rip + 0x1]");
  BOOST_TEST(insns[1].text == "ret");
  BOOST_TEST(insns[2].data);
  BOOST_TEST(insns[2].address == 0x1009u);
  BOOST_TEST(insns[2].size == 4u);

  // Code after an early ret that a forward branch reaches is still code.
  const std::vector<std::uint8_t> branchy = {
      0x74, 0x01,  // je +1
      0xc3,        // ret
      0x90,        // nop (the branch target)
      0xc3};       // ret
  const auto b = convjit::disassemble_x86_64_instructions(branchy, 0);
  BOOST_REQUIRE(b.size() == 4u);
  BOOST_TEST(!b[3].data);
  BOOST_TEST(b[3].text == "ret");
}
