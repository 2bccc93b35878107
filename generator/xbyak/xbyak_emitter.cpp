#include "generator/xbyak/xbyak_emitter.hpp"

#include "generator/xbyak/vector_registers.hpp"
#include "generator/kernel_code.hpp"
#include "generator/packed_layout.hpp"

#include <convjit/error.hpp>

#include <bit>
#include <cstddef>

namespace convjit {
namespace {

using Xbyak::Reg64;
using Xbyak::Xmm;
namespace util = Xbyak::util;

// General-purpose registers by role. System V: the KernelCallArgs* arrives in rdi.
const Reg64 kArgs = util::rdi;        // the prologue only; afterwards a scratch register
const Reg64 kWide = util::rdi;        // 64-bit immediates and displacements, opmask bits
const Reg64 kSrcRow = util::rsi;      // input row of the current output row, first kernel row
const Reg64 kDstRow = util::rdx;      // output row
const Reg64 kWeights = util::rcx;     // packed weights of the current channel tile
const Reg64 kBias = util::r8;         // packed bias of the current channel tile
const Reg64 kRow = util::r9;          // output row index
const Reg64 kRowEnd = util::r10;      // one past the last output row of this segment
const Reg64 kColSrc = util::r11;      // input at the current looped column tile
const Reg64 kColDst = util::rax;      // output at the current looped column tile
const Reg64 kColCount = util::rbx;    // looped column tiles left
const Reg64 kKhCount = util::rbp;     // kernel rows left (looped reduction)
const Reg64 kIcCount = util::r12;     // input-channel steps left (looped reduction)
const Reg64 kTapSrc = util::r13;      // input of the current kernel row (looped reduction)
const Reg64 kTapWei = util::r14;      // weights of the current kernel row (looped reduction)
const Reg64 kTmp = util::r15;
const Reg64 kResidualDelta = util::r15;  // at a store: residual minus dst, in bytes (kTmp)
const Xbyak::Opmask kPartialQuad = util::k2;  // 8-bit: the bytes of a partial group of four channels

// s8 input: every byte's sign bit flipped turns x into x + 128 as u8 (vpdpbusd's unsigned side).
constexpr std::uint32_t kSignBits = 0x80808080u;
// AVX2 8-bit: vpshufb controls that spread a broadcast quad's first and second byte pairs
// into each lane's two int16 halves (0x80: a zero byte), for vpmaddwd.
constexpr std::uint32_t kFirstPair = 0x80018000u, kSecondPair = 0x80038002u;

// Stack slots for loop state that is touched once per row segment or less.
enum Slot : int {
  kSlotRowBegin, kSlotRowEnd, kSlotGroupsLeft, kSlotTilesLeft,
  kSlotSrcGroup, kSlotDstGroup, kSlotWeiGroup, kSlotBiasGroup,
  kSlotSrcTile, kSlotDstTile, kSlotWeiTile, kSlotBiasTile,
  kSlotKernelRows, kSlotKernelRowWeights,  // the current row segment, for a shared row body
  kSlotTileBegin, kSlotTileEnd, kSlotTileIndex,  // channel tiles this call computes
  kSlotResidualDelta,  // residual minus dst, in bytes (add_residual)
  kSlotCount
};
constexpr int kFrameBytes = kSlotCount * 8 + 8;  // keeps rsp 16-byte aligned

}  // namespace

XbyakEmitter::XbyakEmitter(const KernelPlan& plan, const KernelSchedule& schedule,
                           std::size_t max_code_bytes)
    : XbyakBuilder(plan, max_code_bytes, kWide),
      shape_(plan.shape),
      schedule_(schedule),
      geo_(schedule_.geometry) {
  allocate_vector_registers();
  declare_epilogue_constants(schedule_.epilogue);
  if (schedule_.flip_input_sign) declare_constant(std::bit_cast<float>(kSignBits));
  if (schedule_.product == Product::pair_quads)
    for (std::uint32_t control : {kFirstPair, kSecondPair}) declare_constant(std::bit_cast<float>(control));
  emit_prologue();
  emit_groups();
  emit_return(kFrameBytes);
  emit_constant_pool();
  emit_gather_offsets();
  setProtectModeRE();
}

void XbyakEmitter::allocate_vector_registers() {
  const RegisterBudget& budget = schedule_.registers;
  VectorRegisters regs(plan_.lanes, plan_.vector_registers);
  auto take = [&](std::vector<Xmm>& role, int count, const char* name) {
    for (int i = 0; i < count; ++i) role.push_back(regs.take(name));
  };
  take(acc_, budget.accumulators, "accumulator");
  take(weights_, budget.weights, "weights");
  take(inputs_, budget.inputs, "input vector");
  if (budget.broadcast) broadcast_ = regs.take("broadcast");
  if (budget.masked_input) masked_input_ = regs.take("masked input");
  if (budget.lane_mask) mask_ = regs.take("lane mask");
  if (budget.mask_in_broadcast) mask_ = broadcast_;
  if (budget.gather_index) gather_index_ = regs.take("gather offsets");
  if (budget.product) product_ = regs.take("product");
  if (budget.pair_input) pair_input_ = regs.take("first byte pair");
  if (!plan_.uses_opmasks()) use_mask_register(mask_);
  // At a store the reduction is over, so its registers are free (RegisterBudget::free_at_store
  // has the order): the epilogue's temporaries, the first of them also the store's scratch (a
  // partial vector's residual, then the upper half of a tail written in pieces).
  free_at_store_ = weights_;
  free_at_store_.insert(free_at_store_.end(), inputs_.begin(), inputs_.end());
  if (budget.masked_input) free_at_store_.push_back(masked_input_);
  if (budget.broadcast && !budget.mask_in_broadcast) free_at_store_.push_back(broadcast_);
  for (int i = 0; i < budget.epilogue; ++i) free_at_store_.push_back(regs.take("epilogue temporary"));
}

Xbyak::Address XbyakEmitter::slot(int index) const {
  return util::qword[util::rsp + index * 8 + call_depth_];
}

Xmm XbyakEmitter::acc(int column, int block) const { return acc_[column * plan_.oc_tile + block]; }

void XbyakEmitter::emit_prologue() {
  emit_entry_frame(kFrameBytes);
  auto field = [&](std::size_t offset) { return util::qword[kArgs + static_cast<int>(offset)]; };
  auto copy = [&](std::size_t offset, Slot to) {
    mov(kTmp, field(offset));
    mov(slot(to), kTmp);
  };
  copy(offsetof(KernelCallArgs, src), kSlotSrcGroup);
  copy(offsetof(KernelCallArgs, weights), kSlotWeiGroup);
  copy(offsetof(KernelCallArgs, bias), kSlotBiasGroup);
  copy(offsetof(KernelCallArgs, dst), kSlotDstGroup);
  copy(offsetof(KernelCallArgs, unit_begin), kSlotRowBegin);
  copy(offsetof(KernelCallArgs, unit_end), kSlotRowEnd);
  copy(offsetof(KernelCallArgs, tile_begin), kSlotTileBegin);
  copy(offsetof(KernelCallArgs, tile_end), kSlotTileEnd);
  mov(slot(kSlotTileIndex), 0);
  if (schedule_.epilogue.add_residual) {
    // One distance serves every store: the residual is addressed like dst.
    mov(kTmp, field(offsetof(KernelCallArgs, residual)));
    sub(kTmp, field(offsetof(KernelCallArgs, dst)));
    mov(slot(kSlotResidualDelta), kTmp);
  }
  if (schedule_.registers.gather_index)
    vmovups(gather_index_, util::ptr[util::rip + gather_offsets_]);
  if (geo_.tail_channels > 0 && plan_.uses_opmasks()) {
    mov(kTmp.cvt32(), (1u << geo_.tail_channels) - 1u);
    kmovw(kPartialQuad, kTmp.cvt32());
  }
}

void XbyakEmitter::emit_groups() {
  Xbyak::Label next_group;
  const bool looped = schedule_.groups > 1;
  if (looped) {
    mov(slot(kSlotGroupsLeft), schedule_.groups);
    L(next_group);
  }
  for (const ReductionPass& reduction : schedule_.reduction_passes) {
    // Every pass numbers the group's channel tiles from its first again.
    if (reduction_) sub(slot(kSlotTileIndex), static_cast<std::int32_t>(schedule_.tiles_per_group));
    reduction_ = &reduction;
    emit_channel_tiles();
  }
  reduction_ = nullptr;
  if (looped) {
    auto advance = [&](Slot s, std::int64_t bytes) {
      mov(kTmp, slot(s));
      add_imm(kTmp, bytes, kWide);
      mov(slot(s), kTmp);
    };
    advance(kSlotSrcGroup, geo_.src_group);
    advance(kSlotDstGroup, geo_.dst_group);
    advance(kSlotWeiGroup, geo_.wei_group);
    advance(kSlotBiasGroup, geo_.bias_group);
    dec(slot(kSlotGroupsLeft));
    jnz(next_group, T_NEAR);
  }
}

void XbyakEmitter::emit_channel_tiles() {
  for (auto [from, to] : {std::pair{kSlotSrcGroup, kSlotSrcTile}, {kSlotDstGroup, kSlotDstTile},
                          {kSlotWeiGroup, kSlotWeiTile}, {kSlotBiasGroup, kSlotBiasTile}}) {
    mov(kTmp, slot(from));
    mov(slot(to), kTmp);
  }
  auto advance_tile = [&](int blocks) {
    for (auto [s, bytes] : {std::pair{kSlotSrcTile, geo_.src_block}, {kSlotDstTile, geo_.dst_block},
                            {kSlotWeiTile, geo_.wei_block}, {kSlotBiasTile, geo_.bias_block}}) {
      if (bytes == 0) continue;
      mov(kTmp, slot(s));
      add_imm(kTmp, bytes * blocks, kWide);
      mov(slot(s), kTmp);
    }
  };
  // Tiles outside the caller's [tile_begin, tile_end) are skipped (another thread has them).
  // The counter numbers tiles in emission order, which is the schedule's tile_index().
  auto emit_tile_if_requested = [&](const ChannelTileRun& run) {
    Xbyak::Label skip;
    mov(kTmp, slot(kSlotTileIndex));
    cmp(kTmp, slot(kSlotTileBegin));
    jl(skip, T_NEAR);
    cmp(kTmp, slot(kSlotTileEnd));
    jge(skip, T_NEAR);
    emit_rows(run);
    L(skip);
    inc(slot(kSlotTileIndex));
    advance_tile(run.blocks);
  };
  for (const ChannelTileRun& run : schedule_.channel_runs) {
    if (run.count > 1) {
      Xbyak::Label next_tile;
      mov(slot(kSlotTilesLeft), static_cast<std::int32_t>(run.count));
      L(next_tile);
      emit_tile_if_requested(run);
      dec(slot(kSlotTilesLeft));
      jnz(next_tile, T_NEAR);
    } else {
      emit_tile_if_requested(run);
    }
  }
}

void XbyakEmitter::emit_rows(const ChannelTileRun& run) {
  mov(kWeights, slot(kSlotWeiTile));
  mov(kBias, slot(kSlotBiasTile));
  if (!schedule_.shared_row_body) {
    for (const RowPass& pass : schedule_.row_passes) emit_row_pass(pass, run, nullptr);
    return;
  }
  // One row body for every pass: the passes differ only in their kernel-row range, which the
  // body reads from two stack slots.
  Xbyak::Label body, after_body;
  jmp(after_body, T_NEAR);
  L(body);
  call_depth_ = 8;  // the return address sits between rsp and the frame
  emit_row_body(RowPass{}, run);
  call_depth_ = 0;
  ret();
  L(after_body);
  for (const RowPass& pass : schedule_.row_passes) emit_row_pass(pass, run, &body);
}

void XbyakEmitter::emit_row_pass(const RowPass& pass, const ChannelTileRun& run,
                                 const Xbyak::Label* shared_body) {
  if (shared_body) {
    mov(slot(kSlotKernelRows), static_cast<std::int32_t>(pass.kernel_rows()));
    mov(kTmp, schedule_.pass_weight_offset(pass, *reduction_));
    mov(slot(kSlotKernelRowWeights), kTmp);
  }
  if (pass.constant_row) emit_constant_row(pass, run, shared_body);
  else emit_row_loop(pass, run, shared_body);
}

void XbyakEmitter::emit_row_body_or_call(const RowPass& pass, const ChannelTileRun& run,
                                         const Xbyak::Label* shared_body) {
  if (shared_body) call(*shared_body);
  else emit_row_body(pass, run);
}

// One output row, if the caller asked for it, at constant offsets from the channel tile.
void XbyakEmitter::emit_constant_row(const RowPass& pass, const ChannelTileRun& run,
                                     const Xbyak::Label* shared_body) {
  Xbyak::Label skip;
  const std::int64_t oh = pass.rows.oh_begin;
  mov(kTmp, oh);
  cmp(kTmp, slot(kSlotRowBegin));
  jl(skip, T_NEAR);
  cmp(kTmp, slot(kSlotRowEnd));
  jge(skip, T_NEAR);
  mov(kSrcRow, slot(kSlotSrcTile));
  add_imm(kSrcRow, schedule_.pass_src_offset(pass, *reduction_, oh), kWide);
  mov(kDstRow, slot(kSlotDstTile));
  add_imm(kDstRow, schedule_.pass_dst_offset(oh), kWide);
  emit_row_body_or_call(pass, run, shared_body);
  L(skip);
}

// The caller's row range [row_begin, row_end) clipped to the pass, as a loop.
void XbyakEmitter::emit_row_loop(const RowPass& pass, const ChannelTileRun& run,
                                 const Xbyak::Label* shared_body) {
  Xbyak::Label skip, next_row;
  mov(kRow, slot(kSlotRowBegin));
  mov(kTmp, pass.rows.oh_begin);
  cmp(kRow, kTmp);
  cmovl(kRow, kTmp);
  mov(kRowEnd, slot(kSlotRowEnd));
  mov(kTmp, pass.rows.oh_end);
  cmp(kRowEnd, kTmp);
  cmovg(kRowEnd, kTmp);
  cmp(kRow, kRowEnd);
  jge(skip, T_NEAR);

  mov(kSrcRow, kRow);
  mov(kWide, schedule_.src_row_step);
  imul(kSrcRow, kWide);
  add(kSrcRow, slot(kSlotSrcTile));
  add_imm(kSrcRow, schedule_.pass_src_offset(pass, *reduction_, 0), kWide);
  mov(kDstRow, kRow);
  mov(kWide, geo_.dst_row);
  imul(kDstRow, kWide);
  add(kDstRow, slot(kSlotDstTile));

  L(next_row);
  emit_row_body_or_call(pass, run, shared_body);
  add_imm(kSrcRow, schedule_.src_row_step, kWide);
  add_imm(kDstRow, geo_.dst_row, kWide);
  inc(kRow);
  cmp(kRow, kRowEnd);
  jl(next_row, T_NEAR);
  L(skip);
}

void XbyakEmitter::emit_row_body(const RowPass& pass, const ChannelTileRun& run) {
  const std::vector<ReductionStep> steps =
      schedule_.reduction_unrolled ? schedule_.unrolled_steps(pass) : std::vector<ReductionStep>{};
  for (const TileWalk& walk : schedule_.tiles) {
    if (!walk.looped()) {
      emit_tile(walk, {kSrcRow, kDstRow}, pass, steps, run);
      continue;
    }
    Xbyak::Label next_tile;
    mov(kColSrc, kSrcRow);
    add_imm(kColSrc, walk.src_offset, kWide);
    mov(kColDst, kDstRow);
    add_imm(kColDst, walk.dst_offset, kWide);
    mov(kColCount, walk.tile.repeat);
    L(next_tile);
    emit_tile(walk, {kColSrc, kColDst}, pass, steps, run);
    add_imm(kColSrc, walk.src_step, kWide);
    add_imm(kColDst, walk.dst_step, kWide);
    dec(kColCount);
    jnz(next_tile, T_NEAR);
  }
}

void XbyakEmitter::emit_tile(const TileWalk& walk, const TileBase& base, const RowPass& pass,
                             const std::vector<ReductionStep>& steps, const ChannelTileRun& run) {
  emit_tile_init(walk, base, run);
  emit_padding_taps(walk, pass, run);
  if (!schedule_.reduction_unrolled) {
    if (schedule_.shared_row_body || pass.kernel_rows() > 0)
      emit_looped_reduction(walk, base, pass, run);
  } else {
    for (const ReductionStep& step : steps) emit_taps(walk, run, step, base.src, kWeights);
  }
  emit_tile_store(walk, base, run);
}

void XbyakEmitter::emit_tile_init(const TileWalk& walk, const TileBase& base,
                                  const ChannelTileRun& run) {
  if (reduction_->from_dst) {
    // A later input-channel pass: the partial sums the earlier ones stored, at the store's lanes.
    if (run.has_tail) set_mask(schedule_.channel_tail.lanes);
    for (const TileStore& st : walk.stores)
      for (int b = 0; b < run.blocks; ++b) {
        const Xbyak::Address partial = at(base.dst, st.dst_offset + b * geo_.dst_block);
        if (schedule_.store_of(st, run, b).partial()) masked_load(acc(st.column, b), partial);
        else vmovups(acc(st.column, b), partial);
      }
    return;
  }
  for (int col = 0; col < walk.columns; ++col)
    for (int b = 0; b < run.blocks; ++b) {
      const Xmm a = acc(col, b);
      switch (schedule_.bias) {
        case BiasLoad::zero: zero(a); break;
        case BiasLoad::broadcast: vbroadcastss(a, at(kBias, b * geo_.bias_block)); break;
        case BiasLoad::vector: vmovups(a, at(kBias, b * geo_.bias_block)); break;
      }
    }
  if (plan_.strategy == Strategy::depthwise && run.has_tail)
    set_mask(first_lanes(plan_.oc_tail_lanes, plan_.lanes));
}

// 8-bit: each tap in padding adds back its part of the zero point's compensation.
void XbyakEmitter::emit_padding_taps(const TileWalk& walk, const RowPass& pass,
                                     const ChannelTileRun& run) {
  for (const PaddingTap& tap : schedule_.padding_taps(pass, walk))
    for (int b = 0; b < run.blocks; ++b) {
      const Xmm a = acc(tap.column, b);
      vpaddd(a, a, at(kBias, schedule_.padding_tap_offset(tap) + b * geo_.bias_block));
    }
}

void XbyakEmitter::emit_looped_reduction(const TileWalk& walk, const TileBase& base,
                                         const RowPass& pass, const ChannelTileRun& run) {
  const LoopedReduction& r = schedule_.looped;
  Xbyak::Label next_kernel_row, next_channels, done;
  mov(kTapSrc, base.src);
  mov(kTapWei, kWeights);
  if (schedule_.shared_row_body) {
    add(kTapWei, slot(kSlotKernelRowWeights));
    mov(kKhCount, slot(kSlotKernelRows));
    if (schedule_.has_rows_without_taps) {
      test(kKhCount, kKhCount);
      jz(done, T_NEAR);
    }
  } else {
    add_imm(kTapWei, schedule_.pass_weight_offset(pass, *reduction_), kWide);
    mov(kKhCount, pass.kernel_rows());
  }
  L(next_kernel_row);
  if (r.ic_steps > 0) {
    mov(kIcCount, r.ic_steps);
    L(next_channels);
    for (const ReductionStep& step : r.body) emit_taps(walk, run, step, kTapSrc, kTapWei);
    add_imm(kTapSrc, r.src_advance, kWide);
    add_imm(kTapWei, r.wei_advance, kWide);
    dec(kIcCount);
    jnz(next_channels, T_NEAR);
  }
  for (const ReductionStep& step : r.row_tail) emit_taps(walk, run, step, kTapSrc, kTapWei);
  add_imm(kTapSrc, r.src_next_row, kWide);
  add_imm(kTapWei, r.wei_next_row, kWide);
  dec(kKhCount);
  jnz(next_kernel_row, T_NEAR);
  L(done);
}

void XbyakEmitter::emit_taps(const TileWalk& walk, const ChannelTileRun& run,
                             const ReductionStep& step, const Reg64& src, const Reg64& wei) {
  if (plan_.strategy == Strategy::depthwise) return emit_held_input_taps(walk, run, step, src, wei);
  const std::vector<TileTap>& taps = walk.taps[step.kw];
  if (taps.empty()) return;
  if (plan_.strategy == Strategy::width_vectors) emit_width_vector_taps(taps, run, step, src, wei);
  else emit_broadcast_taps(taps, run, step, src, wei);
}

void XbyakEmitter::emit_width_vector_taps(const std::vector<TileTap>& taps,
                                          const ChannelTileRun& run, const ReductionStep& step,
                                          const Reg64& src, const Reg64& wei) {
  for (const TileTap& tap : taps) {
    const std::int64_t disp = step.src_offset + tap.src_offset;
    const Xmm input = inputs_[tap.column];
    switch (tap.load) {
      case InputLoad::vector: vmovups(input, at(src, disp)); break;
      case InputLoad::masked:
        set_mask(tap.lanes);
        masked_load(input, at(src, disp));
        break;
      case InputLoad::gather:
        set_mask(tap.lanes);
        zero(input);
        gather(input, util::ptr[src + gather_index_ * 4 + displacement(disp)]);
        break;
      case InputLoad::broadcast: vbroadcastss(input, at(src, disp)); break;
    }
  }
  for (int o = 0; o < run.blocks; ++o) {
    vbroadcastss(broadcast_, at(wei, step.wei_offset + o * geo_.wei_block));
    for (const TileTap& tap : taps) vfmadd231ps(acc(tap.column, o), inputs_[tap.column], broadcast_);
  }
}

void XbyakEmitter::emit_broadcast_taps(const std::vector<TileTap>& taps, const ChannelTileRun& run,
                                       const ReductionStep& step, const Reg64& src,
                                       const Reg64& wei) {
  const bool pairs = schedule_.product == Product::pair_quads;
  const std::int64_t second_pair = geo_.wei_ic / 2;  // pair_quads: the quad's second pair's weights
  for (int b = 0; b < run.blocks; ++b) {
    const std::int64_t at_block = step.wei_offset + b * geo_.wei_block;
    if (!pairs) {
      vmovups(weights_[b], at(wei, at_block));
      continue;
    }
    vmovups(weights_[2 * b], at(wei, at_block));
    vmovups(weights_[2 * b + 1], at(wei, at_block + second_pair));
  }
  for (const TileTap& tap : taps) {
    const std::int64_t disp = step.src_offset + tap.src_offset;
    if (tap.load != InputLoad::broadcast_quad) {
      vbroadcastss(broadcast_, at(src, disp));
      for (int b = 0; b < run.blocks; ++b) vfmadd231ps(acc(tap.column, b), weights_[b], broadcast_);
      continue;
    }
    emit_quad_broadcast(src, disp, step.partial_channels);
    if (!pairs) {
      for (int b = 0; b < run.blocks; ++b) vpdpbusd(acc(tap.column, b), broadcast_, weights_[b], encoding());
      continue;
    }
    vpshufb(pair_input_, broadcast_, constant(std::bit_cast<float>(kFirstPair)));
    vpshufb(broadcast_, broadcast_, constant(std::bit_cast<float>(kSecondPair)));
    for (int b = 0; b < run.blocks; ++b) {
      const Xmm a = acc(tap.column, b);
      vpmaddwd(product_, pair_input_, weights_[2 * b]);
      vpaddd(a, a, product_);
      vpmaddwd(product_, broadcast_, weights_[2 * b + 1]);
      vpaddd(a, a, product_);
    }
  }
}

// Four input channels' bytes into every 32-bit lane; a partial group reads only its bytes
// (masked, or assembled from narrower loads on AVX2, so the bytes past it are neither read nor
// able to fault) and leaves the rest zero.
void XbyakEmitter::emit_quad_broadcast(const Reg64& src, std::int64_t disp, int partial_channels) {
  const Xmm low(broadcast_.getIdx());
  if (partial_channels == 0) {
    vpbroadcastd(broadcast_, at(src, disp));
  } else if (plan_.uses_opmasks()) {
    vmovdqu8(low | kPartialQuad | T_z, at(src, disp));
    vpbroadcastd(broadcast_, low);
  } else {
    load_bytes(low, src, disp, partial_channels, kTmp, kWide);
    vpbroadcastd(broadcast_, low);
  }
  if (!schedule_.flip_input_sign) return;
  const Xbyak::Address sign_bits = constant(std::bit_cast<float>(kSignBits));
  if (plan_.uses_opmasks()) vpxord(broadcast_, broadcast_, sign_bits);
  else vpxor(broadcast_, broadcast_, sign_bits);
}

// A depthwise step: the weights of its kernel columns in registers, then each input vector
// loaded once (straight into the FMA when one column uses it) for every tap that reads it.
void XbyakEmitter::emit_held_input_taps(const TileWalk& walk, const ChannelTileRun& run,
                                        const ReductionStep& step, const Reg64& src,
                                        const Reg64& wei) {
  const std::vector<HeldInput>& inputs = walk.held_inputs[step.held_run];
  if (inputs.empty()) return;
  auto weight = [&](std::int64_t kw, int b) { return weights_[(kw - step.kw) * plan_.oc_tile + b]; };
  for (int k = 0; k < step.kernel_columns; ++k)
    for (int b = 0; b < run.blocks; ++b)
      vmovups(weight(step.kw + k, b), at(wei, step.wei_offset + k * geo_.wei_kw + b * geo_.wei_block));
  const bool widened = schedule_.product == Product::widened || schedule_.product == Product::widened_pairs;
  for (const HeldInput& input : inputs)
    for (int b = 0; b < run.blocks; ++b) {
      const std::int64_t disp = step.src_offset + input.src_offset + b * geo_.src_block;
      const Xbyak::Address at_input = at(src, disp);
      const bool tail = run.has_tail && b == run.blocks - 1;
      if (widened) {
        emit_widened_load(src, disp, tail);
        for (const HeldInputUse& use : input.uses) {
          const Xmm a = acc(use.column, b);
          if (schedule_.product == Product::widened) {
            vpdpwssd(a, masked_input_, weight(use.kw, b), encoding());
            continue;
          }
          vpmaddwd(product_, masked_input_, weight(use.kw, b));
          vpaddd(a, a, product_);
        }
        continue;
      }
      if (input.uses.size() == 1 && !tail) {
        const HeldInputUse& use = input.uses.front();
        vfmadd231ps(acc(use.column, b), weight(use.kw, b), at_input);
        continue;
      }
      if (tail) masked_load(masked_input_, at_input);
      else vmovups(masked_input_, at_input);
      for (const HeldInputUse& use : input.uses)
        vfmadd231ps(acc(use.column, b), weight(use.kw, b), masked_input_);
    }
}

// 8-bit depthwise: a vector's bytes widened to 32-bit lanes; a tail reads only its lanes'
// bytes (the mask the tile set), the others zero.
void XbyakEmitter::emit_widened_load(const Reg64& src, std::int64_t disp, bool tail) {
  if (!tail || plan_.uses_opmasks()) {
    widening_load(masked_input_, at(src, disp), schedule_.signed_input, tail);
    return;
  }
  // AVX2: the tail's bytes assembled from narrower loads, then widened from the register.
  const Xmm low(masked_input_.getIdx());
  load_bytes(low, src, disp, plan_.oc_tail_lanes, kTmp, kWide);
  if (schedule_.signed_input) vpmovsxbd(masked_input_, low);
  else vpmovzxbd(masked_input_, low);
}

void XbyakEmitter::emit_tile_store(const TileWalk& walk, const TileBase& base,
                                   const ChannelTileRun& run) {
  const TileEpilogue& epilogue = schedule_.epilogue_of(*reduction_);
  const bool add = epilogue.add_residual;
  if (add) mov(kResidualDelta, slot(kSlotResidualDelta));
  // The lane mask serves a partial vector's residual read and a masked store; the narrow
  // stores of StoreKind::pieces need none.
  // 8-bit conversions take each block's multiplier once per tile into the free weight
  // registers when one more stays free for the stores' scratch; else once per store.
  const bool converts = (epilogue.conversion == Conversion::dequantize ||
                         epilogue.conversion == Conversion::requantize) &&
                        free_at_store_.size() > static_cast<std::size_t>(run.blocks);
  auto needs_mask = [&](const VectorStore& store) {
    return store.partial() && (add || store.kind == StoreKind::masked);
  };
  auto store_column = [&](const TileStore& st, int block, const Reg64& dst) {
    const Xmm a = acc(st.column, block);
    const VectorStore& store = schedule_.store_of(st, run, block);
    const std::int64_t disp = st.dst_offset + block * geo_.dst_block;
    EpilogueOperands operands{a, a, a, &dst, &kResidualDelta, disp, store.partial(), free_at_store_,
                              &kBias, block * geo_.bias_block};
    if (converts) operands.multiplier = &weights_.at(static_cast<std::size_t>(block));
    emit_tile_epilogue(epilogue, operands);
    // The store's scratch must not be a register that holds a block's multiplier.
    emit_output_store(epilogue, store, dst, disp, a, free_at_store_.at(converts ? run.blocks : 0));
  };
  if (plan_.strategy == Strategy::width_vectors) {
    for (int o = 0; o < run.blocks; ++o)
      for (const TileStore& st : walk.stores) {
        if (needs_mask(st.store)) set_mask(st.store.lanes);
        store_column(st, o, base.dst);
      }
    return;
  }
  if (converts)
    for (int b = 0; b < run.blocks; ++b)
      vmovups(weights_.at(static_cast<std::size_t>(b)),
              at(kBias, multiplier_part * epilogue.channel_part + b * geo_.bias_block));
  // Every column's tail block stores the same lanes: one mask for the whole tile.
  if (run.has_tail && needs_mask(schedule_.channel_tail)) set_mask(schedule_.channel_tail.lanes);
  for (const TileStore& st : walk.stores)
    for (int b = 0; b < run.blocks; ++b) store_column(st, b, base.dst);
}

void XbyakEmitter::emit_gather_offsets() {
  L(gather_offsets_);
  for (int lane = 0; lane < plan_.lanes; ++lane) dd(static_cast<std::uint32_t>(lane * shape_.sw));
}

}  // namespace convjit
