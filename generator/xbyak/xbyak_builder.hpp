#pragma once
// XbyakBuilder: the base of every Xbyak kernel emitter. It owns what each kernel needs the same
// way: the entry's register saving and frame, addressing (one 2 GiB check), zeroing, lane
// masks and masked loads and stores, the translation of the schedule's VectorStore, the
// constant pool, and the one translation of a TileEpilogue (bias, residual, activation). The
// direct and Winograd emitters build on it and translate only their own walks.
#include "generator/plan.hpp"
#include "generator/tile_epilogue.hpp"
#include "generator/vector_store.hpp"

#include <xbyak/xbyak.h>

#include <cstdint>
#include <map>
#include <vector>

namespace convjit {

class XbyakBuilder : public Xbyak::CodeGenerator {
 protected:
  // mask_scratch: a general-purpose register free wherever a mask is set (opmask bits).
  XbyakBuilder(const KernelPlan& plan, std::size_t max_code_bytes, const Xbyak::Reg64& mask_scratch);

  // Saves the callee-saved registers the emitters use and reserves `frame_bytes` of stack
  // (with the six pushes, frame_bytes ≡ 8 mod 16 keeps rsp 16-byte aligned); the return
  // undoes both.
  void emit_entry_frame(int frame_bytes);
  void emit_return(int frame_bytes);

  // [base + disp]; a displacement beyond 32 bits is a shape too large for this generator.
  static std::int32_t displacement(std::int64_t disp);
  Xbyak::Address at(const Xbyak::Reg64& base, std::int64_t disp);
  Xbyak::Address at(const Xbyak::Reg64& base, const Xbyak::Reg64& index, std::int64_t disp);
  // reg += value, through `wide` when the value needs 64 bits.
  void add_imm(const Xbyak::Reg64& reg, std::int64_t value, const Xbyak::Reg64& wide);
  void zero(const Xbyak::Xmm& reg);
  // The encoding of instructions both AVX-512 (EVEX) and AVX-VNNI (VEX) have, for the plan.
  Xbyak::PreferredEncoding encoding() const {
    return plan_.uses_opmasks() ? Xbyak::EvexEncoding : Xbyak::VexEncoding;
  }

  // Lane masks: an opmask register (avx512) or, on avx2, the vector register given to
  // use_mask_register and vmaskmovps. set_mask makes `lanes` (bit i: lane i) the current mask;
  // the masked operations use the current mask.
  void use_mask_register(const Xbyak::Xmm& mask) { mask_ = mask; }
  void declare_mask(std::uint32_t lanes);
  void set_mask(std::uint32_t lanes);
  void masked_load(const Xbyak::Xmm& dst, const Xbyak::Address& src);  // other lanes zero
  void masked_store(const Xbyak::Address& dst, const Xbyak::Xmm& src);
  // Bytes widened to the 32-bit lanes of dst (sign- or zero-extended); `masked`: only the
  // current mask's lanes read (avx512), the others zero.
  void widening_load(const Xbyak::Xmm& dst, const Xbyak::Address& src, bool sign_extend, bool masked);
  // Exactly `bytes` (1 to 7) bytes from [base + disp] into the low bytes of dst, the others
  // zero, through plain 4-, 2- and 1-byte loads into the general registers a and b: no byte
  // past them is read (AVX2 has no masked byte loads).
  void load_bytes(const Xbyak::Xmm& dst, const Xbyak::Reg64& base, std::int64_t disp, int bytes,
                  const Xbyak::Reg64& a, const Xbyak::Reg64& b);
  // Gathers the current mask's lanes from a VSIB address; the mask is used up.
  void gather(const Xbyak::Xmm& dst, const Xbyak::Address& src);

  // `value` to [base + disp] as the schedule's VectorStore says (masked: the current mask);
  // `scratch` receives a ymm's upper half for a tail stored in pieces.
  void emit_vector_store(const VectorStore& store, const Xbyak::Reg64& base, std::int64_t disp,
                         const Xbyak::Xmm& value, const Xbyak::Xmm& scratch);

  // Vector constants, each a whole vector of one float: declared before the pool is emitted
  // (Winograd emits it before its code, the direct kernel after), addressed rip-relative.
  void declare_constant(float value);
  Xbyak::Address constant(float value);
  // The lane masks (avx2) and the constants, 64-byte aligned.
  void emit_constant_pool();

  // Where a tile epilogue finds its operands. The value ends in `value`; `source` is where the
  // sum is (the bias is added from it into `value`; without a bias it is copied when it
  // differs). The residual lies at [residual_base + residual_delta + disp], read only in the
  // current mask's lanes when `partial`. temporaries[0] also serves as the store's scratch.
  // 8-bit conversions read the channel block's parts at [parameters + parameter_disp + part].
  struct EpilogueOperands {
    Xbyak::Xmm value, source, bias;
    const Xbyak::Reg64* residual_base = nullptr;
    const Xbyak::Reg64* residual_delta = nullptr;
    std::int64_t disp = 0;
    bool partial = false;
    std::vector<Xbyak::Xmm> temporaries;
    const Xbyak::Reg64* parameters = nullptr;
    std::int64_t parameter_disp = 0;
    const Xbyak::Xmm* multiplier = nullptr;  // the block's multiplier part, when already loaded
  };
  void emit_tile_epilogue(const TileEpilogue& epilogue, const EpilogueOperands& operands);
  // The epilogue's value to [base + disp] in the output's type: as emit_vector_store for f32
  // and s32, narrowed with saturation (exact: the value is already clamped) for u8 and s8.
  void emit_output_store(const TileEpilogue& epilogue, const VectorStore& store,
                         const Xbyak::Reg64& base, std::int64_t disp, const Xbyak::Xmm& value,
                         const Xbyak::Xmm& scratch);
  // Declares the constants an epilogue's activation names.
  void declare_epilogue_constants(const TileEpilogue& epilogue);

  const KernelPlan& plan_;

 private:
  void emit_store_pieces(const std::vector<StorePiece>& pieces, const Xbyak::Reg64& base,
                         std::int64_t disp, const Xbyak::Xmm& value, const Xbyak::Xmm& high_half);
  void emit_vector_op(const VectorOp& op, const EpilogueOperands& operands);
  void emit_conversion(const TileEpilogue& epilogue, const EpilogueOperands& operands);

  Xbyak::Reg64 mask_scratch_;
  Xbyak::Xmm mask_;
  std::map<std::uint32_t, Xbyak::Label> masks_;   // avx2: lane bitmask -> lanes x int32
  std::map<std::uint32_t, Xbyak::Label> constants_;  // a float's bits -> its vector
  std::vector<std::uint32_t> constant_order_;         // declaration order
  bool pool_emitted_ = false;
};

}  // namespace convjit
