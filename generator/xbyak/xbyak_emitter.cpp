#include "generator/xbyak/xbyak_emitter.hpp"

#include "generator/xbyak/vector_registers.hpp"
#include "generator/kernel_code.hpp"

#include <convjit/error.hpp>

#include <cstddef>
#include <cstring>
#include <limits>

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

const Xbyak::Opmask kMask = util::k1;  // avx512: the current lane mask (set_mask)

const Reg64 kSaved[] = {util::rbx, util::rbp, util::r12, util::r13, util::r14, util::r15};

// Stack slots for loop state that is touched once per row segment or less.
enum Slot : int {
  kSlotRowBegin, kSlotRowEnd, kSlotGroupsLeft, kSlotTilesLeft,
  kSlotSrcGroup, kSlotDstGroup, kSlotWeiGroup, kSlotBiasGroup,
  kSlotSrcTile, kSlotDstTile, kSlotWeiTile, kSlotBiasTile,
  kSlotKernelRows, kSlotKernelRowWeights,  // the current row segment, for a shared row body
  kSlotTileBegin, kSlotTileEnd, kSlotTileIndex,  // channel tiles this call computes
  kSlotCount
};
constexpr int kFrameBytes = kSlotCount * 8 + 8;  // keeps rsp 16-byte aligned

bool fits_int32(std::int64_t v) {
  return v >= std::numeric_limits<std::int32_t>::min() && v <= std::numeric_limits<std::int32_t>::max();
}


}  // namespace

XbyakEmitter::XbyakEmitter(const KernelPlan& plan, std::size_t max_code_bytes)
    : Xbyak::CodeGenerator(max_code_bytes, Xbyak::DontSetProtectRWE),
      plan_(plan),
      shape_(plan.shape),
      geo_(make_tile_geometry(plan)) {
  VectorRegisters regs(plan.lanes, plan.vector_registers);
  const bool vector_mask = !plan.uses_opmasks();
  for (int i = 0; i < plan.ur_w * plan.oc_tile; ++i) acc_.push_back(regs.take("accumulator"));
  switch (plan.strategy) {
    case Strategy::oc_vectors:
      for (int b = 0; b < plan.oc_tile; ++b) weights_.push_back(regs.take("weights"));
      broadcast_ = regs.take("broadcast input");
      mask_ = broadcast_;  // stores happen after the last broadcast
      break;
    case Strategy::depthwise:
      for (int b = 0; b < plan.oc_tile; ++b) weights_.push_back(regs.take("weights"));
      if (vector_mask) mask_ = regs.take("tail mask");
      masked_input_ = regs.take("masked input");
      break;
    case Strategy::width_vectors:
      for (int v = 0; v < plan.ur_w; ++v) inputs_.push_back(regs.take("input vector"));
      broadcast_ = regs.take("broadcast weight");
      if (vector_mask) mask_ = regs.take("lane mask");
      if (shape_.sw > 1) gather_index_ = regs.take("gather offsets");
      break;
  }
  emit_prologue();
  emit_groups();
  emit_epilogue();
  emit_constants();
  setProtectModeRE();
}

void XbyakEmitter::add_imm(const Reg64& reg, std::int64_t value) {
  if (value == 0) return;
  if (fits_int32(value)) {
    add(reg, static_cast<std::int32_t>(value));
  } else {
    mov(kWide, value);
    add(reg, kWide);
  }
}

Xbyak::Address XbyakEmitter::at(const Reg64& base, std::int64_t disp) {
  if (!fits_int32(disp))
    throw Error("shape", "a tensor offset inside one tile exceeds 2 GiB; the shape is too large "
                         "for the x86-64 generator");
  return util::ptr[base + static_cast<std::int32_t>(disp)];
}

Xbyak::Address XbyakEmitter::slot(int index) const {
  return util::qword[util::rsp + index * 8 + call_depth_];
}

Xmm XbyakEmitter::acc(int column, int block) const { return acc_[column * plan_.oc_tile + block]; }

void XbyakEmitter::set_mask(std::uint32_t lanes) {
  if (plan_.uses_opmasks()) {
    mov(kWide.cvt32(), lanes);
    kmovw(kMask, kWide.cvt32());
  } else {
    vmovups(mask_, util::ptr[util::rip + masks_[lanes]]);
  }
}

void XbyakEmitter::masked_load(const Xmm& dst, const Xbyak::Address& src) {
  if (plan_.uses_opmasks()) vmovups(dst | kMask | T_z, src);
  else vmaskmovps(dst, mask_, src);
}

void XbyakEmitter::masked_store(const Xbyak::Address& dst, const Xmm& src) {
  if (plan_.uses_opmasks()) vmovups(dst | kMask, src);
  else vmaskmovps(dst, mask_, src);
}

void XbyakEmitter::gather(const Xmm& dst, const Xbyak::Address& src) {
  if (plan_.uses_opmasks()) vgatherdps(dst | kMask, src);
  else vgatherdps(dst, src, mask_);
}

// vxorps on zmm (or ymm16-31) would need AVX-512DQ; vpxord needs only AVX-512F/VL.
void XbyakEmitter::zero(const Xmm& reg) {
  if (plan_.uses_opmasks()) vpxord(reg, reg, reg);
  else vxorps(reg, reg, reg);
}

void XbyakEmitter::emit_prologue() {
  for (const Reg64& r : kSaved) push(r);
  sub(util::rsp, kFrameBytes);
  auto field = [&](std::size_t offset) { return util::qword[kArgs + static_cast<int>(offset)]; };
  auto copy = [&](std::size_t offset, Slot to) {
    mov(kTmp, field(offset));
    mov(slot(to), kTmp);
  };
  copy(offsetof(KernelCallArgs, src), kSlotSrcGroup);
  copy(offsetof(KernelCallArgs, weights), kSlotWeiGroup);
  copy(offsetof(KernelCallArgs, bias), kSlotBiasGroup);
  copy(offsetof(KernelCallArgs, dst), kSlotDstGroup);
  copy(offsetof(KernelCallArgs, row_begin), kSlotRowBegin);
  copy(offsetof(KernelCallArgs, row_end), kSlotRowEnd);
  copy(offsetof(KernelCallArgs, tile_begin), kSlotTileBegin);
  copy(offsetof(KernelCallArgs, tile_end), kSlotTileEnd);
  mov(slot(kSlotTileIndex), 0);
  if (plan_.strategy == Strategy::width_vectors && shape_.sw > 1)
    vmovups(gather_index_, util::ptr[util::rip + gather_offsets_]);
}

void XbyakEmitter::emit_epilogue() {
  vzeroupper();
  add(util::rsp, kFrameBytes);
  for (auto it = std::rbegin(kSaved); it != std::rend(kSaved); ++it) pop(*it);
  ret();
}

void XbyakEmitter::emit_groups() {
  Xbyak::Label next_group;
  const bool looped = geo_.groups_looped > 1;
  if (looped) {
    mov(slot(kSlotGroupsLeft), geo_.groups_looped);
    L(next_group);
  }
  emit_channel_tiles();
  if (looped) {
    auto advance = [&](Slot s, std::int64_t bytes) {
      mov(kTmp, slot(s));
      add_imm(kTmp, bytes);
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
      add_imm(kTmp, bytes * blocks);
      mov(slot(s), kTmp);
    }
  };
  // Tiles outside the caller's [tile_begin, tile_end) are skipped (another thread has them).
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
  for (const ChannelTileRun& run : channel_tile_runs(plan_)) {
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
  if (shares_row_body()) {
    // One row body for every segment: the segments differ only in their kernel-row range,
    // which the body reads from two stack slots.
    Xbyak::Label body, after_body;
    jmp(after_body, T_NEAR);
    L(body);
    call_depth_ = 8;  // the return address sits between rsp and the frame
    emit_row_body(RowSegment{}, run);
    call_depth_ = 0;
    ret();
    L(after_body);
    for (const RowSegment& segment : plan_.rows) emit_row_segment(segment, run, &body);
    return;
  }
  for (const RowSegment& segment : plan_.rows) {
    if (plan_.unroll_rows) {
      for (std::int64_t oh = segment.oh_begin; oh < segment.oh_end; ++oh)
        emit_row_segment({oh, oh + 1, segment.kh_begin, segment.kh_end}, run, nullptr);
    } else {
      emit_row_segment(segment, run, nullptr);
    }
  }
}

bool XbyakEmitter::shares_row_body() const {
  return !plan_.unroll_kh && !plan_.unroll_rows && plan_.rows.size() > 1;
}

void XbyakEmitter::emit_row_segment(const RowSegment& segment, const ChannelTileRun& run,
                                    const Xbyak::Label* shared_body) {
  Xbyak::Label skip, next_row;
  // The caller's row range [row_begin, row_end) clipped to this segment.
  mov(kRow, slot(kSlotRowBegin));
  mov(kTmp, segment.oh_begin);
  cmp(kRow, kTmp);
  cmovl(kRow, kTmp);
  mov(kRowEnd, slot(kSlotRowEnd));
  mov(kTmp, segment.oh_end);
  cmp(kRowEnd, kTmp);
  cmovg(kRowEnd, kTmp);
  cmp(kRow, kRowEnd);
  jge(skip, T_NEAR);

  const std::int64_t src_step = shape_.sh * geo_.src_row;
  mov(kSrcRow, kRow);
  mov(kWide, src_step);
  imul(kSrcRow, kWide);
  add(kSrcRow, slot(kSlotSrcTile));
  add_imm(kSrcRow, (segment.kh_begin * shape_.dh - shape_.pad_top) * geo_.src_row);
  mov(kDstRow, kRow);
  mov(kWide, geo_.dst_row);
  imul(kDstRow, kWide);
  add(kDstRow, slot(kSlotDstTile));

  if (shared_body) {
    mov(slot(kSlotKernelRows), static_cast<std::int32_t>(segment.kh_end - segment.kh_begin));
    mov(kTmp, segment.kh_begin * geo_.wei_kh);
    mov(slot(kSlotKernelRowWeights), kTmp);
  }

  L(next_row);
  if (shared_body) call(*shared_body);
  else emit_row_body(segment, run);
  add_imm(kSrcRow, src_step);
  add_imm(kDstRow, geo_.dst_row);
  inc(kRow);
  cmp(kRow, kRowEnd);
  jl(next_row, T_NEAR);
  L(skip);
}

void XbyakEmitter::emit_row_body(const RowSegment& segment, const ChannelTileRun& run) {
  for (const ColumnTile& tile : plan_.columns) {
    if (tile.repeat > 1) {
      Xbyak::Label next_tile;
      mov(kColSrc, kSrcRow);
      add_imm(kColSrc, tile.ow_begin * geo_.src_column);
      mov(kColDst, kDstRow);
      add_imm(kColDst, tile.ow_begin * geo_.dst_column);
      mov(kColCount, tile.repeat);
      L(next_tile);
      emit_tile({kColSrc, kColDst, tile.ow_begin, tile.ow_begin, tile.width, true}, segment, run);
      add_imm(kColSrc, tile.width * geo_.src_column);
      add_imm(kColDst, tile.width * geo_.dst_column);
      dec(kColCount);
      jnz(next_tile, T_NEAR);
    } else {
      emit_tile({kSrcRow, kDstRow, 0, tile.ow_begin, tile.width, false}, segment, run);
    }
  }
}

void XbyakEmitter::emit_tile(const TilePlace& place, const RowSegment& segment,
                             const ChannelTileRun& run) {
  emit_tile_init(place, run);
  if (shares_row_body() || segment.kh_end > segment.kh_begin) emit_reduction(place, segment, run);
  emit_tile_store(place, run);
}

void XbyakEmitter::emit_tile_init(const TilePlace& place, const ChannelTileRun& run) {
  const int columns = convjit::tile_columns(plan_, place.width);
  for (int col = 0; col < columns; ++col)
    for (int b = 0; b < run.blocks; ++b) {
      const Xmm a = acc(col, b);
      if (!shape_.bias) {
        zero(a);
      } else if (plan_.strategy == Strategy::width_vectors) {
        vbroadcastss(a, at(kBias, b * geo_.bias_block));
      } else {
        vmovups(a, at(kBias, b * geo_.bias_block));
      }
    }
  if (plan_.strategy == Strategy::depthwise && run.has_tail)
    set_mask(first_lanes(plan_.oc_tail_lanes, plan_.lanes));
}

void XbyakEmitter::emit_reduction(const TilePlace& place, const RowSegment& segment,
                                  const ChannelTileRun& run) {
  const std::int64_t kernel_rows = segment.kh_end - segment.kh_begin;
  const std::int64_t channels = geo_.reduction_ic;
  if (plan_.unroll_kh) {
    for (std::int64_t r = 0; r < kernel_rows; ++r)
      for (std::int64_t kw = 0; kw < shape_.kw; ++kw)
        for (std::int64_t ic = 0; ic < channels; ++ic)
          emit_tap(place, run, kw, place.src, r * geo_.src_kh + ic * geo_.src_ic, kWeights,
                   (segment.kh_begin + r) * geo_.wei_kh + kw * geo_.wei_kw + ic * geo_.wei_ic);
    return;
  }
  const std::int64_t step = plan_.ic_unroll;
  Xbyak::Label next_kernel_row, next_channels, done;
  mov(kTapSrc, place.src);
  mov(kTapWei, kWeights);
  if (shares_row_body()) {
    add(kTapWei, slot(kSlotKernelRowWeights));
    mov(kKhCount, slot(kSlotKernelRows));
    if (has_rows_without_taps()) {
      test(kKhCount, kKhCount);
      jz(done, T_NEAR);
    }
  } else {
    add_imm(kTapWei, segment.kh_begin * geo_.wei_kh);
    mov(kKhCount, kernel_rows);
  }
  L(next_kernel_row);
  mov(kIcCount, channels / step);
  L(next_channels);
  for (std::int64_t kw = 0; kw < shape_.kw; ++kw)
    for (std::int64_t ic = 0; ic < step; ++ic)
      emit_tap(place, run, kw, kTapSrc, ic * geo_.src_ic, kTapWei,
               kw * geo_.wei_kw + ic * geo_.wei_ic);
  add_imm(kTapSrc, step * geo_.src_ic);
  add_imm(kTapWei, step * geo_.wei_ic);
  dec(kIcCount);
  jnz(next_channels, T_NEAR);
  add_imm(kTapSrc, geo_.src_kh - channels * geo_.src_ic);
  add_imm(kTapWei, geo_.wei_kh - channels * geo_.wei_ic);
  dec(kKhCount);
  jnz(next_kernel_row, T_NEAR);
  L(done);
}

bool XbyakEmitter::has_rows_without_taps() const {
  for (const RowSegment& r : plan_.rows)
    if (r.kh_end == r.kh_begin) return true;
  return false;
}

void XbyakEmitter::emit_tap(const TilePlace& place, const ChannelTileRun& run, std::int64_t kw,
                            const Reg64& src, std::int64_t src_disp, const Reg64& wei,
                            std::int64_t wei_disp) {
  const int columns = convjit::tile_columns(plan_, place.width);
  auto column_disp = [&](std::int64_t column) {
    return geo_.input_column_offset(shape_, place.ow_first - place.ow_origin + column, kw);
  };
  auto in_bounds = [&](std::int64_t column) {
    return place.steady || column_tap_in_bounds(shape_, place.ow_first + column, kw);
  };

  if (plan_.strategy == Strategy::width_vectors) {
    std::vector<bool> present(columns, false);
    for (int v = 0; v < columns; ++v) {
      const std::uint32_t lanes = width_lane_mask(plan_, place.ow_first, place.width, v, kw);
      if (lanes == 0) continue;
      present[v] = true;
      const Xbyak::Address address = at(src, src_disp + column_disp(v * plan_.lanes));
      if (shape_.sw == 1) {
        if (lanes == plan_.all_lanes()) {
          vmovups(inputs_[v], address);
        } else {
          set_mask(lanes);
          masked_load(inputs_[v], address);
        }
      } else {
        set_mask(lanes);
        zero(inputs_[v]);
        const std::int64_t disp = src_disp + column_disp(v * plan_.lanes);
        if (!fits_int32(disp)) throw Error("shape", "too large for the x86-64 generator");
        gather(inputs_[v], util::ptr[src + gather_index_ * 4 + static_cast<std::int32_t>(disp)]);
      }
    }
    for (int o = 0; o < run.blocks; ++o) {
      vbroadcastss(broadcast_, at(wei, wei_disp + o * geo_.wei_block));
      for (int v = 0; v < columns; ++v)
        if (present[v]) vfmadd231ps(acc(v, o), inputs_[v], broadcast_);
    }
    return;
  }

  bool any = false;
  for (int j = 0; j < columns && !any; ++j) any = in_bounds(j);
  if (!any) return;
  for (int b = 0; b < run.blocks; ++b) vmovups(weights_[b], at(wei, wei_disp + b * geo_.wei_block));
  for (int j = 0; j < columns; ++j) {
    if (!in_bounds(j)) continue;
    const std::int64_t disp = src_disp + column_disp(j);
    if (plan_.strategy == Strategy::oc_vectors) {
      vbroadcastss(broadcast_, at(src, disp));
      for (int b = 0; b < run.blocks; ++b) vfmadd231ps(acc(j, b), weights_[b], broadcast_);
    } else {  // depthwise
      for (int b = 0; b < run.blocks; ++b) {
        const Xbyak::Address input = at(src, disp + b * geo_.src_block);
        if (run.has_tail && b == run.blocks - 1) {
          masked_load(masked_input_, input);
          vfmadd231ps(acc(j, b), weights_[b], masked_input_);
        } else {
          vfmadd231ps(acc(j, b), weights_[b], input);
        }
      }
    }
  }
}

void XbyakEmitter::emit_activation(const Xmm& a) {
  switch (shape_.act.kind) {
    case ActivationKind::none: break;
    case ActivationKind::relu: vmaxps(a, a, util::ptr[util::rip + relu_zero_]); break;
    case ActivationKind::clamp:
      vmaxps(a, a, util::ptr[util::rip + clamp_lo_]);
      vminps(a, a, util::ptr[util::rip + clamp_hi_]);
      break;
  }
}

void XbyakEmitter::emit_tile_store(const TilePlace& place, const ChannelTileRun& run) {
  const int columns = convjit::tile_columns(plan_, place.width);
  const std::int64_t origin = place.ow_first - place.ow_origin;
  if (plan_.strategy == Strategy::width_vectors) {
    for (int o = 0; o < run.blocks; ++o)
      for (int v = 0; v < columns; ++v) {
        const Xmm a = acc(v, o);
        emit_activation(a);
        const std::uint32_t lanes = width_store_mask(plan_, place.width, v);
        const Xbyak::Address out =
            at(place.dst, (origin + v * plan_.lanes) * geo_.dst_column + o * geo_.dst_block);
        if (lanes == plan_.all_lanes()) {
          vmovups(out, a);
        } else {
          set_mask(lanes);
          masked_store(out, a);
        }
      }
    return;
  }
  if (run.has_tail) set_mask(first_lanes(plan_.oc_tail_lanes, plan_.lanes));
  for (int j = 0; j < columns; ++j)
    for (int b = 0; b < run.blocks; ++b) {
      const Xmm a = acc(j, b);
      emit_activation(a);
      const Xbyak::Address out = at(place.dst, (origin + j) * geo_.dst_column + b * geo_.dst_block);
      if (run.has_tail && b == run.blocks - 1) masked_store(out, a);
      else vmovups(out, a);
    }
}

void XbyakEmitter::emit_constants() {
  align(64);
  const int lanes_per_vector = plan_.lanes;
  for (auto& [lanes, label] : masks_) {
    L(label);
    for (int lane = 0; lane < lanes_per_vector; ++lane) dd((lanes >> lane) & 1u ? 0xFFFFFFFFu : 0u);
  }
  auto floats = [&](Xbyak::Label& label, float value) {
    L(label);
    std::uint32_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    for (int lane = 0; lane < lanes_per_vector; ++lane) dd(bits);
  };
  floats(relu_zero_, 0.0f);
  floats(clamp_lo_, shape_.act.lo);
  floats(clamp_hi_, shape_.act.hi);
  L(gather_offsets_);
  for (int lane = 0; lane < lanes_per_vector; ++lane) dd(static_cast<std::uint32_t>(lane * shape_.sw));
}

}  // namespace convjit
