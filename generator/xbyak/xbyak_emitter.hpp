#pragma once
// XbyakEmitter: translates a plan's KernelSchedule into AVX2+FMA or AVX-512 machine code. It
// decides nothing the schedule has not decided; it only turns its loops, taps and stores into
// instructions and names registers.
#include "generator/kernel_schedule.hpp"
#include "generator/plan.hpp"
#include "generator/xbyak/xbyak_builder.hpp"

#include <cstdint>
#include <vector>

namespace convjit {

class XbyakEmitter : public XbyakBuilder {
 public:
  // Code memory is writable while emitting and read+execute afterwards, never both.
  XbyakEmitter(const KernelPlan& plan, const KernelSchedule& schedule, std::size_t max_code_bytes);

 private:
  // The registers a tile addresses from: its own pointers when looped, else the row's.
  struct TileBase {
    Xbyak::Reg64 src, dst;
  };

  void allocate_vector_registers();
  void emit_prologue();
  void emit_groups();
  void emit_channel_tiles();
  void emit_rows(const ChannelTileRun& run);
  // shared_body: the row body to call (passes then only set their kernel-row range).
  void emit_row_pass(const RowPass& pass, const ChannelTileRun& run,
                     const Xbyak::Label* shared_body);
  void emit_constant_row(const RowPass& pass, const ChannelTileRun& run,
                         const Xbyak::Label* shared_body);
  void emit_row_loop(const RowPass& pass, const ChannelTileRun& run,
                     const Xbyak::Label* shared_body);
  void emit_row_body_or_call(const RowPass& pass, const ChannelTileRun& run,
                             const Xbyak::Label* shared_body);
  // A stack slot of the kernel's frame, wherever the current code sits (call depth).
  Xbyak::Address slot(int index) const;
  void emit_row_body(const RowPass& pass, const ChannelTileRun& run);
  void emit_tile(const TileWalk& walk, const TileBase& base, const RowPass& pass,
                 const std::vector<ReductionStep>& steps, const ChannelTileRun& run);
  void emit_tile_init(const TileWalk& walk, const TileBase& base, const ChannelTileRun& run);
  void emit_padding_taps(const TileWalk& walk, const RowPass& pass, const ChannelTileRun& run);
  void emit_quad_broadcast(const Xbyak::Reg64& src, std::int64_t disp, int partial_channels);
  void emit_widened_load(const Xbyak::Reg64& src, std::int64_t disp, bool tail);
  void emit_looped_reduction(const TileWalk& walk, const TileBase& base, const RowPass& pass,
                             const ChannelTileRun& run);
  // The taps of one reduction step; src/wei registers plus the step's offsets locate them.
  void emit_taps(const TileWalk& walk, const ChannelTileRun& run, const ReductionStep& step,
                 const Xbyak::Reg64& src, const Xbyak::Reg64& wei);
  void emit_width_vector_taps(const std::vector<TileTap>& taps, const ChannelTileRun& run,
                              const ReductionStep& step, const Xbyak::Reg64& src,
                              const Xbyak::Reg64& wei);
  void emit_broadcast_taps(const std::vector<TileTap>& taps, const ChannelTileRun& run,
                                const ReductionStep& step, const Xbyak::Reg64& src,
                                const Xbyak::Reg64& wei);
  void emit_held_input_taps(const TileWalk& walk, const ChannelTileRun& run,
                            const ReductionStep& step, const Xbyak::Reg64& src,
                            const Xbyak::Reg64& wei);
  void emit_tile_store(const TileWalk& walk, const TileBase& base, const ChannelTileRun& run);
  void emit_gather_offsets();
  Xbyak::Xmm acc(int column, int block) const;

  const ConvShape& shape_;
  const KernelSchedule schedule_;
  const TileGeometry& geo_;
  int call_depth_ = 0;  // bytes pushed on top of the frame by a call into a shared body
  const ReductionPass* reduction_ = nullptr;  // the input-channel pass being emitted

  // Vector registers by role (see the constructor for the allocation), ymm or zmm.
  std::vector<Xbyak::Xmm> acc_;      // [column * oc_tile + block]
  std::vector<Xbyak::Xmm> weights_;  // oc/depthwise: one per block
  std::vector<Xbyak::Xmm> inputs_;   // width: one per vector
  Xbyak::Xmm broadcast_, mask_, gather_index_, masked_input_;
  Xbyak::Xmm product_, pair_input_;  // AVX2 8-bit: vpmaddwd's result; a quad's first byte pair
  std::vector<Xbyak::Xmm> free_at_store_;  // the reduction's registers, the epilogue's at a store
  Xbyak::Label gather_offsets_;  // after the constant pool
};

}  // namespace convjit
