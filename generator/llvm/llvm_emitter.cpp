#include "generator/llvm/llvm_emitter.hpp"

#include "generator/kernel_code.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>

#include <algorithm>
#include <cstddef>

namespace convjit {

LlvmEmitter::LlvmEmitter(const KernelPlan& plan, const KernelSchedule& schedule,
                         llvm::Module& module)
    : LlvmBuilder(plan, module),
      schedule_(schedule),
      geo_(schedule_.geometry) {}

llvm::Function* LlvmEmitter::emit(const std::string& name) {
  begin_entry(name);
  Bases bases;
  bases.src = call_arg(ptr_, offsetof(KernelCallArgs, src), "src");
  bases.weights = call_arg(ptr_, offsetof(KernelCallArgs, weights), "weights");
  bases.bias = call_arg(ptr_, offsetof(KernelCallArgs, bias), "bias");
  bases.dst = call_arg(ptr_, offsetof(KernelCallArgs, dst), "dst");
  row_begin_ = call_arg(i64_, offsetof(KernelCallArgs, unit_begin), "row_begin");
  row_end_ = call_arg(i64_, offsetof(KernelCallArgs, unit_end), "row_end");
  tile_begin_ = call_arg(i64_, offsetof(KernelCallArgs, tile_begin), "tile_begin");
  tile_end_ = call_arg(i64_, offsetof(KernelCallArgs, tile_end), "tile_end");
  if (schedule_.epilogue.add_residual) residual_delta_ = residual_delta(bases.dst);

  emit_groups(bases);
  builder_.CreateRetVoid();
  return function_;
}

// ------------------------------------------------------------------ loops over the output

void LlvmEmitter::emit_groups(const Bases& bases) {
  auto emit_passes = [&](const Bases& group, llvm::Value* g) {
    for (const ReductionPass& reduction : schedule_.reduction_passes) {
      reduction_ = &reduction;
      emit_channel_tiles(group, g);
    }
    reduction_ = nullptr;
  };
  if (schedule_.groups <= 1) {
    emit_passes(bases, i64(0));
    return;
  }
  emit_counted_loop(schedule_.groups, {}, [&](llvm::Value* g, const Values&) {
    emit_passes({at(bases.src, g, geo_.src_group),
                 at(bases.dst, g, geo_.dst_group),
                 at(bases.weights, g, geo_.wei_group),
                 at(bases.bias, g, geo_.bias_group)},
                g);
    return Values{};
  });
}

void LlvmEmitter::emit_channel_tiles(const Bases& group, llvm::Value* g) {
  // Tiles outside the caller's [tile_begin, tile_end) are skipped (another thread has them).
  auto emit_if_requested = [&](llvm::Value* index, const std::function<void()>& emit) {
    llvm::Value* wanted = builder_.CreateAnd(builder_.CreateICmpSGE(index, tile_begin_),
                                             builder_.CreateICmpSLT(index, tile_end_));
    llvm::BasicBlock* run_tile = llvm::BasicBlock::Create(context_, "tile", function_);
    llvm::BasicBlock* after = llvm::BasicBlock::Create(context_, "tile_done", function_);
    builder_.CreateCondBr(wanted, run_tile, after);
    builder_.SetInsertPoint(run_tile);
    emit();
    builder_.CreateBr(after);
    builder_.SetInsertPoint(after);
  };
  for (const ChannelTileRun& run : schedule_.channel_runs) {
    auto tile_bases = [&](llvm::Value* t) {
      auto in_tile = [&](llvm::Value* base, std::int64_t block_bytes) {
        return at(base, t, run.blocks * block_bytes, run.first_block * block_bytes);
      };
      return Bases{in_tile(group.src, geo_.src_block), in_tile(group.dst, geo_.dst_block),
                   in_tile(group.weights, geo_.wei_block), in_tile(group.bias, geo_.bias_block)};
    };
    emit_counted_loop(run.count, {}, [&](llvm::Value* t, const Values&) {
      // tile_index(g, run, t), with g and t run-time values.
      llvm::Value* index = builder_.CreateAdd(
          builder_.CreateMul(g, i64(schedule_.tiles_per_group)),
          builder_.CreateAdd(t, i64(run.first_tile)), "tile_index");
      emit_if_requested(index, [&] { emit_rows(tile_bases(t), run); });
      return Values{};
    });
  }
}

void LlvmEmitter::emit_rows(const Bases& tile, const ChannelTileRun& run) {
  llvm::Function* shared_body = schedule_.shared_row_body ? emit_shared_row_body(run) : nullptr;
  for (const RowPass& pass : schedule_.row_passes) emit_row_pass(tile, pass, run, shared_body);
}

llvm::Function* LlvmEmitter::emit_shared_row_body(const ChannelTileRun& run) {
  // (src row, dst row, reduction weights, bias, kernel rows[, residual minus dst])
  std::vector<llvm::Type*> params{ptr_, ptr_, ptr_, ptr_, i64_};
  if (residual_delta_) params.push_back(i64_);
  const auto pass_index = reduction_ - schedule_.reduction_passes.data();
  llvm::Function* body = make_function(function_->getName().str() + ".row" + std::to_string(run.first_tile) +
                                           (pass_index > 0 ? ".pass" + std::to_string(pass_index) : ""),
                                       params, FunctionKind::internal_not_inlined);
  llvm::Function* caller = function_;
  const llvm::IRBuilderBase::InsertPoint resume = builder_.saveIP();
  enter(body);
  const Row row{body->getArg(0), body->getArg(1), body->getArg(2), body->getArg(3),
                body->getArg(4), residual_delta_ ? body->getArg(5) : nullptr};
  emit_row_body(row, RowPass{}, run);
  builder_.CreateRetVoid();
  function_ = caller;
  builder_.restoreIP(resume);
  return body;
}

void LlvmEmitter::emit_row_pass(const Bases& tile, const RowPass& pass, const ChannelTileRun& run,
                                llvm::Function* shared_body) {
  if (pass.constant_row) {
    // One output row with a constant index: every address inside is a constant offset.
    llvm::Value* oh = i64(pass.rows.oh_begin);
    llvm::Value* wanted = builder_.CreateAnd(builder_.CreateICmpSLE(row_begin_, oh),
                                             builder_.CreateICmpSLT(oh, row_end_));
    auto* row = llvm::BasicBlock::Create(context_, "row", function_);
    auto* after = llvm::BasicBlock::Create(context_, "row.next");
    builder_.CreateCondBr(wanted, row, after);
    builder_.SetInsertPoint(row);
    emit_row(tile, pass, run, oh, shared_body);
    builder_.CreateBr(after);
    after->insertInto(function_);
    builder_.SetInsertPoint(after);
    return;
  }
  // The caller's row range [row_begin, row_end) clipped to the pass, as a loop.
  llvm::Value* first = builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, row_begin_,
                                                      i64(pass.rows.oh_begin));
  llvm::Value* last = builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, row_end_,
                                                     i64(pass.rows.oh_end));
  emit_loop(first, last, true, {}, [&](llvm::Value* oh, const Values&) {
    emit_row(tile, pass, run, oh, shared_body);
    return Values{};
  });
}

void LlvmEmitter::emit_row(const Bases& tile, const RowPass& pass, const ChannelTileRun& run,
                           llvm::Value* oh, llvm::Function* shared_body) {
  Row row;
  row.src = at(tile.src, oh, schedule_.src_row_step, schedule_.pass_src_offset(pass, *reduction_, 0));
  row.dst = at(tile.dst, oh, geo_.dst_row);
  // Unrolled steps address the weights from the channel tile's start; a looped reduction
  // starts at the pass's first kernel row.
  row.weights = schedule_.reduction_unrolled
                    ? tile.weights
                    : pointer({tile.weights, schedule_.pass_weight_offset(pass, *reduction_)});
  row.bias = tile.bias;
  row.residual_delta = residual_delta_;
  if (!shared_body) {
    emit_row_body(row, pass, run);
    return;
  }
  Values args{row.src, row.dst, row.weights, row.bias, i64(pass.kernel_rows())};
  if (residual_delta_) args.push_back(residual_delta_);
  builder_.CreateCall(shared_body, args);
}

void LlvmEmitter::emit_row_body(const Row& row, const RowPass& pass, const ChannelTileRun& run) {
  const std::vector<ReductionStep> steps =
      schedule_.reduction_unrolled ? schedule_.unrolled_steps(pass) : std::vector<ReductionStep>{};
  for (const TileWalk& walk : schedule_.tiles) {
    if (!walk.looped()) {
      emit_tile(row, walk, {row.src, 0}, {row.dst, 0}, pass, steps, run);
      continue;
    }
    emit_counted_loop(walk.tile.repeat, {}, [&](llvm::Value* i, const Values&) {
      const Address src{at(row.src, i, walk.src_step, walk.src_offset), 0};
      const Address dst{at(row.dst, i, walk.dst_step, walk.dst_offset), 0};
      emit_tile(row, walk, src, dst, pass, steps, run);
      return Values{};
    });
  }
}

// ------------------------------------------------------------------ one register tile

void LlvmEmitter::emit_tile(const Row& row, const TileWalk& walk, const Address& src,
                            const Address& dst, const RowPass& pass,
                            const std::vector<ReductionStep>& steps, const ChannelTileRun& run) {
  Values acc = emit_tile_init(row, walk, dst, run);
  emit_padding_taps(row, walk, pass, run, acc);
  if (schedule_.reduction_unrolled) {
    for (const ReductionStep& step : steps) emit_taps(walk, run, step, src, {row.weights, 0}, acc);
  } else if (row.kernel_rows || pass.kernel_rows() > 0) {
    acc = emit_looped_reduction(row, walk, src, pass, run, std::move(acc));
  }
  emit_tile_store(walk, dst, run, acc, row.residual_delta, row.bias);
}

void LlvmEmitter::emit_padding_taps(const Row& row, const TileWalk& walk, const RowPass& pass,
                                    const ChannelTileRun& run, Values& acc) {
  for (const PaddingTap& tap : schedule_.padding_taps(pass, walk))
    for (int b = 0; b < run.blocks; ++b) {
      llvm::Value*& sum = acc[tap.column * run.blocks + b];
      sum = builder_.CreateAdd(
          sum, load_int_vector(pointer({row.bias, schedule_.padding_tap_offset(tap) + b * geo_.bias_block})));
    }
}

LlvmEmitter::Values LlvmEmitter::emit_tile_init(const Row& row, const TileWalk& walk,
                                                const Address& dst, const ChannelTileRun& run) {
  if (reduction_->from_dst) {
    // A later input-channel pass: the partial sums the earlier ones stored, at the store's lanes.
    Values acc(static_cast<std::size_t>(walk.columns * run.blocks));
    for (const TileStore& st : walk.stores)
      for (int b = 0; b < run.blocks; ++b) {
        const VectorStore& store = schedule_.store_of(st, run, b);
        llvm::Value* partial = pointer(dst.plus(st.dst_offset + b * geo_.dst_block));
        acc[st.column * run.blocks + b] =
            store.partial() ? load_vector_masked(partial, store.lanes) : load_vector(partial);
      }
    return acc;
  }
  Values bias(run.blocks);
  for (int b = 0; b < run.blocks; ++b) {
    const Address at_bias{row.bias, b * geo_.bias_block};
    switch (schedule_.bias) {
      case BiasLoad::zero: bias[b] = zero(); break;
      case BiasLoad::broadcast: bias[b] = broadcast(pointer(at_bias)); break;
      case BiasLoad::vector:
        // 8-bit sums start from the int32 bias part.
        bias[b] = plan_.shape.quantized() ? load_int_vector(pointer(at_bias)) : load_vector(pointer(at_bias));
        break;
    }
  }
  Values acc;
  for (int col = 0; col < walk.columns; ++col)
    for (int b = 0; b < run.blocks; ++b) acc.push_back(bias[b]);
  return acc;
}

// Kernel rows × input-channel steps as loops; the body's taps unrolled inside. As in the
// Xbyak kernel, a source and a weight pointer walk the window (loop-carried after the
// accumulators) and every tap is a constant offset from them.
LlvmEmitter::Values LlvmEmitter::emit_looped_reduction(const Row& row, const TileWalk& walk,
                                                       const Address& src, const RowPass& pass,
                                                       const ChannelTileRun& run, Values acc) {
  const LoopedReduction& r = schedule_.looped;
  const std::size_t n = acc.size();
  Values state = std::move(acc);
  state.push_back(pointer(src));
  state.push_back(row.weights);
  auto kernel_row = [&](llvm::Value*, const Values& at_row) {
    Values inner = emit_counted_loop(r.ic_steps, at_row, [&](llvm::Value*, const Values& cur) {
      Values next(cur.begin(), cur.begin() + n);
      for (const ReductionStep& step : r.body)
        emit_taps(walk, run, step, {cur[n], 0}, {cur[n + 1], 0}, next);
      next.push_back(pointer({cur[n], r.src_advance}));
      next.push_back(pointer({cur[n + 1], r.wei_advance}));
      return next;
    });
    for (const ReductionStep& step : r.row_tail)
      emit_taps(walk, run, step, {inner[n], 0}, {inner[n + 1], 0}, inner);
    inner[n] = pointer({at_row[n], r.src_row});
    inner[n + 1] = pointer({at_row[n + 1], r.wei_row});
    return inner;
  };
  if (row.kernel_rows)
    state = emit_loop(i64(0), row.kernel_rows, schedule_.has_rows_without_taps, std::move(state),
                      kernel_row);
  else
    state = emit_counted_loop(pass.kernel_rows(), std::move(state), kernel_row);
  state.resize(n);
  return state;
}

void LlvmEmitter::emit_taps(const TileWalk& walk, const ChannelTileRun& run,
                            const ReductionStep& step, const Address& src,
                            const Address& weights, Values& acc) {
  if (plan_.strategy == Strategy::depthwise) return emit_held_input_taps(walk, run, step, src, weights, acc);
  const std::vector<TileTap>& taps = walk.taps[step.kw];
  if (taps.empty()) return;
  auto accumulate = [&](int column, int block, llvm::Value* a, llvm::Value* b) {
    llvm::Value*& sum = acc[column * run.blocks + block];
    sum = multiply_add(a, b, sum);
  };
  const Address at = src.plus(step.src_offset);
  const Address wei = weights.plus(step.wei_offset);

  if (plan_.strategy == Strategy::width_vectors) {
    Values inputs;
    for (const TileTap& tap : taps) {
      const Address in = at.plus(tap.src_offset);
      switch (tap.load) {
        case InputLoad::vector: inputs.push_back(load_input_vector(in)); break;
        case InputLoad::masked: inputs.push_back(load_vector_masked(pointer(in), tap.lanes)); break;
        case InputLoad::gather:
          inputs.push_back(gather_vector(in, geo_.src_column, tap.lanes));
          break;
        case InputLoad::broadcast: inputs.push_back(broadcast_input(in)); break;
      }
    }
    for (int o = 0; o < run.blocks; ++o) {
      llvm::Value* weight = broadcast(pointer(wei.plus(o * geo_.wei_block)));
      for (std::size_t i = 0; i < taps.size(); ++i) accumulate(taps[i].column, o, inputs[i], weight);
    }
    return;
  }

  if (plan_.shape.quantized()) return emit_quad_taps(taps, run, step, at, wei, acc);
  Values weight(run.blocks);
  for (int b = 0; b < run.blocks; ++b) weight[b] = load_vector(pointer(wei.plus(b * geo_.wei_block)));
  for (const TileTap& tap : taps) {
    llvm::Value* x = broadcast_input(at.plus(tap.src_offset));
    for (int b = 0; b < run.blocks; ++b) accumulate(tap.column, b, weight[b], x);
  }
}

// A depthwise step: the weights of its kernel columns, then each input vector loaded once for
// every tap that reads it.
void LlvmEmitter::emit_held_input_taps(const TileWalk& walk, const ChannelTileRun& run,
                                       const ReductionStep& step, const Address& src,
                                       const Address& weights, Values& acc) {
  const std::vector<HeldInput>& inputs = walk.held_inputs[step.held_run];
  if (inputs.empty()) return;
  const Address at = src.plus(step.src_offset);
  const Address wei = weights.plus(step.wei_offset);
  const bool widened = plan_.shape.quantized();
  auto load_weight = [&](const Address& a) -> llvm::Value* {
    if (!widened) return load_vector(pointer(a));
    // The low int16 half of each packed lane is the weight.
    llvm::Value* halves = builder_.CreateTrunc(load_int_vector(pointer(a)),
                                               llvm::FixedVectorType::get(builder_.getInt16Ty(), plan_.lanes));
    return builder_.CreateSExt(halves, int_vector_);
  };
  Values weight(static_cast<std::size_t>(step.kernel_columns * run.blocks));
  for (int k = 0; k < step.kernel_columns; ++k)
    for (int b = 0; b < run.blocks; ++b)
      weight[k * run.blocks + b] = load_weight(wei.plus(k * geo_.wei_kw + b * geo_.wei_block));
  const std::uint32_t tail = first_lanes(plan_.oc_tail_lanes, plan_.lanes);
  for (const HeldInput& input : inputs)
    for (int b = 0; b < run.blocks; ++b) {
      const Address in = at.plus(input.src_offset + b * geo_.src_block);
      const bool last_of_tail = run.has_tail && b == run.blocks - 1;
      llvm::Value* x = widened        ? widened_input(in, last_of_tail)
                       : last_of_tail ? load_vector_masked(pointer(in), tail)
                                      : load_input_vector(in);
      for (const HeldInputUse& use : input.uses) {
        llvm::Value*& sum = acc[use.column * run.blocks + b];
        llvm::Value* w = weight[(use.kw - step.kw) * run.blocks + b];
        sum = widened ? builder_.CreateAdd(sum, builder_.CreateMul(x, w)) : multiply_add(w, x, sum);
      }
    }
}

llvm::Value* LlvmEmitter::widened_input(const Address& a, bool tail) {
  auto* bytes_type = llvm::FixedVectorType::get(i8_, plan_.lanes);
  llvm::Value* bytes =
      tail ? static_cast<llvm::Value*>(builder_.CreateMaskedLoad(bytes_type, pointer(a), llvm::Align(1),
                                       mask(first_lanes(plan_.oc_tail_lanes, plan_.lanes)),
                                       llvm::Constant::getNullValue(bytes_type)))
           : builder_.CreateAlignedLoad(bytes_type, pointer(a), llvm::Align(1));
  return schedule_.signed_input ? builder_.CreateSExt(bytes, int_vector_)
                                : builder_.CreateZExt(bytes, int_vector_);
}

void LlvmEmitter::emit_quad_taps(const std::vector<TileTap>& taps, const ChannelTileRun& run,
                                 const ReductionStep& step, const Address& at, const Address& wei,
                                 Values& acc) {
  const bool pairs = schedule_.product == Product::pair_quads;
  auto* pair_type = llvm::FixedVectorType::get(builder_.getInt16Ty(), 2 * plan_.lanes);
  Values weight, second_pair;
  for (int b = 0; b < run.blocks; ++b) {
    const Address w = wei.plus(b * geo_.wei_block);
    if (!pairs) {
      weight.push_back(load_int_vector(pointer(w)));  // each lane's four weight bytes
      continue;
    }
    weight.push_back(builder_.CreateAlignedLoad(pair_type, pointer(w), llvm::Align(2)));
    second_pair.push_back(builder_.CreateAlignedLoad(pair_type, pointer(w.plus(geo_.wei_ic / 2)), llvm::Align(2)));
  }
  for (const TileTap& tap : taps) {
    llvm::Value* quad = quad_input(at.plus(tap.src_offset), step.partial_channels);
    if (!pairs) {
      llvm::Value* x = builder_.CreateVectorSplat(plan_.lanes, quad);
      for (int b = 0; b < run.blocks; ++b) {
        llvm::Value*& sum = acc[tap.column * run.blocks + b];
        sum = dot_bytes(sum, x, weight[b]);
      }
      continue;
    }
    // The quad's byte pairs as int16 words (x0, x1) and (x2, x3) of every lane.
    llvm::Value* low = builder_.CreateOr(builder_.CreateAnd(quad, 0xFFu),
                                         builder_.CreateShl(builder_.CreateAnd(quad, 0xFF00u), 8));
    llvm::Value* high = builder_.CreateOr(builder_.CreateAnd(builder_.CreateLShr(quad, 16), 0xFFu),
                                          builder_.CreateShl(builder_.CreateLShr(quad, 24), 16));
    llvm::Value* x01 = builder_.CreateBitCast(builder_.CreateVectorSplat(plan_.lanes, low), pair_type);
    llvm::Value* x23 = builder_.CreateBitCast(builder_.CreateVectorSplat(plan_.lanes, high), pair_type);
    for (int b = 0; b < run.blocks; ++b) {
      llvm::Value*& sum = acc[tap.column * run.blocks + b];
      sum = builder_.CreateAdd(sum, pair_products(x01, weight[b]));
      sum = builder_.CreateAdd(sum, pair_products(x23, second_pair[b]));
    }
  }
}

// sum + each lane's four u8·s8 products (vpdpbusd: the plan's quads are AVX512-VNNI's or
// AVX-VNNI's).
llvm::Value* LlvmEmitter::dot_bytes(llvm::Value* sum, llvm::Value* unsigned_bytes,
                                    llvm::Value* signed_bytes) {
  const llvm::Intrinsic::ID id = plan_.lanes == 16 ? llvm::Intrinsic::x86_avx512_vpdpbusd_512
                                                   : llvm::Intrinsic::x86_avx512_vpdpbusd_256;
  return builder_.CreateIntrinsic(id, {}, {sum, unsigned_bytes, signed_bytes});
}

// Each lane's two int16 products, added (pmaddwd on x86; the same sum in integer IR elsewhere).
llvm::Value* LlvmEmitter::pair_products(llvm::Value* a, llvm::Value* b) {
  if (plan_.isa != Isa::neon && plan_.lanes == 8)
    return builder_.CreateIntrinsic(llvm::Intrinsic::x86_avx2_pmadd_wd, {}, {a, b});
  auto* wide = llvm::FixedVectorType::get(builder_.getInt32Ty(), 2 * plan_.lanes);
  llvm::Value* products = builder_.CreateMul(builder_.CreateSExt(a, wide), builder_.CreateSExt(b, wide));
  std::vector<int> even, odd;
  for (int l = 0; l < plan_.lanes; ++l) {
    even.push_back(2 * l);
    odd.push_back(2 * l + 1);
  }
  return builder_.CreateAdd(builder_.CreateShuffleVector(products, even),
                            builder_.CreateShuffleVector(products, odd));
}

llvm::Value* LlvmEmitter::quad_input(const Address& a, int partial_channels) {
  llvm::Type* i32 = builder_.getInt32Ty();
  llvm::Value* quad = nullptr;
  if (partial_channels == 0) {
    quad = builder_.CreateAlignedLoad(i32, pointer(a), llvm::Align(1));
  } else {  // only the group's bytes: the ones past it may lie past the input's end
    for (int k = 0; k < partial_channels; ++k) {
      llvm::Value* byte = builder_.CreateZExt(builder_.CreateLoad(i8_, pointer(a.plus(k))), i32);
      byte = builder_.CreateShl(byte, static_cast<std::uint64_t>(8 * k));
      quad = quad ? builder_.CreateOr(quad, byte) : byte;
    }
  }
  if (schedule_.flip_input_sign) quad = builder_.CreateXor(quad, builder_.getInt32(0x80808080u));
  return quad;
}

void LlvmEmitter::emit_tile_store(const TileWalk& walk, const Address& dst,
                                  const ChannelTileRun& run, const Values& acc,
                                  llvm::Value* residual_delta, llvm::Value* bias) {
  auto store = [&](const TileStore& st, int block) {
    const Address out = dst.plus(st.dst_offset + block * geo_.dst_block);
    emit_tile_epilogue(schedule_.epilogue_of(*reduction_), acc[st.column * run.blocks + block], nullptr,
                       residual_delta, out.base, out.bytes, schedule_.store_of(st, run, block),
                       pointer({bias, block * geo_.bias_block}));
  };
  if (plan_.strategy == Strategy::width_vectors) {
    for (int o = 0; o < run.blocks; ++o)
      for (const TileStore& st : walk.stores) store(st, o);
    return;
  }
  for (const TileStore& st : walk.stores)
    for (int b = 0; b < run.blocks; ++b) store(st, b);
}

// ------------------------------------------------------------------ IR helpers

llvm::Value* LlvmEmitter::pointer(const Address& a) { return at(a.base, a.bytes); }

llvm::Value* LlvmEmitter::gather_vector(const Address& a, std::int64_t lane_stride,
                                        std::uint32_t lanes) {
  std::vector<llvm::Constant*> offsets;
  for (int lane = 0; lane < plan_.lanes; ++lane) offsets.push_back(builder_.getInt64(lane * lane_stride));
  llvm::Value* addresses = builder_.CreateGEP(i8_, pointer(a), llvm::ConstantVector::get(offsets));
  return builder_.CreateMaskedGather(vector_, addresses, llvm::Align(4), mask(lanes), zero());
}

// Neighbouring columns' taps read the same input (column j at kw + 1 is column j + 1 at kw).
// Merged into one load (EarlyCSE, then SelectionDAG), an input stays in a register from its
// first tap to its last: registers the plan does not count, so the ResNet layers' neon tiles
// spill inside their loops. A volatile load is one that neither merges, so each tap loads its
// input where it uses it, as the Xbyak kernel does. x86 plans keep merged loads: their LLVM
// kernels spill too, but that is the code whose speed was measured. (Depthwise kernels load
// each input once per run of held kernel columns by the schedule, in both emitters, and the
// plan counts the registers that takes.)
bool LlvmEmitter::inputs_loaded_per_tap() const { return plan_.isa == Isa::neon; }

llvm::Value* LlvmEmitter::load_input_vector(const Address& a) {
  llvm::LoadInst* load = builder_.CreateAlignedLoad(vector_, pointer(a), llvm::Align(4));
  load->setVolatile(inputs_loaded_per_tap());
  return load;
}

llvm::Value* LlvmEmitter::broadcast_input(const Address& a) {
  llvm::LoadInst* scalar = builder_.CreateAlignedLoad(float_, pointer(a), llvm::Align(4));
  scalar->setVolatile(inputs_loaded_per_tap());
  return builder_.CreateVectorSplat(plan_.lanes, scalar);
}

}  // namespace convjit
