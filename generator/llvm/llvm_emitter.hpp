#pragma once
// LlvmEmitter: translates a plan's KernelSchedule into target-independent LLVM IR — the same
// walk XbyakEmitter translates (groups, channel tiles, row passes, column tiles, reduction,
// taps, stores), written with LlvmBuilder's generic vector types (<lanes x float>, the plan's
// width) and generic intrinsics (llvm.fmuladd, llvm.masked.load/store/gather); each store
// goes through the schedule's TileEpilogue (LlvmBuilder::emit_tile_epilogue), and avx2 tails
// are stored as plain narrow stores (vector_store.hpp). No x86 intrinsics and no inline
// assembly, so the same IR compiles for x86-64 and AArch64.
//
// The emitted function is `void NAME(const KernelCallArgs*)`, plus, where the schedule shares
// a row body, internal `NAME.rowK` functions it calls. Accumulators are SSA values; the
// plan's counted loops are IR loops with phi nodes, marked so LLVM neither unrolls nor
// vectorises them (the plan already decided both).
#include "generator/kernel_schedule.hpp"
#include "generator/llvm/llvm_builder.hpp"
#include "generator/plan.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace convjit {

// Version of the code the LLVM backend makes from a plan. It is part of the on-disk object
// cache's key (object_cache.hpp), so bump it whenever the emitted IR, the optimisation or code
// generation settings (llvm_pipeline), the KernelCallArgs layout, or what a plan field means
// to the emitter (plan.cpp, tile_geometry.cpp) changes: old entries are then never loaded.
// (The key also holds the plan's describe() text and the library's build id, which catch most
// such changes on their own; this number is the explicit switch.)
// 5: avx2 tails stored in plain pieces; Winograd kernels (llvm_winograd_emitter), and the
// plan's target features on every function of a module, not only the entry point.
// 6: the epilogue translated from the schedule's TileEpilogue (LlvmBuilder), with the new
// activations; a Winograd kernel without a bias no longer adds one.
inline constexpr int kLlvmKernelVersion = 6;

class LlvmEmitter : private LlvmBuilder {
 public:
  // The schedule outlives the emitter, which reads it while emitting.
  LlvmEmitter(const KernelPlan& plan, const KernelSchedule& schedule, llvm::Module& module);

  // Adds the kernel to the module under `name` and returns it.
  llvm::Function* emit(const std::string& name);

 private:
  // Byte pointers of the current group / channel tile.
  struct Bases {
    llvm::Value* src = nullptr;
    llvm::Value* dst = nullptr;
    llvm::Value* weights = nullptr;
    llvm::Value* bias = nullptr;
  };

  // What a row body works from: the output row's input (at the pass's first kernel row) and
  // output, where the reduction's weights start, the bias, and the number of kernel rows
  // (a run-time value in a shared row body, else the pass's constant).
  struct Row {
    llvm::Value* src = nullptr;
    llvm::Value* dst = nullptr;
    llvm::Value* weights = nullptr;
    llvm::Value* bias = nullptr;
    llvm::Value* kernel_rows = nullptr;  // null: the pass's own count
    llvm::Value* residual_delta = nullptr;  // bytes from dst to the residual; null: no residual
  };

  // A tap's address: a byte pointer computed once per loop step, plus constant bytes.
  struct Address {
    llvm::Value* base = nullptr;
    std::int64_t bytes = 0;
    Address plus(std::int64_t more) const { return {base, bytes + more}; }
  };

  void emit_groups(const Bases& bases);
  void emit_channel_tiles(const Bases& group, llvm::Value* group_index);
  void emit_rows(const Bases& tile, const ChannelTileRun& run);
  // The shared row body of a channel-tile run, as an internal function of its own.
  llvm::Function* emit_shared_row_body(const ChannelTileRun& run);
  void emit_row_pass(const Bases& tile, const RowPass& pass, const ChannelTileRun& run,
                     llvm::Function* shared_body);
  void emit_row(const Bases& tile, const RowPass& pass, const ChannelTileRun& run,
                llvm::Value* oh, llvm::Function* shared_body);
  void emit_row_body(const Row& row, const RowPass& pass, const ChannelTileRun& run);
  void emit_tile(const Row& row, const TileWalk& walk, const Address& src, const Address& dst,
                 const RowPass& pass, const std::vector<ReductionStep>& steps,
                 const ChannelTileRun& run);
  Values emit_tile_init(const Row& row, const TileWalk& walk, const Address& dst,
                        const ChannelTileRun& run);
  // 8-bit: each tap in padding adds back its part of the zero point's compensation.
  void emit_padding_taps(const Row& row, const TileWalk& walk, const RowPass& pass,
                         const ChannelTileRun& run, Values& acc);
  Values emit_looped_reduction(const Row& row, const TileWalk& walk, const Address& src,
                               const RowPass& pass, const ChannelTileRun& run, Values acc);
  // The taps of one reduction step.
  void emit_taps(const TileWalk& walk, const ChannelTileRun& run, const ReductionStep& step,
                 const Address& src, const Address& weights, Values& acc);
  void emit_held_input_taps(const TileWalk& walk, const ChannelTileRun& run,
                            const ReductionStep& step, const Address& src, const Address& weights,
                            Values& acc);
  // 8-bit channel vectors: each tap's quad of input bytes against every lane's four weights.
  void emit_quad_taps(const std::vector<TileTap>& taps, const ChannelTileRun& run,
                      const ReductionStep& step, const Address& at, const Address& wei,
                      Values& acc);
  // The quad's four input bytes as one i32 (a partial quad's missing bytes zero), with s8
  // input's sign bits flipped.
  llvm::Value* quad_input(const Address& address, int partial_channels);
  llvm::Value* dot_bytes(llvm::Value* sum, llvm::Value* unsigned_bytes, llvm::Value* signed_bytes);
  llvm::Value* pair_products(llvm::Value* a, llvm::Value* b);
  // 8-bit depthwise: a block's bytes widened to <lanes x i32> (the tail's lanes only).
  llvm::Value* widened_input(const Address& address, bool tail);
  void emit_tile_store(const TileWalk& walk, const Address& dst, const ChannelTileRun& run,
                       const Values& acc, llvm::Value* residual_delta, llvm::Value* bias);

  // IR helpers of the direct kernels (the shared ones are LlvmBuilder's).
  llvm::Value* pointer(const Address& address);
  llvm::Value* gather_vector(const Address& address, std::int64_t lane_stride,
                             std::uint32_t lanes);
  // A tap's input (not its weights): with inputs_loaded_per_tap(), one load per tap.
  llvm::Value* load_input_vector(const Address& address);
  llvm::Value* broadcast_input(const Address& address);
  bool inputs_loaded_per_tap() const;

  const KernelSchedule& schedule_;
  const TileGeometry& geo_;
  llvm::Value* row_begin_ = nullptr;
  llvm::Value* row_end_ = nullptr;
  llvm::Value* tile_begin_ = nullptr;
  llvm::Value* tile_end_ = nullptr;
  llvm::Value* residual_delta_ = nullptr;  // add_residual: bytes from dst to the residual
  const ReductionPass* reduction_ = nullptr;  // the input-channel pass being emitted
};

}  // namespace convjit
