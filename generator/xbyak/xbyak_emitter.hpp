#pragma once
// XbyakEmitter: translates a KernelPlan into AVX2+FMA or AVX-512 machine code. It decides nothing the
// plan has not decided; it only walks the plan's loops and tiles and names registers.
#include "generator/plan.hpp"
#include "generator/tile_geometry.hpp"

#include <xbyak/xbyak.h>

#include <cstdint>
#include <map>
#include <vector>

namespace convjit {

class XbyakEmitter : public Xbyak::CodeGenerator {
 public:
  // Code memory is writable while emitting and read+execute afterwards, never both.
  XbyakEmitter(const KernelPlan& plan, std::size_t max_code_bytes);

 private:
  // Where a tile sits: `base_*` registers point at output column `ow_origin` of the current
  // row; `ow_first` is the absolute first column (known when the tile is not in a loop).
  struct TilePlace {
    Xbyak::Reg64 src, dst;
    std::int64_t ow_origin = 0;     // column the base registers correspond to
    std::int64_t ow_first = 0;      // absolute column of the tile's first output
    std::int64_t width = 0;         // output columns
    bool steady = false;            // every tap in bounds (looped tiles)
  };

  void emit_prologue();
  void emit_epilogue();
  void emit_groups();
  void emit_channel_tiles();
  void emit_rows(const ChannelTileRun& run);
  // shared_body: the row body to call (segments then only set their kernel-row range).
  void emit_row_segment(const RowSegment& segment, const ChannelTileRun& run,
                        const Xbyak::Label* shared_body);
  bool shares_row_body() const;
  bool has_rows_without_taps() const;
  // A stack slot of the kernel's frame, wherever the current code sits (call depth).
  Xbyak::Address slot(int index) const;
  void emit_row_body(const RowSegment& segment, const ChannelTileRun& run);
  void emit_tile(const TilePlace& place, const RowSegment& segment, const ChannelTileRun& run);
  void emit_tile_init(const TilePlace& place, const ChannelTileRun& run);
  void emit_reduction(const TilePlace& place, const RowSegment& segment,
                      const ChannelTileRun& run);
  // One (kh, kw, ic) step; src/wei registers plus displacements locate the tap.
  void emit_tap(const TilePlace& place, const ChannelTileRun& run, std::int64_t kw,
                const Xbyak::Reg64& src, std::int64_t src_disp, const Xbyak::Reg64& wei,
                std::int64_t wei_disp);
  void emit_tile_store(const TilePlace& place, const ChannelTileRun& run);
  void emit_activation(const Xbyak::Xmm& acc);
  void emit_constants();

  // Lane masks: a vector register and vmaskmovps (avx2) or an opmask register (avx512).
  // set_mask makes `lanes` the current mask; the masked operations use the current mask.
  void set_mask(std::uint32_t lanes);
  void masked_load(const Xbyak::Xmm& dst, const Xbyak::Address& src);  // other lanes zero
  void masked_store(const Xbyak::Address& dst, const Xbyak::Xmm& src);
  // Gathers the current mask's lanes from a VSIB address; the mask is used up.
  void gather(const Xbyak::Xmm& dst, const Xbyak::Address& src);
  void zero(const Xbyak::Xmm& reg);
  // Immediates and displacements wider than 32 bits take a detour through a register.
  void add_imm(const Xbyak::Reg64& reg, std::int64_t value);
  Xbyak::Address at(const Xbyak::Reg64& base, std::int64_t disp);
  Xbyak::Xmm acc(int column, int block) const;

  const KernelPlan& plan_;
  const ConvShape& shape_;
  TileGeometry geo_;
  int call_depth_ = 0;  // bytes pushed on top of the frame by a call into a shared body

  // Vector registers by role (see the constructor for the allocation), ymm or zmm.
  std::vector<Xbyak::Xmm> acc_;      // [column * oc_tile + block]
  std::vector<Xbyak::Xmm> weights_;  // oc/depthwise: one per block
  std::vector<Xbyak::Xmm> inputs_;   // width: one per vector
  Xbyak::Xmm broadcast_, mask_, gather_index_, masked_input_;

  // Constant pool, emitted after the code.
  std::map<std::uint32_t, Xbyak::Label> masks_;  // avx2: lane bitmask -> lanes x int32 mask
  Xbyak::Label relu_zero_, clamp_lo_, clamp_hi_, gather_offsets_;
};

}  // namespace convjit
