// The AArch64 code of neon plans, read from the assembly LLVM writes for them: NEON fmla on
// 4-lane vectors, and no spill inside a loop, first of all for resnet_3x3_56 (c=64, h=w=56,
// oc=64, k=3, p=1). tests/aarch64_qemu_test.cpp runs the same kernels.
#define BOOST_TEST_MODULE aarch64_codegen
#include <boost/test/unit_test.hpp>

#include "generator/llvm/llvm_cross_compiler.hpp"
#include "generator/plan.hpp"
#include "tests/support/test_support.hpp"

#include <convjit/convjit.hpp>

#include <iostream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

using namespace convjit;
using namespace convjit::testing;

namespace {

struct Instruction {
  std::string text;
  bool in_loop = false;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

bool is_comment_only(const std::string& line) {
  const auto first = line.find_first_not_of(" \t");
  return first != std::string::npos && line.compare(first, 2, "//") == 0;
}

// A line inside a loop by either of two readings, so that neither has to be trusted alone:
// LLVM's own annotation of the block ("=>This Loop Header", "in Loop: Header=..."), and the
// lines from a label back to a branch that jumps up to it. A block begins at a label or, when
// only fallen into, at LLVM's "// %bb.N:" comment.
std::vector<bool> lines_inside_loops(const std::vector<std::string>& lines) {
  static const std::regex label(R"(^([.\w$]+):)");
  static const std::regex unlabelled_block(R"(^// %bb\.\d+:)");
  static const std::regex backward_branch(R"(^\s+(b|b\.\w+|cbn?z|tbn?z)\s.*?([.\w$]+)\s*(//.*)?$)");
  std::vector<bool> inside(lines.size(), false);
  std::map<std::string, std::size_t> labels;
  bool annotated = false;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    std::smatch m;
    const bool labelled = std::regex_search(lines[i], m, label);
    if (labelled) labels[m[1]] = i;
    if (labelled || std::regex_search(lines[i], unlabelled_block)) {
      std::string comments = lines[i];
      for (std::size_t j = i + 1; j < lines.size() && is_comment_only(lines[j]); ++j) comments += lines[j];
      annotated = comments.find("Loop Header") != std::string::npos ||
                  comments.find("in Loop:") != std::string::npos;
    }
    inside[i] = annotated;
    if (std::regex_search(lines[i], m, backward_branch))
      if (auto target = labels.find(m[2]); target != labels.end())
        for (std::size_t j = target->second; j <= i; ++j) inside[j] = true;
  }
  return inside;
}

std::vector<Instruction> instructions(const std::string& assembly) {
  const std::vector<std::string> lines = lines_of(assembly);
  const std::vector<bool> inside = lines_inside_loops(lines);
  std::vector<Instruction> out;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto first = lines[i].find_first_not_of(" \t");
    if (first == 0 || first == std::string::npos) continue;  // labels, blank lines
    if (lines[i][first] == '.' || is_comment_only(lines[i])) continue;  // directives, comments
    out.push_back({lines[i], inside[i]});
  }
  return out;
}

// What the spill check found in the loops of some functions.
struct LoopReport {
  std::size_t loop_instructions = 0;
  std::size_t stack_stores = 0;         // str/stp/stur/st1 to an sp-relative address
  std::size_t vector_stack_stores = 0;  // of those, of q/d/s/v registers
  std::size_t spill_notes = 0;          // LLVM's "Folded Spill" annotations
  std::size_t fmla_4s = 0;              // fmla on .4s vectors, in loops or not
  std::size_t other_fmla = 0;           // any other fmla (scalar, .2s, ...)
  std::vector<std::string> offenders;

  void add(const LoopReport& more) {
    loop_instructions += more.loop_instructions;
    stack_stores += more.stack_stores;
    vector_stack_stores += more.vector_stack_stores;
    spill_notes += more.spill_notes;
    fmla_4s += more.fmla_4s;
    other_fmla += more.other_fmla;
    offenders.insert(offenders.end(), more.offenders.begin(), more.offenders.end());
  }
};

LoopReport read_loops(const std::string& assembly) {
  static const std::regex stack_store(R"(^\s+(str|stp|stur|st1)\b[^/]*\[sp\b)");
  static const std::regex vector_store(R"(^\s+(str|stp|stur|st1)\s+\{?\s*[qdsv]\d)");
  static const std::regex fmla_4s(R"(^\s+fmla\s+v\d+\.4s,\s*v\d+\.4s,\s*v\d+\.(4s|s\[\d\]))");
  static const std::regex fmla(R"(^\s+fmla\s)");
  LoopReport report;
  for (const Instruction& insn : instructions(assembly)) {
    if (std::regex_search(insn.text, fmla_4s)) ++report.fmla_4s;
    else if (std::regex_search(insn.text, fmla)) ++report.other_fmla;
    if (!insn.in_loop) continue;
    ++report.loop_instructions;
    const bool store = std::regex_search(insn.text, stack_store);
    const bool note = insn.text.find("Spill") != std::string::npos;
    report.stack_stores += store;
    report.vector_stack_stores += store && std::regex_search(insn.text, vector_store);
    report.spill_notes += note;
    if ((store || note) && report.offenders.size() < 5) report.offenders.push_back(insn.text);
  }
  return report;
}

// The kernel's functions, read apart. LLVM may give a row body shared by several row
// segments a function of its own, which the entry point calls once per output row: there the
// loops that compute (in functions that call nothing) are apart from the loop that dispatches
// (around the calls, where pointers live across a call in the few callee-saved registers).
struct KernelReport {
  LoopReport compute;   // functions without a call: every loop over the tile
  LoopReport dispatch;  // functions with calls: the loops around them
};

KernelReport read_kernel(const std::string& assembly) {
  static const std::regex function_start(R"(^\s+\.type\s+[^,]+,@function)");
  static const std::regex call(R"((^|\n)\s+(bl|blr)\s)");
  std::vector<std::string> functions;
  for (const std::string& line : lines_of(assembly)) {
    if (functions.empty() || std::regex_search(line, function_start)) functions.emplace_back();
    functions.back() += line + "\n";
  }
  KernelReport report;
  for (const std::string& function : functions) {
    const bool calls = std::regex_search(function, call);
    (calls ? report.dispatch : report.compute).add(read_loops(function));
  }
  return report;
}

CrossCompiledKernel aarch64_kernel(const ConvShape& shape) {
  const KernelPlan plan = make_plan(shape, Isa::neon);
  return cross_compile_kernel(plan, cross_target(Isa::neon), plan.name);
}

ConvShape shape_named(const std::string& wanted) {
  for (const auto& [name, shape] : load_shapes_file(shapes_file_path()))
    if (name == wanted) return shape;
  BOOST_FAIL("no shape " << wanted << " in " << shapes_file_path());
  return {};
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += "\n" + line;
  return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(aarch64_code)

BOOST_AUTO_TEST_CASE(resnet_3x3_56_keeps_its_tile_in_registers_and_multiplies_with_4s_fmla) {
  const ConvShape shape = shape_named("resnet_3x3_56");
  BOOST_TEST(shape.to_string() == "n=1,c=64,h=56,w=56,oc=64,k=3,pt=1,pb=1,pl=1,pr=1");
  const KernelPlan plan = make_plan(shape, Isa::neon);
  BOOST_TEST(plan.lanes == 4);
  BOOST_TEST(plan.vector_registers == 32);
  BOOST_TEST(!plan.unroll_rows, "the rows are a loop, so there are loop bodies to check");

  const KernelReport kernel = read_kernel(aarch64_kernel(shape).assembly);
  const LoopReport& compute = kernel.compute;
  BOOST_TEST(compute.loop_instructions > 500u);
  BOOST_TEST(compute.stack_stores == 0u, "stack stores inside loops:" << joined(compute.offenders));
  BOOST_TEST(compute.spill_notes == 0u, "spills inside loops:" << joined(compute.offenders));
  BOOST_TEST(kernel.dispatch.vector_stack_stores == 0u, joined(kernel.dispatch.offenders));
  BOOST_TEST(compute.fmla_4s > 0u);
  BOOST_TEST(compute.other_fmla + kernel.dispatch.other_fmla == 0u);
  std::cout << "aarch64: resnet_3x3_56 as " << plan.name << " (" << plan.ur_w * plan.oc_tile
            << " accumulators of " << plan.lanes << " lanes). Loops that compute (functions "
            << "calling nothing): " << compute.loop_instructions << " instructions, "
            << compute.stack_stores << " sp-relative stores (str/stp/stur/st1 [sp...]), "
            << compute.spill_notes << " LLVM spill notes, " << compute.fmla_4s
            << " fmla on .4s vectors, " << compute.other_fmla << " other fmla. Loops around "
            << "the row-body calls: " << kernel.dispatch.loop_instructions << " instructions, "
            << kernel.dispatch.stack_stores << " sp-relative stores, of which "
            << kernel.dispatch.vector_stack_stores << " of vector registers"
            << joined(kernel.dispatch.offenders) << "\n";
}

BOOST_AUTO_TEST_CASE(no_benchmark_shape_spills_inside_a_loop_that_computes) {
  for (const auto& [name, shape] : load_shapes_file(shapes_file_path()))
    BOOST_TEST_CONTEXT(name << " " << shape.to_string()) {
      const KernelReport kernel = read_kernel(aarch64_kernel(shape).assembly);
      BOOST_TEST(kernel.compute.stack_stores == 0u, joined(kernel.compute.offenders));
      BOOST_TEST(kernel.compute.spill_notes == 0u, joined(kernel.compute.offenders));
      BOOST_TEST(kernel.dispatch.vector_stack_stores == 0u, joined(kernel.dispatch.offenders));
      BOOST_TEST(kernel.compute.fmla_4s > 0u);
      BOOST_TEST(kernel.compute.other_fmla + kernel.dispatch.other_fmla == 0u);
    }
}

// The reader itself: a spill it cannot see would make the cases above pass for nothing.
BOOST_AUTO_TEST_CASE(the_loop_reader_finds_a_stack_store_in_a_loop_and_none_outside) {
  const std::string assembly =
      "kernel:\n"
      "\tstp\td15, d14, [sp, #-16]!          // 16-byte Folded Spill\n"
      ".LBB0_1:\n"
      "\tfmla\tv0.4s, v1.4s, v2.s[0]\n"
      "\tstr\tq3, [sp, #32]\n"
      "\tb.lt\t.LBB0_1\n"
      "\tret\n";
  const LoopReport loops = read_loops(assembly);
  BOOST_TEST(loops.loop_instructions == 3u);
  BOOST_TEST(loops.stack_stores == 1u);
  BOOST_TEST(loops.spill_notes == 0u);
  BOOST_TEST(loops.fmla_4s == 1u);
}

BOOST_AUTO_TEST_CASE(the_kernel_reader_tells_a_function_that_calls_from_one_that_computes) {
  const std::string assembly =
      "\t.type\tkernel,@function\n"
      "kernel:\n"
      ".LBB0_1:\n"
      "\tstr\tx19, [sp, #8]                   // 8-byte Folded Spill\n"
      "\tbl\tkernel.row0\n"
      "\tb.lt\t.LBB0_1\n"
      "\tret\n"
      "\t.type\tkernel.row0,@function\n"
      "kernel.row0:\n"
      ".LBB1_1:\n"
      "\tfmla\tv0.4s, v1.4s, v2.s[0]\n"
      "\tstr\tq9, [sp, #16]\n"
      "\tb.lt\t.LBB1_1\n"
      "\tret\n";
  const KernelReport kernel = read_kernel(assembly);
  BOOST_TEST(kernel.dispatch.stack_stores == 1u);
  BOOST_TEST(kernel.dispatch.vector_stack_stores == 0u);
  BOOST_TEST(kernel.compute.stack_stores == 1u);
  BOOST_TEST(kernel.compute.vector_stack_stores == 1u);
  BOOST_TEST(kernel.compute.fmla_4s == 1u);
}

BOOST_AUTO_TEST_CASE(the_loop_reader_believes_llvms_loop_annotations) {
  const std::string assembly =
      ".LBB0_2:                                // %loop\n"
      "                                        //   in Loop: Header=BB0_1 Depth=1\n"
      "\tstr\tq8, [sp, #16]                   // 16-byte Folded Spill\n"
      "\tfmla\tv0.2s, v1.2s, v2.2s\n"
      "// %bb.3:                               // %loop.exit\n"
      "\tstr\tx0, [sp]                        // 8-byte Folded Spill\n"
      ".LBB0_4:                                // %exit\n"
      "\tret\n";
  const LoopReport loops = read_loops(assembly);
  BOOST_TEST(loops.loop_instructions == 2u);
  BOOST_TEST(loops.stack_stores == 1u);
  BOOST_TEST(loops.spill_notes == 1u);
  BOOST_TEST(loops.fmla_4s == 0u);
  BOOST_TEST(loops.other_fmla == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
