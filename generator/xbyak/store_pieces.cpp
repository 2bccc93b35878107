#include "generator/xbyak/store_pieces.hpp"

#include <convjit/error.hpp>

#include <limits>

namespace convjit {

void emit_store_pieces(Xbyak::CodeGenerator& code, const std::vector<StorePiece>& pieces,
                       const Xbyak::Reg64& base, std::int64_t disp, const Xbyak::Xmm& value,
                       const Xbyak::Xmm& high_half) {
  constexpr int kHalfLanes = 4;  // floats in a 128-bit half of a ymm register
  // The narrow stores address the xmm view of a register, whatever width it was handed out at.
  const Xbyak::Xmm low(value.getIdx()), high(high_half.getIdx());
  bool high_extracted = false;
  for (const StorePiece& piece : pieces) {
    const std::int64_t at = disp + static_cast<std::int64_t>(piece.first_lane) * 4;
    if (at < std::numeric_limits<std::int32_t>::min() ||
        at > std::numeric_limits<std::int32_t>::max())
      throw Error("shape", "a tensor offset inside one tile exceeds 2 GiB; the shape is too "
                           "large for the x86-64 generator");
    if (piece.first_lane >= 2 * kHalfLanes)
      throw Error("plan", "a store piece lies beyond a ymm register");
    const Xbyak::Address out = code.ptr[base + static_cast<std::int32_t>(at)];
    const bool upper = piece.first_lane >= kHalfLanes;
    if (upper && !high_extracted) {
      code.vextractf128(high, Xbyak::Ymm(value.getIdx()), 1);
      high_extracted = true;
    }
    const Xbyak::Xmm& from = upper ? high : low;
    const int lane = piece.first_lane % kHalfLanes;
    switch (piece.lanes) {
      case 4: code.vmovups(out, from); break;
      case 2:
        if (lane == 0) code.vmovlps(out, from);
        else code.vmovhps(out, from);
        break;
      case 1:
        if (lane == 0) code.vmovss(out, from);
        else code.vextractps(out, from, static_cast<std::uint8_t>(lane));
        break;
      default: throw Error("plan", "a store piece is 4, 2 or 1 floats");
    }
  }
}

}  // namespace convjit
