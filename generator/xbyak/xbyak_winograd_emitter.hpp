#pragma once
// XbyakWinogradEmitter: translates a WinogradSchedule into AVX2+FMA or AVX-512 machine code.
// The entry point walks the call's blocks of tiles; per block it calls the input-transform
// routine of each tile's border class, one products routine, and the output-transform
// routine of each tile's class. Every routine is straight-line per channel vector, with the
// schedule's coefficients as constants and its padding terms absent.
#include "generator/plan.hpp"
#include "generator/winograd_schedule.hpp"
#include "generator/xbyak/xbyak_builder.hpp"

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <vector>

namespace convjit {

class XbyakWinogradEmitter : public XbyakBuilder {
 public:
  XbyakWinogradEmitter(const KernelPlan& plan, const WinogradSchedule& schedule,
                       std::size_t max_code_bytes);

 private:
  void emit_entry();
  void emit_block(const GemmPass& gemm_full, const GemmPass& gemm_last);
  // Calls the class routine of each tile of the block: `routines` indexed by the classes.
  void emit_tile_walk(const TileClasses& classes, const Xbyak::Label& routines,
                      const Xbyak::Label& row_table, const Xbyak::Label& column_table,
                      bool input_phase);
  void emit_channel_loop(std::int64_t count, std::initializer_list<Xbyak::Reg64> pointers,
                         const std::function<void()>& channel_vector);
  void emit_input_routine(const TileTransform& x);
  void emit_input_channel_vector(const TileTransform& x, bool tail);
  void emit_output_routine(const TileTransform& x);
  void emit_output_channel_vector(const TileTransform& x, bool tail);
  void emit_gemm(const GemmPass& pass);
  void emit_gemm_group(int tiles, int blocks);
  // out = terms over inputs (registers by input index); returns the register holding it.
  Xbyak::Xmm emit_combination(const LinearCombination& terms, const std::vector<Xbyak::Xmm>& inputs,
                              const Xbyak::Xmm& out);
  void load(const Xbyak::Xmm& dst, const Xbyak::Address& src, bool masked);
  void declare_constants();  // the pool precedes the code
  void emit_tables();        // the routine and class tables, after it

  const WinogradSchedule w_;
  std::vector<Xbyak::Xmm> inputs_;  // a 1-D transform's inputs
  Xbyak::Xmm result_, zero_, bias_;
  std::vector<Xbyak::Xmm> epilogue_temporaries_;

  Xbyak::Label input_routines_, output_routines_;  // tables of routine addresses
  Xbyak::Label input_rows_, input_columns_, output_rows_, output_columns_;  // class tables
  std::vector<Xbyak::Label> input_labels_, output_labels_;
  Xbyak::Label gemm_full_, gemm_last_;
};

}  // namespace convjit
