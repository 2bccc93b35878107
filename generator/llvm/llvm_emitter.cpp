#include "generator/llvm/llvm_emitter.hpp"
#include "generator/llvm/llvm_call_args.hpp"
#include "generator/llvm/llvm_loop.hpp"
#include "generator/llvm/llvm_vector_store.hpp"

#include "generator/kernel_code.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <cstddef>

namespace convjit {

LlvmEmitter::LlvmEmitter(const KernelPlan& plan, llvm::Module& module)
    : plan_(plan),
      shape_(plan.shape),
      schedule_(make_schedule(plan)),
      geo_(schedule_.geometry),
      module_(module),
      context_(module.getContext()),
      builder_(module.getContext()) {
  float_ = builder_.getFloatTy();
  vector_ = llvm::FixedVectorType::get(float_, plan.lanes);
  i64_ = builder_.getInt64Ty();
  i8_ = builder_.getInt8Ty();
  ptr_ = llvm::PointerType::get(context_, 0);
  // The plan decided what is unrolled; LLVM's unroller and loop vectoriser keep out.
  loop_properties_ = {
      llvm::MDNode::get(context_, llvm::MDString::get(context_, "llvm.loop.unroll.disable")),
      llvm::MDNode::get(context_, {llvm::MDString::get(context_, "llvm.loop.vectorize.enable"),
                                   llvm::ConstantAsMetadata::get(builder_.getFalse())})};
}

llvm::Function* LlvmEmitter::emit(const std::string& name) {
  auto* type = llvm::FunctionType::get(builder_.getVoidTy(), {ptr_}, false);
  function_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module_);
  function_->addFnAttr(llvm::Attribute::NoUnwind);
  function_->addFnAttr(llvm::Attribute::NoFree);
  function_->addFnAttr(llvm::Attribute::NoSync);
  function_->addFnAttr(llvm::Attribute::WillReturn);
  // x86 CPUs whose tuning prefers 256-bit vectors would otherwise split a 16-lane plan's
  // vectors in two; the plan already chose the width. Only the x86 backend reads these; a
  // neon plan's 128-bit vectors are AArch64's only fixed width, so it gets none.
  if (plan_.isa != Isa::neon) {
    const std::string vector_bits = std::to_string(plan_.lanes * 32);
    function_->addFnAttr("min-legal-vector-width", vector_bits);
    function_->addFnAttr("prefer-vector-width", vector_bits);
  }
  llvm::Argument* args = function_->getArg(0);
  describe_call_args(args);

  builder_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", function_));
  auto field = [&](llvm::Type* type, std::size_t offset, const char* field_name) {
    return load_call_arg(builder_, args, type, offset, field_name);
  };
  Bases bases;
  bases.src = field(ptr_, offsetof(KernelCallArgs, src), "src");
  bases.weights = field(ptr_, offsetof(KernelCallArgs, weights), "weights");
  bases.bias = field(ptr_, offsetof(KernelCallArgs, bias), "bias");
  bases.dst = field(ptr_, offsetof(KernelCallArgs, dst), "dst");
  row_begin_ = field(i64_, offsetof(KernelCallArgs, row_begin), "row_begin");
  row_end_ = field(i64_, offsetof(KernelCallArgs, row_end), "row_end");
  tile_begin_ = field(i64_, offsetof(KernelCallArgs, tile_begin), "tile_begin");
  tile_end_ = field(i64_, offsetof(KernelCallArgs, tile_end), "tile_end");
  if (schedule_.epilogue.add_residual) {
    // One distance serves every store: the residual is addressed like dst.
    llvm::Value* residual = field(ptr_, offsetof(KernelCallArgs, residual), "residual");
    residual_delta_ = builder_.CreateSub(builder_.CreatePtrToInt(residual, i64_),
                                         builder_.CreatePtrToInt(bases.dst, i64_), "residual_delta");
  }

  emit_groups(bases);
  builder_.CreateRetVoid();
  return function_;
}

// ------------------------------------------------------------------ loops over the output

void LlvmEmitter::emit_groups(const Bases& bases) {
  if (schedule_.groups <= 1) {
    emit_channel_tiles(bases, i64(0));
    return;
  }
  emit_counted_loop(schedule_.groups, {}, [&](llvm::Value* g, const Values&) {
    emit_channel_tiles({offset_pointer(bases.src, g, geo_.src_group),
                        offset_pointer(bases.dst, g, geo_.dst_group),
                        offset_pointer(bases.weights, g, geo_.wei_group),
                        offset_pointer(bases.bias, g, geo_.bias_group)},
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
      auto at = [&](llvm::Value* base, std::int64_t block_bytes) {
        return offset_pointer(base, t, run.blocks * block_bytes, run.first_block * block_bytes);
      };
      return Bases{at(group.src, geo_.src_block), at(group.dst, geo_.dst_block),
                   at(group.weights, geo_.wei_block), at(group.bias, geo_.bias_block)};
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
  auto* type = llvm::FunctionType::get(builder_.getVoidTy(), params, false);
  auto* body = llvm::Function::Create(type, llvm::Function::InternalLinkage,
                                      function_->getName() + ".row" + std::to_string(run.first_tile), module_);
  for (llvm::Attribute::AttrKind kind : {llvm::Attribute::NoInline, llvm::Attribute::NoUnwind,
                                         llvm::Attribute::NoFree, llvm::Attribute::NoSync,
                                         llvm::Attribute::WillReturn})
    body->addFnAttr(kind);
  for (const char* key : {"min-legal-vector-width", "prefer-vector-width"})
    body->addFnAttr(key, function_->getFnAttribute(key).getValueAsString());

  llvm::Function* caller = function_;
  const llvm::IRBuilderBase::InsertPoint resume = builder_.saveIP();
  function_ = body;
  builder_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", body));
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
  row.src = offset_pointer(tile.src, oh, schedule_.src_row_step, schedule_.pass_src_offset(pass, 0));
  row.dst = offset_pointer(tile.dst, oh, geo_.dst_row);
  // Unrolled steps address the weights from the channel tile's start; a looped reduction
  // starts at the pass's first kernel row.
  row.weights = schedule_.reduction_unrolled
                    ? tile.weights
                    : pointer({tile.weights, schedule_.pass_weight_offset(pass)});
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
      const Address src{offset_pointer(row.src, i, walk.src_step, walk.src_offset), 0};
      const Address dst{offset_pointer(row.dst, i, walk.dst_step, walk.dst_offset), 0};
      emit_tile(row, walk, src, dst, pass, steps, run);
      return Values{};
    });
  }
}

// ------------------------------------------------------------------ one register tile

void LlvmEmitter::emit_tile(const Row& row, const TileWalk& walk, const Address& src,
                            const Address& dst, const RowPass& pass,
                            const std::vector<ReductionStep>& steps, const ChannelTileRun& run) {
  Values acc = emit_tile_init(row, walk, run);
  if (schedule_.reduction_unrolled) {
    for (const ReductionStep& step : steps) emit_taps(walk, run, step, src, {row.weights, 0}, acc);
  } else if (row.kernel_rows || pass.kernel_rows() > 0) {
    acc = emit_looped_reduction(row, walk, src, pass, run, std::move(acc));
  }
  emit_tile_store(walk, dst, run, acc, row.residual_delta);
}

LlvmEmitter::Values LlvmEmitter::emit_tile_init(const Row& row, const TileWalk& walk,
                                                const ChannelTileRun& run) {
  Values bias(run.blocks);
  for (int b = 0; b < run.blocks; ++b) {
    const Address at{row.bias, b * geo_.bias_block};
    switch (schedule_.bias) {
      case BiasLoad::zero: bias[b] = llvm::ConstantAggregateZero::get(vector_); break;
      case BiasLoad::broadcast: bias[b] = broadcast(at); break;
      case BiasLoad::vector: bias[b] = load_vector(at); break;
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
  const std::vector<TileTap>& taps = walk.taps[step.kw];
  if (taps.empty()) return;
  auto accumulate = [&](int column, int block, llvm::Value* a, llvm::Value* b) {
    llvm::Value*& sum = acc[column * run.blocks + block];
    sum = fma(a, b, sum);
  };
  const Address at = src.plus(step.src_offset);
  const Address wei = weights.plus(step.wei_offset);

  if (plan_.strategy == Strategy::width_vectors) {
    Values inputs;
    for (const TileTap& tap : taps) {
      const Address in = at.plus(tap.src_offset);
      switch (tap.load) {
        case InputLoad::vector: inputs.push_back(load_input_vector(in)); break;
        case InputLoad::masked: inputs.push_back(load_vector_masked(in, tap.lanes)); break;
        case InputLoad::gather:
          inputs.push_back(gather_vector(in, geo_.src_column, tap.lanes));
          break;
        case InputLoad::broadcast: inputs.push_back(broadcast_input(in)); break;
      }
    }
    for (int o = 0; o < run.blocks; ++o) {
      llvm::Value* weight = broadcast(wei.plus(o * geo_.wei_block));
      for (std::size_t i = 0; i < taps.size(); ++i) accumulate(taps[i].column, o, inputs[i], weight);
    }
    return;
  }

  Values weight(run.blocks);
  for (int b = 0; b < run.blocks; ++b) weight[b] = load_vector(wei.plus(b * geo_.wei_block));
  const std::uint32_t tail = first_lanes(plan_.oc_tail_lanes, plan_.lanes);
  for (const TileTap& tap : taps) {
    const Address input = at.plus(tap.src_offset);
    if (tap.load == InputLoad::broadcast) {
      llvm::Value* x = broadcast_input(input);
      for (int b = 0; b < run.blocks; ++b) accumulate(tap.column, b, weight[b], x);
      continue;
    }
    for (int b = 0; b < run.blocks; ++b) {
      const Address in = input.plus(b * geo_.src_block);
      const bool last_of_tail = run.has_tail && b == run.blocks - 1;
      accumulate(tap.column, b, weight[b],
                 last_of_tail ? load_vector_masked(in, tail) : load_input_vector(in));
    }
  }
}

llvm::Value* LlvmEmitter::emit_activation(llvm::Value* value) {
  // nnan: a plain max/min instruction, as the Xbyak kernel uses (no NaN fix-up sequence).
  llvm::IRBuilderBase::FastMathFlagGuard guard(builder_);
  llvm::FastMathFlags flags;
  flags.setNoNaNs();
  builder_.setFastMathFlags(flags);
  auto splat = [&](float v) { return llvm::ConstantFP::get(vector_, static_cast<double>(v)); };
  switch (shape_.act.kind) {
    case ActivationKind::none: return value;
    case ActivationKind::relu: return builder_.CreateMaxNum(value, splat(0.0f));
    case ActivationKind::clamp:
      return builder_.CreateMinNum(builder_.CreateMaxNum(value, splat(shape_.act.lo)),
                                   splat(shape_.act.hi));
  }
  return value;
}

void LlvmEmitter::emit_tile_store(const TileWalk& walk, const Address& dst,
                                  const ChannelTileRun& run, const Values& acc,
                                  llvm::Value* residual_delta) {
  auto store = [&](const TileStore& st, int block) {
    const VectorStore& how = schedule_.store_of(st, run, block);
    const Address out = dst.plus(st.dst_offset + block * geo_.dst_block);
    llvm::Value* value = acc[st.column * run.blocks + block];
    if (residual_delta) {
      // Only the stored lanes are read: the others may lie outside the residual.
      const Address residual{builder_.CreateGEP(i8_, pointer(out), residual_delta), 0};
      value = builder_.CreateFAdd(value, how.partial() ? load_vector_masked(residual, how.lanes)
                                                       : load_vector(residual));
    }
    store_vector(emit_activation(value), out, how);
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

llvm::Value* LlvmEmitter::i64(std::int64_t value) { return builder_.getInt64(value); }

// No `inbounds`: a border vector's address may lie before its row (masked lanes only).
llvm::Value* LlvmEmitter::pointer(const Address& a) {
  return a.bytes == 0 ? a.base : builder_.CreateConstGEP1_64(i8_, a.base, a.bytes);
}

llvm::Value* LlvmEmitter::offset_pointer(llvm::Value* base, llvm::Value* index,
                                         std::int64_t stride, std::int64_t bytes) {
  llvm::Value* offset = i64(bytes);
  if (index && stride != 0)
    offset = builder_.CreateAdd(builder_.CreateMul(index, i64(stride), "", false, true), offset,
                                "", false, true);
  if (auto* constant = llvm::dyn_cast<llvm::ConstantInt>(offset); constant && constant->isZero())
    return base;
  return builder_.CreateGEP(i8_, base, offset);
}

llvm::Value* LlvmEmitter::load_vector(const Address& a) {
  return builder_.CreateAlignedLoad(vector_, pointer(a), llvm::Align(4));
}

llvm::Value* LlvmEmitter::load_vector_masked(const Address& a, std::uint32_t lanes) {
  return builder_.CreateMaskedLoad(vector_, pointer(a), llvm::Align(4), mask(lanes),
                                   llvm::ConstantAggregateZero::get(vector_));
}

llvm::Value* LlvmEmitter::gather_vector(const Address& a, std::int64_t lane_stride,
                                        std::uint32_t lanes) {
  std::vector<llvm::Constant*> offsets;
  for (int lane = 0; lane < plan_.lanes; ++lane) offsets.push_back(builder_.getInt64(lane * lane_stride));
  llvm::Value* addresses = builder_.CreateGEP(i8_, pointer(a), llvm::ConstantVector::get(offsets));
  return builder_.CreateMaskedGather(vector_, addresses, llvm::Align(4), mask(lanes),
                                     llvm::ConstantAggregateZero::get(vector_));
}

llvm::Value* LlvmEmitter::broadcast(const Address& a) {
  llvm::Value* scalar = builder_.CreateAlignedLoad(float_, pointer(a), llvm::Align(4));
  return builder_.CreateVectorSplat(plan_.lanes, scalar);
}

// Neighbouring columns' taps read the same input (column j at kw + 1 is column j + 1 at kw).
// Merged into one load (EarlyCSE, then SelectionDAG), an input stays in a register from its
// first tap to its last: registers the plan does not count, so the ResNet layers' neon tiles
// spill inside their loops. A volatile load is one that neither merges, so each tap loads its
// input where it uses it, as the Xbyak kernel does. x86 plans keep merged loads: their LLVM
// kernels spill too, but that is the code whose speed was measured.
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

void LlvmEmitter::store_vector(llvm::Value* value, const Address& a, const VectorStore& store) {
  emit_vector_store(builder_, value, pointer(a), store, plan_.lanes);
}

// llvm.fmuladd rather than llvm.fma: one fused multiply-add wherever the target has one
// (FMA3 on x86-64, fmla on AArch64), a multiply and an add where it has none — llvm.fma
// would become eight calls to fmaf there.
llvm::Value* LlvmEmitter::fma(llvm::Value* a, llvm::Value* b, llvm::Value* acc) {
  return builder_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vector_}, {a, b, acc});
}

llvm::Constant* LlvmEmitter::mask(std::uint32_t lanes) {
  return llvm_lane_mask(builder_, lanes, plan_.lanes);
}

LlvmEmitter::Values LlvmEmitter::emit_loop(
    llvm::Value* begin, llvm::Value* end, bool guard, Values carried,
    const std::function<Values(llvm::Value*, const Values&)>& body) {
  return emit_llvm_loop(builder_, function_, loop_properties_, begin, end, guard, std::move(carried), body);
}

LlvmEmitter::Values LlvmEmitter::emit_counted_loop(
    std::int64_t count, Values carried,
    const std::function<Values(llvm::Value*, const Values&)>& body) {
  if (count <= 0) return carried;
  if (count == 1) return body(i64(0), carried);
  return emit_loop(i64(0), i64(count), false, std::move(carried), body);
}

}  // namespace convjit
