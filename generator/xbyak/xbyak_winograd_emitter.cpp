#include "generator/xbyak/xbyak_winograd_emitter.hpp"

#include "generator/kernel_call_args.hpp"
#include "generator/tile_geometry.hpp"
#include "generator/xbyak/vector_registers.hpp"

#include <convjit/error.hpp>

#include <cstddef>

namespace convjit {
namespace {

using Xbyak::Reg64;
using Xbyak::Xmm;
namespace util = Xbyak::util;

// General-purpose registers by role. System V: the KernelCallArgs* arrives in rdi.
// The entry point (kept across routine calls):
const Reg64 kArgs = util::rdi;
const Reg64 kSrc = util::r12;            // this image's input
const Reg64 kDst = util::r13;            // this image's output
const Reg64 kScratch = util::r14;        // the thread's scratch
const Reg64 kResidualDelta = util::r15;  // residual minus dst, in bytes
const Reg64 kBlock = util::rbx;          // the current block
const Reg64 kBlockEnd = util::rbp;
// The tile walk of one phase (transform routines leave these alone):
const Reg64 kTileRow = util::r8, kTileColumn = util::r9, kTiles = util::r10, kTile = util::r11;
// Routine arguments and the routines' own registers:
const Reg64 kIn = util::rsi;     // transforms: the tile's input (image or M); products: V
const Reg64 kOut = util::rdx;    // transforms: the tile's output (V or image); products: U
const Reg64 kBias = util::rcx;   // output transform: bias; products: M
const Reg64 kCount = util::rax;  // channel vectors left; products: elements left
const Reg64 kTemp = util::rdi;   // transforms: the passes' temporary; products: U of the group
// The products routine's loop registers (it saves those the entry point keeps):
const Reg64 kGroupM = util::r8, kGroupsLeft = util::r9, kTileV = util::r10, kTileM = util::r11;
const Reg64 kTileGroupsLeft = util::rbp, kStepsLeft = util::rbx;
const Reg64 kStepV = util::r12, kStepU = util::r13;
const Reg64 kProductsSaved[] = {util::rbx, util::rbp, util::r12, util::r13};

constexpr int kSlotWeights = 0, kSlotBias = 8;
constexpr int kFrameBytes = 24;  // two slots; keeps rsp 16-byte aligned after six pushes

}  // namespace

XbyakWinogradEmitter::XbyakWinogradEmitter(const KernelPlan& plan, const WinogradSchedule& schedule,
                                           std::size_t max_code_bytes)
    : XbyakBuilder(plan, max_code_bytes, util::rax),  // rax: free wherever a tail mask is set
      w_(schedule) {
  VectorRegisters regs(plan.lanes, plan.vector_registers);
  for (int i = 0; i < w_.alpha; ++i) inputs_.push_back(regs.take("transform input"));
  result_ = regs.take("transform result");
  zero_ = regs.take("zero");
  bias_ = regs.take("bias");
  // The epilogue's temporaries; the first also reads a tail's residual and then holds the
  // upper half of a tail stored in pieces.
  epilogue_temporaries_.push_back(regs.take("epilogue temporary"));
  for (int i = 1; i < w_.epilogue.temporaries; ++i)
    epilogue_temporaries_.push_back(regs.take("epilogue temporary"));
  if (!plan.uses_opmasks()) use_mask_register(regs.take("lane mask"));
  input_labels_.resize(w_.input.transforms.size());
  output_labels_.resize(w_.output.transforms.size());

  // The vector constants come first, behind a jump: every later use refers back to a
  // defined label, which Xbyak resolves at once (forward references it keeps in a hash
  // table until the label is defined, thousands of them in a Winograd kernel).
  Xbyak::Label entry;
  jmp(entry, T_NEAR);
  declare_constants();
  emit_constant_pool();
  L(entry);
  emit_entry();
  for (std::size_t i = 0; i < w_.input.transforms.size(); ++i) {
    L(input_labels_[i]);
    emit_input_routine(w_.input.transforms[i]);
  }
  for (std::size_t i = 0; i < w_.output.transforms.size(); ++i) {
    L(output_labels_[i]);
    emit_output_routine(w_.output.transforms[i]);
  }
  L(gemm_full_);
  emit_gemm(w_.full_block);
  if (w_.last_block.tiles != w_.full_block.tiles) {
    L(gemm_last_);
    emit_gemm(w_.last_block);
  }
  emit_tables();
  setProtectModeRE();
}

void XbyakWinogradEmitter::load(const Xmm& dst, const Xbyak::Address& src, bool masked) {
  if (masked) masked_load(dst, src);
  else vmovups(dst, src);
}

Xmm XbyakWinogradEmitter::emit_combination(const LinearCombination& terms,
                                           const std::vector<Xmm>& inputs, const Xmm& out) {
  if (terms.size() == 1 && terms[0].coeff == 1.0f) return inputs[terms[0].input];
  bool first = true;
  for (const LinearTerm& t : terms) {
    const Xmm& x = inputs[t.input];
    if (first) {
      if (t.coeff == 1.0f) vmovaps(out, x);
      else if (t.coeff == -1.0f) vsubps(out, zero_, x);
      else vmulps(out, x, constant(t.coeff));
      first = false;
    } else if (t.coeff == 1.0f) {
      vaddps(out, out, x);
    } else if (t.coeff == -1.0f) {
      vsubps(out, out, x);
    } else if (t.coeff > 0) {
      vfmadd231ps(out, x, constant(t.coeff));
    } else {
      vfnmadd231ps(out, x, constant(-t.coeff));
    }
  }
  return out;
}

void XbyakWinogradEmitter::emit_entry() {
  emit_entry_frame(kFrameBytes);
  auto field = [&](std::size_t offset) { return util::qword[kArgs + static_cast<int>(offset)]; };
  mov(kSrc, field(offsetof(KernelCallArgs, src)));
  mov(kDst, field(offsetof(KernelCallArgs, dst)));
  mov(kScratch, field(offsetof(KernelCallArgs, scratch)));
  mov(kBlock, field(offsetof(KernelCallArgs, unit_begin)));
  mov(kBlockEnd, field(offsetof(KernelCallArgs, unit_end)));
  mov(util::rax, field(offsetof(KernelCallArgs, weights)));
  mov(util::qword[util::rsp + kSlotWeights], util::rax);
  mov(util::rax, field(offsetof(KernelCallArgs, bias)));
  mov(util::qword[util::rsp + kSlotBias], util::rax);
  if (plan_.shape.add_residual) {
    mov(kResidualDelta, field(offsetof(KernelCallArgs, residual)));
    sub(kResidualDelta, kDst);
  }
  Xbyak::Label next_block, done;
  cmp(kBlock, kBlockEnd);
  jge(done, T_NEAR);
  L(next_block);
  emit_block(w_.full_block, w_.last_block);
  inc(kBlock);
  cmp(kBlock, kBlockEnd);
  jl(next_block, T_NEAR);
  L(done);
  emit_return(kFrameBytes);
}

void XbyakWinogradEmitter::emit_block(const GemmPass& full, const GemmPass& last) {
  emit_tile_walk(w_.input, input_routines_, input_rows_, input_columns_, true);
  mov(kOut, util::qword[util::rsp + kSlotWeights]);
  if (last.tiles != full.tiles) {
    Xbyak::Label not_last, called;
    cmp(kBlock, plan_.winograd.blocks - 1);
    jne(not_last, T_NEAR);
    call(gemm_last_);
    jmp(called, T_NEAR);
    L(not_last);
    call(gemm_full_);
    L(called);
  } else {
    call(gemm_full_);
  }
  emit_tile_walk(w_.output, output_routines_, output_rows_, output_columns_, false);
}

void XbyakWinogradEmitter::emit_tile_walk(const TileClasses& classes, const Xbyak::Label& routines,
                                          const Xbyak::Label& row_table,
                                          const Xbyak::Label& column_table, bool input_phase) {
  const WinogradPlan& wp = plan_.winograd;
  // The block's first tile: (ty, tx) = divmod(block · block_tiles, tiles_w).
  mov(util::rax, kBlock);
  imul(util::rax, util::rax, static_cast<std::int32_t>(wp.block_tiles));
  xor_(util::edx, util::edx);
  mov(util::rcx, wp.tiles_w);
  div(util::rcx);
  mov(kTileRow, util::rax);
  mov(kTileColumn, util::rdx);
  mov(kTiles, wp.block_tiles);
  if (wp.last_block_tiles() != wp.block_tiles) {
    Xbyak::Label full;
    cmp(kBlock, wp.blocks - 1);
    jne(full);
    mov(kTiles, wp.last_block_tiles());
    L(full);
  }
  xor_(kTile.cvt32(), kTile.cvt32());
  Xbyak::Label next_tile, same_row;
  L(next_tile);
  if (input_phase) {
    imul(kIn, kTileRow, static_cast<std::int32_t>(w_.src_tile_row));
    imul(util::rax, kTileColumn, static_cast<std::int32_t>(w_.src_tile_column));
    add(kIn, util::rax);
    add(kIn, kSrc);
    if (w_.src_origin) add(kIn, static_cast<std::int32_t>(w_.src_origin));
    imul(kOut, kTile, static_cast<std::int32_t>(w_.v_tile));
    add(kOut, kScratch);
    if (w_.v_begin) add(kOut, static_cast<std::int32_t>(w_.v_begin));
  } else {
    imul(kIn, kTile, static_cast<std::int32_t>(w_.m_tile));
    add(kIn, kScratch);
    add(kIn, static_cast<std::int32_t>(w_.m_begin));
    imul(kOut, kTileRow, static_cast<std::int32_t>(w_.dst_tile_row));
    imul(util::rax, kTileColumn, static_cast<std::int32_t>(w_.dst_tile_column));
    add(kOut, util::rax);
    add(kOut, kDst);
    mov(kBias, util::qword[util::rsp + kSlotBias]);
  }
  lea(util::rdi, util::ptr[util::rip + row_table]);
  movzx(util::eax, util::byte[util::rdi + kTileRow]);
  imul(util::eax, util::eax, classes.column_classes);
  lea(util::rdi, util::ptr[util::rip + column_table]);
  movzx(util::edi, util::byte[util::rdi + kTileColumn]);
  add(util::eax, util::edi);
  lea(util::rdi, util::ptr[util::rip + routines]);
  call(util::qword[util::rdi + util::rax * 8]);
  inc(kTileColumn);
  cmp(kTileColumn, wp.tiles_w);
  jne(same_row);
  xor_(kTileColumn.cvt32(), kTileColumn.cvt32());
  inc(kTileRow);
  L(same_row);
  inc(kTile);
  cmp(kTile, kTiles);
  jne(next_tile, T_NEAR);
}

// A transform routine's start: the zero register and the passes' temporary; then `count`
// whole channel vectors, each followed by its pointers' step to the next.
void XbyakWinogradEmitter::emit_channel_loop(std::int64_t count, std::initializer_list<Reg64> pointers,
                                             const std::function<void()>& channel_vector) {
  zero(zero_);
  lea(kTemp, at(kScratch, w_.temp_begin));
  if (count == 0) return;
  Xbyak::Label next;
  mov(kCount, count);
  L(next);
  channel_vector();
  for (const Reg64& p : pointers) add(p, static_cast<std::int32_t>(w_.channel_vector));
  dec(kCount);
  jnz(next, T_NEAR);
}

void XbyakWinogradEmitter::emit_input_routine(const TileTransform& x) {
  emit_channel_loop(w_.ic_full_blocks, {kIn, kOut}, [&] { emit_input_channel_vector(x, false); });
  if (w_.ic_tail_lanes) {
    set_mask(first_lanes(w_.ic_tail_lanes, plan_.lanes));
    emit_input_channel_vector(x, true);
  }
  ret();
}

void XbyakWinogradEmitter::emit_input_channel_vector(const TileTransform& x, bool tail) {
  const int a = w_.alpha;
  // Pass 1: t[·][j] = Bᵀ d[·][j] for the columns in the image, from the rows in the image.
  std::vector<bool> row_read(a, false);
  for (const LinearCombination& c : x.first)
    for (const LinearTerm& t : c) row_read[t.input] = true;
  for (int j : x.columns) {
    for (int r = 0; r < a; ++r)
      if (row_read[r]) load(inputs_[r], at(kIn, r * w_.src_row + j * w_.src_column), tail);
    for (int i = 0; i < a; ++i) {
      if (x.first[i].empty()) continue;
      const Xmm v = emit_combination(x.first[i], inputs_, result_);
      vmovups(at(kTemp, (i * a + j) * w_.channel_vector), v);
    }
  }
  // Pass 2: V[i][·] = Bᵀ t[i][·]ᵀ; rows of t that are zero give zero rows of V.
  for (int i : x.rows) {
    const bool zero_row = x.first[i].empty() || x.columns.empty();
    if (!zero_row)
      for (int j : x.columns) vmovups(inputs_[j], at(kTemp, (i * a + j) * w_.channel_vector));
    for (int k = 0; k < a; ++k) {
      const auto dst = at(kOut, (i * a + k) * w_.v_element);
      if (zero_row || x.second[k].empty()) vmovups(dst, zero_);
      else vmovups(dst, emit_combination(x.second[k], inputs_, result_));
    }
  }
}

void XbyakWinogradEmitter::emit_output_routine(const TileTransform& x) {
  emit_channel_loop(w_.oc_full_blocks, {kIn, kOut, kBias},
                    [&] { emit_output_channel_vector(x, false); });
  if (w_.oc_tail_lanes) {
    // The mask serves the residual's read and a masked store; narrow stores need none.
    if (w_.epilogue.add_residual || w_.oc_tail_store.kind == StoreKind::masked)
      set_mask(first_lanes(w_.oc_tail_lanes, plan_.lanes));
    emit_output_channel_vector(x, true);
  }
  ret();
}

void XbyakWinogradEmitter::emit_output_channel_vector(const TileTransform& x, bool tail) {
  const int a = w_.alpha;
  if (w_.epilogue.add_bias) vmovups(bias_, util::ptr[kBias]);  // padded to whole vectors
  // Pass 1: s[i][j] = Aᵀ M[·][j] for the output rows stored.
  for (int j : x.columns) {
    for (int r = 0; r < a; ++r) vmovups(inputs_[r], at(kIn, (r * a + j) * w_.m_element));
    for (std::size_t i = 0; i < x.first.size(); ++i) {
      const Xmm v = emit_combination(x.first[i], inputs_, result_);
      vmovups(at(kTemp, (static_cast<int>(i) * a + j) * w_.channel_vector), v);
    }
  }
  // Pass 2: y[i][k] = Aᵀ s[i][·]ᵀ, through the tile epilogue, for the columns stored.
  for (int i : x.rows) {
    for (int j = 0; j < a; ++j) vmovups(inputs_[j], at(kTemp, (i * a + j) * w_.channel_vector));
    for (std::size_t k = 0; k < x.second.size(); ++k) {
      const Xmm v = emit_combination(x.second[k], inputs_, result_);
      const std::int64_t offset = i * w_.dst_row + static_cast<std::int64_t>(k) * w_.dst_column;
      emit_tile_epilogue(w_.epilogue, {result_, v, bias_, &kOut, &kResidualDelta, offset, tail,
                                       epilogue_temporaries_});
      if (tail) emit_vector_store(w_.oc_tail_store, kOut, offset, result_, epilogue_temporaries_[0]);
      else vmovups(at(kOut, offset), result_);
    }
  }
}

void XbyakWinogradEmitter::emit_gemm(const GemmPass& pass) {
  for (const Reg64& r : kProductsSaved) push(r);
  const int a = w_.alpha;
  // kIn: V of element e, kOut: U of e (the entry point passes the weights), kBias: M of e.
  lea(kIn, at(kScratch, w_.v_begin));
  lea(kBias, at(kScratch, w_.m_begin));
  mov(kCount, a * a);
  Xbyak::Label next_element;
  L(next_element);
  mov(kTemp, kOut);
  mov(kGroupM, kBias);
  auto tile_groups = [&](int blocks) {
    mov(kTileV, kIn);
    mov(kTileM, kGroupM);
    if (pass.full_tile_groups > 0) {
      Xbyak::Label next;
      mov(kTileGroupsLeft, pass.full_tile_groups);
      L(next);
      emit_gemm_group(plan_.winograd.gemm_tiles, blocks);
      add(kTileV, static_cast<std::int32_t>(plan_.winograd.gemm_tiles * w_.v_tile));
      add(kTileM, static_cast<std::int32_t>(plan_.winograd.gemm_tiles * w_.m_tile));
      dec(kTileGroupsLeft);
      jnz(next, T_NEAR);
    }
    if (pass.tail_tiles) emit_gemm_group(pass.tail_tiles, blocks);
  };
  if (pass.full_block_groups > 0) {
    Xbyak::Label next_group;
    mov(kGroupsLeft, pass.full_block_groups);
    L(next_group);
    tile_groups(plan_.winograd.gemm_blocks);
    add(kTemp, static_cast<std::int32_t>(plan_.winograd.gemm_blocks * w_.u_block));
    add(kGroupM, static_cast<std::int32_t>(plan_.winograd.gemm_blocks * w_.channel_vector));
    dec(kGroupsLeft);
    jnz(next_group, T_NEAR);
  }
  if (pass.tail_blocks) tile_groups(pass.tail_blocks);
  add(kIn, static_cast<std::int32_t>(w_.v_element));
  add(kOut, static_cast<std::int32_t>(w_.u_element));
  add(kBias, static_cast<std::int32_t>(w_.m_element));
  dec(kCount);
  jnz(next_element, T_NEAR);
  for (auto it = std::rbegin(kProductsSaved); it != std::rend(kProductsSaved); ++it) pop(*it);
  ret();
}

// One register tile: `tiles` tiles from kTileV × `blocks` channel vectors from kTemp (U),
// summed over every input channel, stored at kTileM.
void XbyakWinogradEmitter::emit_gemm_group(int tiles, int blocks) {
  VectorRegisters regs(plan_.lanes, plan_.vector_registers);
  std::vector<Xmm> acc, weights;
  for (int i = 0; i < tiles * blocks; ++i) acc.push_back(regs.take("product accumulator"));
  for (int b = 0; b < blocks; ++b) weights.push_back(regs.take("transformed weights"));
  const Xmm broadcast = regs.take("transformed input");
  for (const Xmm& r : acc) zero(r);
  mov(kStepV, kTileV);
  mov(kStepU, kTemp);
  auto step = [&](int k) {
    for (int b = 0; b < blocks; ++b)
      vmovups(weights[b], at(kStepU, b * w_.u_block + k * w_.channel_vector));
    for (int t = 0; t < tiles; ++t) {
      vbroadcastss(broadcast, at(kStepV, t * w_.v_tile + k * 4));
      for (int b = 0; b < blocks; ++b) vfmadd231ps(acc[t * blocks + b], weights[b], broadcast);
    }
  };
  const int unroll = w_.reduction_unroll;
  const std::int64_t loops = w_.reduction / unroll;
  const int rest = static_cast<int>(w_.reduction % unroll);
  if (loops > 0) {
    Xbyak::Label next;
    mov(kStepsLeft, loops);
    L(next);
    for (int k = 0; k < unroll; ++k) step(k);
    add(kStepV, unroll * 4);
    add(kStepU, static_cast<std::int32_t>(unroll * w_.channel_vector));
    dec(kStepsLeft);
    jnz(next, T_NEAR);
  }
  for (int k = 0; k < rest; ++k) step(k);
  for (int t = 0; t < tiles; ++t)
    for (int b = 0; b < blocks; ++b)
      vmovups(at(kTileM, t * w_.m_tile + b * w_.channel_vector), acc[t * blocks + b]);
}

// The schedule's coefficient magnitudes with their negations (a combination's first term
// multiplies by the signed coefficient), the epilogue's constants and the tail masks.
void XbyakWinogradEmitter::declare_constants() {
  for (float v : w_.constants) {
    declare_constant(v);
    declare_constant(-v);
  }
  declare_epilogue_constants(w_.epilogue);
  if (w_.ic_tail_lanes) declare_mask(first_lanes(w_.ic_tail_lanes, plan_.lanes));
  if (w_.oc_tail_lanes) declare_mask(first_lanes(w_.oc_tail_lanes, plan_.lanes));
}

void XbyakWinogradEmitter::emit_tables() {
  align(64);
  L(input_routines_);
  for (const Xbyak::Label& l : input_labels_) putL(l);
  L(output_routines_);
  for (const Xbyak::Label& l : output_labels_) putL(l);
  auto bytes = [&](Xbyak::Label& label, const std::vector<std::uint8_t>& table) {
    L(label);
    for (std::uint8_t b : table) db(b);
  };
  bytes(input_rows_, w_.input.row_class);
  bytes(input_columns_, w_.input.column_class);
  bytes(output_rows_, w_.output.row_class);
  bytes(output_columns_, w_.output.column_class);
}

}  // namespace convjit
