#include "generator/xbyak/xbyak_builder.hpp"

#include "generator/packed_layout.hpp"

#include <convjit/error.hpp>

#include <bit>
#include <limits>
#include <string>

namespace convjit {
namespace {

using Xbyak::Reg64;
using Xbyak::Xmm;
namespace util = Xbyak::util;

const Xbyak::Opmask kMask = util::k1;  // avx512: the current lane mask
const Reg64 kSaved[] = {util::rbx, util::rbp, util::r12, util::r13, util::r14, util::r15};

}  // namespace

std::int32_t XbyakBuilder::displacement(std::int64_t disp) {
  if (disp < std::numeric_limits<std::int32_t>::min() || disp > std::numeric_limits<std::int32_t>::max())
    throw Error("shape", "a tensor offset inside one tile exceeds 2 GiB; the shape is too large "
                         "for the x86-64 generator");
  return static_cast<std::int32_t>(disp);
}

XbyakBuilder::XbyakBuilder(const KernelPlan& plan, std::size_t max_code_bytes,
                           const Reg64& mask_scratch)
    : Xbyak::CodeGenerator(max_code_bytes, Xbyak::DontSetProtectRWE),
      plan_(plan),
      mask_scratch_(mask_scratch) {}

void XbyakBuilder::emit_entry_frame(int frame_bytes) {
  for (const Reg64& r : kSaved) push(r);
  sub(util::rsp, frame_bytes);
}

void XbyakBuilder::emit_return(int frame_bytes) {
  vzeroupper();
  add(util::rsp, frame_bytes);
  for (auto it = std::rbegin(kSaved); it != std::rend(kSaved); ++it) pop(*it);
  ret();
}

Xbyak::Address XbyakBuilder::at(const Reg64& base, std::int64_t disp) {
  return util::ptr[base + displacement(disp)];
}

Xbyak::Address XbyakBuilder::at(const Reg64& base, const Reg64& index, std::int64_t disp) {
  return util::ptr[base + index + displacement(disp)];
}

void XbyakBuilder::add_imm(const Reg64& reg, std::int64_t value, const Reg64& wide) {
  if (value == 0) return;
  if (value >= std::numeric_limits<std::int32_t>::min() && value <= std::numeric_limits<std::int32_t>::max()) {
    add(reg, static_cast<std::int32_t>(value));
  } else {
    mov(wide, value);
    add(reg, wide);
  }
}

// vxorps on zmm (or ymm16-31) would need AVX-512DQ; vpxord needs only AVX-512F/VL.
void XbyakBuilder::zero(const Xmm& reg) {
  if (plan_.uses_opmasks()) vpxord(reg, reg, reg);
  else vxorps(reg, reg, reg);
}

void XbyakBuilder::declare_mask(std::uint32_t lanes) {
  if (plan_.uses_opmasks() || masks_.contains(lanes)) return;
  if (pool_emitted_) throw Error("plan", "internal: a lane mask was asked for after the constant pool");
  masks_[lanes];
}

void XbyakBuilder::set_mask(std::uint32_t lanes) {
  if (plan_.uses_opmasks()) {
    mov(mask_scratch_.cvt32(), lanes);
    kmovw(kMask, mask_scratch_.cvt32());
  } else {
    declare_mask(lanes);
    vmovups(mask_, util::ptr[util::rip + masks_[lanes]]);
  }
}

void XbyakBuilder::masked_load(const Xmm& dst, const Xbyak::Address& src) {
  if (plan_.uses_opmasks()) vmovups(dst | kMask | T_z, src);
  else vmaskmovps(dst, mask_, src);
}

void XbyakBuilder::widening_load(const Xmm& dst, const Xbyak::Address& src, bool sign_extend,
                                 bool masked) {
  if (masked && !plan_.uses_opmasks())
    throw Error("plan", "internal: a masked widening load needs opmasks (avx512)");
  const Xmm to = masked ? Xmm(dst) | kMask | T_z : dst;
  if (sign_extend) vpmovsxbd(to, src);
  else vpmovzxbd(to, src);
}

void XbyakBuilder::load_bytes(const Xmm& dst, const Reg64& base, std::int64_t disp, int bytes,
                              const Reg64& a, const Reg64& b) {
  if (bytes < 1 || bytes > 7) throw Error("plan", "internal: load_bytes takes 1 to 7 bytes");
  bool first = true;
  for (int offset = 0, piece = 4; piece >= 1; piece /= 2) {
    if (!(bytes & piece)) continue;
    const Reg64& into = first ? a : b;
    if (piece == 4) mov(into.cvt32(), util::dword[base + displacement(disp + offset)]);
    else if (piece == 2) movzx(into.cvt32(), util::word[base + displacement(disp + offset)]);
    else movzx(into.cvt32(), util::byte[base + displacement(disp + offset)]);
    if (!first) {
      shl(b, 8 * offset);
      or_(a, b);
    }
    first = false;
    offset += piece;
  }
  vmovq(Xmm(dst.getIdx()), a);
}

void XbyakBuilder::masked_store(const Xbyak::Address& dst, const Xmm& src) {
  if (plan_.uses_opmasks()) vmovups(dst | kMask, src);
  else vmaskmovps(dst, mask_, src);
}

void XbyakBuilder::gather(const Xmm& dst, const Xbyak::Address& src) {
  if (plan_.uses_opmasks()) vgatherdps(dst | kMask, src);
  else vgatherdps(dst, src, mask_);
}

void XbyakBuilder::emit_vector_store(const VectorStore& store, const Reg64& base,
                                     std::int64_t disp, const Xmm& value, const Xmm& scratch) {
  switch (store.kind) {
    case StoreKind::whole: vmovups(at(base, disp), value); break;
    case StoreKind::masked: masked_store(at(base, disp), value); break;
    case StoreKind::pieces: emit_store_pieces(store.pieces, base, disp, value, scratch); break;
  }
}

// Each piece is one plain store of 4, 2 or 1 floats from lane `first_lane`, so an avx2 tail
// writes exactly its lanes without vmaskmovps (slow on AMD Zen). Pieces in the upper 128-bit
// half are stored from `high_half`, which receives that half once.
void XbyakBuilder::emit_store_pieces(const std::vector<StorePiece>& pieces, const Reg64& base,
                                     std::int64_t disp, const Xmm& value, const Xmm& high_half) {
  constexpr int kHalfLanes = 4;  // floats in a 128-bit half of a ymm register
  // The narrow stores address the xmm view of a register, whatever width it was handed out at.
  const Xmm low(value.getIdx()), high(high_half.getIdx());
  bool high_extracted = false;
  for (const StorePiece& piece : pieces) {
    if (piece.first_lane >= 2 * kHalfLanes)
      throw Error("plan", "a store piece lies beyond a ymm register");
    const Xbyak::Address out = at(base, disp + static_cast<std::int64_t>(piece.first_lane) * 4);
    const bool upper = piece.first_lane >= kHalfLanes;
    if (upper && !high_extracted) {
      vextractf128(high, Xbyak::Ymm(value.getIdx()), 1);
      high_extracted = true;
    }
    const Xmm& from = upper ? high : low;
    const int lane = piece.first_lane % kHalfLanes;
    switch (piece.lanes) {
      case 4: vmovups(out, from); break;
      case 2:
        if (lane == 0) vmovlps(out, from);
        else vmovhps(out, from);
        break;
      case 1:
        if (lane == 0) vmovss(out, from);
        else vextractps(out, from, static_cast<std::uint8_t>(lane));
        break;
      default: throw Error("plan", "a store piece is 4, 2 or 1 floats");
    }
  }
}

void XbyakBuilder::declare_constant(float value) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  if (constants_.contains(bits)) return;
  if (pool_emitted_) throw Error("plan", "internal: a constant was declared after the constant pool");
  constants_[bits];
  constant_order_.push_back(bits);
}

Xbyak::Address XbyakBuilder::constant(float value) {
  const auto it = constants_.find(std::bit_cast<std::uint32_t>(value));
  if (it == constants_.end())
    throw Error("plan", "internal: the constant " + std::to_string(value) + " was not declared");
  return util::ptr[util::rip + it->second];
}

void XbyakBuilder::emit_constant_pool() {
  align(64);
  for (auto& [lanes, label] : masks_) {
    L(label);
    for (int lane = 0; lane < plan_.lanes; ++lane) dd((lanes >> lane) & 1u ? 0xFFFFFFFFu : 0u);
  }
  for (std::uint32_t bits : constant_order_) {
    L(constants_[bits]);
    for (int lane = 0; lane < plan_.lanes; ++lane) dd(bits);
  }
  pool_emitted_ = true;
}

void XbyakBuilder::declare_epilogue_constants(const TileEpilogue& epilogue) {
  for (float c : epilogue.constants()) declare_constant(c);
}

void XbyakBuilder::emit_tile_epilogue(const TileEpilogue& e, const EpilogueOperands& o) {
  if (e.add_bias) vaddps(o.value, o.source, o.bias);
  else if (o.source.getIdx() != o.value.getIdx()) vmovaps(o.value, o.source);
  if (e.add_residual) {
    const Xbyak::Address residual = at(*o.residual_base, *o.residual_delta, o.disp);
    if (!o.partial) {
      vaddps(o.value, o.value, residual);
    } else if (plan_.uses_opmasks()) {
      vaddps(o.value | kMask, o.value, residual);  // masked-off lanes are not read, so cannot fault
    } else {
      vmaskmovps(o.temporaries.at(0), mask_, residual);
      vaddps(o.value, o.value, o.temporaries.at(0));
    }
  }
  if (static_cast<int>(o.temporaries.size()) < e.temporaries)
    throw Error("plan", "internal: the tile epilogue has fewer temporaries than its activation needs");
  emit_conversion(e, o);
  for (const VectorOp& op : e.activation) emit_vector_op(op, o);
}

void XbyakBuilder::emit_conversion(const TileEpilogue& e, const EpilogueOperands& o) {
  if (e.conversion == Conversion::none || e.conversion == Conversion::integer) return;
  if (!o.parameters || (o.temporaries.empty() && !o.multiplier))
    throw Error("plan", "internal: an 8-bit conversion needs its parameters and a temporary");
  auto part = [&](QuantizedPart p) { return at(*o.parameters, o.parameter_disp + p * e.channel_part); };
  const Xmm multiplier = o.multiplier ? *o.multiplier : o.temporaries.front();
  vcvtdq2ps(o.value, o.value);
  if (!o.multiplier) vmovups(multiplier, part(multiplier_part));
  vfmadd213ps(o.value, multiplier, part(offset_part));
  if (e.conversion == Conversion::dequantize) return;
  vmaxps(o.value, o.value, part(lowest_part));
  vminps(o.value, o.value, part(highest_part));
  vcvtps2dq(o.value, o.value);  // to nearest, ties to even (the default MXCSR)
  vpaddd(o.value, o.value, part(zero_point_part));
}

void XbyakBuilder::emit_output_store(const TileEpilogue& e, const VectorStore& store,
                                     const Reg64& base, std::int64_t disp, const Xmm& value,
                                     const Xmm& scratch) {
  if (e.conversion != Conversion::requantize) return emit_vector_store(store, base, disp, value, scratch);
  const Xbyak::Address out = at(base, disp);
  const bool u8 = e.output == DataType::u8;
  if (plan_.uses_opmasks()) {
    if (store.partial()) {  // the current mask holds the store's lanes
      if (u8) vpmovusdb(out | kMask, value);
      else vpmovsdb(out | kMask, value);
    } else {
      if (u8) vpmovusdb(out, value);
      else vpmovsdb(out, value);
    }
    return;
  }
  // AVX2: eight int32 lanes packed to eight bytes in the low quadword (the values are already
  // in the type's range, so the saturating packs change nothing), then stored in pieces of 4,
  // 2 and 1 bytes for a tail.
  const Xmm low(value.getIdx());
  vpackssdw(value, value, value);
  vpermq(Xbyak::Ymm(value.getIdx()), Xbyak::Ymm(value.getIdx()), 0x08);
  if (u8) vpackuswb(low, low, low);
  else vpacksswb(low, low, low);
  const int lanes = std::popcount(store.lanes);
  if (!store.partial() && plan_.lanes == 8) {
    vmovq(out, low);
    return;
  }
  for (int offset = 0, piece = 4; piece >= 1; piece /= 2) {
    if (!(lanes & piece)) continue;
    const Xbyak::Address to = at(base, disp + offset);
    if (piece == 4) vpextrd(to, low, static_cast<std::uint8_t>(offset / 4));
    else if (piece == 2) vpextrw(to, low, static_cast<std::uint8_t>(offset / 2));
    else vpextrb(to, low, static_cast<std::uint8_t>(offset));
    offset += piece;
  }
}

void XbyakBuilder::emit_vector_op(const VectorOp& op, const EpilogueOperands& o) {
  auto reg = [&](int i) { return i == 0 ? o.value : o.temporaries.at(static_cast<std::size_t>(i - 1)); };
  const Xmm d = reg(op.dst), a = reg(op.a), b = reg(op.b);
  switch (op.kind) {
    case VectorOpKind::add_constant: vaddps(d, a, constant(op.constant)); break;
    case VectorOpKind::mul_constant: vmulps(d, a, constant(op.constant)); break;
    case VectorOpKind::max_constant: vmaxps(d, a, constant(op.constant)); break;
    case VectorOpKind::min_constant: vminps(d, a, constant(op.constant)); break;
    case VectorOpKind::mul: vmulps(d, a, b); break;
    case VectorOpKind::max: vmaxps(d, a, b); break;
    case VectorOpKind::min: vminps(d, a, b); break;
    case VectorOpKind::div: vdivps(d, a, b); break;
    case VectorOpKind::constant_div:
      if (op.dst == op.a) throw Error("plan", "internal: constant_div needs dst apart from a");
      vmovups(d, constant(op.constant));
      vdivps(d, d, a);
      break;
    case VectorOpKind::fma_constant:  // d = a·b + c with d == a: vfmadd213ps d, b, c
      if (op.dst != op.a) throw Error("plan", "internal: fma_constant needs dst == a");
      vfmadd213ps(d, b, constant(op.constant));
      break;
    case VectorOpKind::fnma_constant:  // d = a − b·c with d == a: vfnmadd231ps d, b, c
      if (op.dst != op.a) throw Error("plan", "internal: fnma_constant needs dst == a");
      vfnmadd231ps(d, b, constant(op.constant));
      break;
    case VectorOpKind::round_even:  // imm 0: to nearest, ties to even
      if (plan_.uses_opmasks()) vrndscaleps(d, a, 0);
      else vroundps(d, a, 0);
      break;
    case VectorOpKind::exp2_integer:
      vaddps(d, a, constant(127.0f));
      vcvtps2dq(d, d);
      vpslld(d, d, 23);
      break;
  }
}

}  // namespace convjit
