#include "generator/llvm/llvm_emitter.hpp"

#include "generator/kernel_code.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

#include <algorithm>
#include <cstddef>

namespace convjit {

LlvmEmitter::LlvmEmitter(const KernelPlan& plan, llvm::Module& module)
    : plan_(plan),
      shape_(plan.shape),
      geo_(make_tile_geometry(plan)),
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
  // CPUs whose tuning prefers 256-bit vectors would otherwise split a 16-lane plan's
  // vectors in two; the plan already chose the width.
  const std::string vector_bits = std::to_string(plan_.lanes * 32);
  function_->addFnAttr("min-legal-vector-width", vector_bits);
  function_->addFnAttr("prefer-vector-width", vector_bits);
  llvm::Argument* args = function_->getArg(0);
  args->setName("args");
  args->addAttr(llvm::Attribute::NoCapture);
  args->addAttr(llvm::Attribute::ReadOnly);
  args->addAttr(llvm::Attribute::getWithDereferenceableBytes(context_, sizeof(KernelCallArgs)));
  args->addAttr(llvm::Attribute::getWithAlignment(context_, llvm::Align(alignof(KernelCallArgs))));

  builder_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", function_));
  auto field = [&](llvm::Type* type, std::size_t offset, const char* field_name) {
    llvm::Value* at = builder_.CreateConstInBoundsGEP1_64(i8_, args, offset);
    return builder_.CreateAlignedLoad(type, at, llvm::Align(8), field_name);
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

  emit_groups(bases);
  builder_.CreateRetVoid();
  return function_;
}

// ------------------------------------------------------------------ loops over the output

void LlvmEmitter::emit_groups(const Bases& bases) {
  if (geo_.groups_looped <= 1) {
    emit_channel_tiles(bases, i64(0));
    return;
  }
  emit_counted_loop(geo_.groups_looped, {}, [&](llvm::Value* g, const Values&) {
    emit_channel_tiles({offset_pointer(bases.src, g, geo_.src_group),
                        offset_pointer(bases.dst, g, geo_.dst_group),
                        offset_pointer(bases.weights, g, geo_.wei_group),
                        offset_pointer(bases.bias, g, geo_.bias_group)},
                       g);
    return Values{};
  });
}

void LlvmEmitter::emit_channel_tiles(const Bases& group, llvm::Value* g) {
  std::int64_t blocks_before = 0;
  std::int64_t tiles_before = 0;
  // Tiles outside the caller's [tile_begin, tile_end) are skipped (another thread has them);
  // tiles are numbered group-major, as channel_tile_count() counts them.
  auto emit_if_requested = [&](llvm::Value* t, const std::function<void()>& emit) {
    llvm::Value* index = builder_.CreateAdd(
        builder_.CreateMul(g, i64(channel_tiles_per_group(plan_))),
        builder_.CreateAdd(t, i64(tiles_before)), "tile_index");
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
  for (const ChannelTileRun& run : channel_tile_runs(plan_)) {
    auto tile_bases = [&](llvm::Value* t) {
      const std::int64_t step = run.blocks;
      auto at = [&](llvm::Value* base, std::int64_t block_bytes) {
        return offset_pointer(base, t, step * block_bytes, blocks_before * block_bytes);
      };
      return Bases{at(group.src, geo_.src_block), at(group.dst, geo_.dst_block),
                   at(group.weights, geo_.wei_block), at(group.bias, geo_.bias_block)};
    };
    emit_counted_loop(run.count, {}, [&](llvm::Value* t, const Values&) {
      emit_if_requested(t, [&] { emit_rows(tile_bases(t), run); });
      return Values{};
    });
    blocks_before += run.count * run.blocks;
    tiles_before += run.count;
  }
}

void LlvmEmitter::emit_rows(const Bases& tile, const ChannelTileRun& run) {
  for (const RowSegment& segment : plan_.rows) {
    // A one-row segment needs no loop either: its row index is a constant.
    if (plan_.unroll_rows || segment.oh_end - segment.oh_begin == 1) {
      for (std::int64_t oh = segment.oh_begin; oh < segment.oh_end; ++oh)
        emit_single_row(tile, {oh, oh + 1, segment.kh_begin, segment.kh_end}, run);
    } else {
      emit_row_segment(tile, segment, run);
    }
  }
}

// The caller's row range [row_begin, row_end) clipped to this segment, as a loop.
void LlvmEmitter::emit_row_segment(const Bases& tile, const RowSegment& segment,
                                   const ChannelTileRun& run) {
  llvm::Value* first = builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, row_begin_,
                                                      i64(segment.oh_begin));
  llvm::Value* last = builder_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, row_end_,
                                                     i64(segment.oh_end));
  emit_loop(first, last, true, {}, [&](llvm::Value* oh, const Values&) {
    emit_row_body(tile, segment, run, oh);
    return Values{};
  });
}

// One output row with a constant index: every address inside is a constant offset.
void LlvmEmitter::emit_single_row(const Bases& tile, const RowSegment& segment,
                                  const ChannelTileRun& run) {
  llvm::Value* oh = i64(segment.oh_begin);
  llvm::Value* wanted = builder_.CreateAnd(builder_.CreateICmpSLE(row_begin_, oh),
                                           builder_.CreateICmpSLT(oh, row_end_));
  auto* body = llvm::BasicBlock::Create(context_, "row", function_);
  auto* after = llvm::BasicBlock::Create(context_, "row.next");
  builder_.CreateCondBr(wanted, body, after);
  builder_.SetInsertPoint(body);
  emit_row_body(tile, segment, run, oh);
  builder_.CreateBr(after);
  after->insertInto(function_);
  builder_.SetInsertPoint(after);
}

void LlvmEmitter::emit_row_body(const Bases& tile, const RowSegment& segment,
                                const ChannelTileRun& run, llvm::Value* oh) {
  // Input row of kernel row kh_begin, and the output row.
  llvm::Value* src_row =
      offset_pointer(tile.src, oh, shape_.sh * geo_.src_row,
                     (segment.kh_begin * shape_.dh - shape_.pad_top) * geo_.src_row);
  llvm::Value* dst_row = offset_pointer(tile.dst, oh, geo_.dst_row);
  for (const ColumnTile& column : plan_.columns) {
    if (column.repeat > 1) {
      emit_counted_loop(column.repeat, {}, [&](llvm::Value* i, const Values&) {
        TilePlace place;
        place.src = offset_pointer(src_row, i, column.width * geo_.src_column,
                                   column.ow_begin * geo_.src_column);
        place.dst = offset_pointer(dst_row, i, column.width * geo_.dst_column,
                                   column.ow_begin * geo_.dst_column);
        place.ow_origin = column.ow_begin;
        place.ow_first = column.ow_begin;
        place.width = column.width;
        place.steady = true;
        emit_tile(tile, place, segment, run);
        return Values{};
      });
    } else {
      emit_tile(tile, {src_row, dst_row, 0, column.ow_begin, column.width, false}, segment, run);
    }
  }
}

// ------------------------------------------------------------------ one register tile

void LlvmEmitter::emit_tile(const Bases& tile, const TilePlace& place, const RowSegment& segment,
                            const ChannelTileRun& run) {
  Values acc = emit_tile_init(tile, place, run);
  if (segment.kh_end > segment.kh_begin)
    acc = emit_reduction(tile, place, segment, run, std::move(acc));
  emit_tile_store(place, run, acc);
}

LlvmEmitter::Values LlvmEmitter::emit_tile_init(const Bases& tile, const TilePlace& place,
                                                const ChannelTileRun& run) {
  const int columns = convjit::tile_columns(plan_, place.width);
  Values bias(run.blocks);
  for (int b = 0; b < run.blocks; ++b) {
    const Address at{tile.bias, b * geo_.bias_block};
    if (!shape_.bias) bias[b] = llvm::ConstantAggregateZero::get(vector_);
    else if (plan_.strategy == Strategy::width_vectors) bias[b] = broadcast(at);
    else bias[b] = load_vector(at);
  }
  Values acc;
  for (int col = 0; col < columns; ++col)
    for (int b = 0; b < run.blocks; ++b) acc.push_back(bias[b]);
  return acc;
}

LlvmEmitter::Values LlvmEmitter::emit_reduction(const Bases& tile, const TilePlace& place,
                                                const RowSegment& segment,
                                                const ChannelTileRun& run, Values acc) {
  const std::int64_t kernel_rows = segment.kh_end - segment.kh_begin;
  const std::int64_t channels = geo_.reduction_ic;
  if (plan_.unroll_kh) {
    for (std::int64_t r = 0; r < kernel_rows; ++r)
      for (std::int64_t kw = 0; kw < shape_.kw; ++kw)
        for (std::int64_t ic = 0; ic < channels; ++ic)
          emit_tap(place, run, kw, {place.src, r * geo_.src_kh + ic * geo_.src_ic},
                   {tile.weights,
                    (segment.kh_begin + r) * geo_.wei_kh + kw * geo_.wei_kw + ic * geo_.wei_ic},
                   acc);
    return acc;
  }
  // Kernel rows × input-channel steps as loops; kw and ic_unroll channels unrolled inside.
  // As in the Xbyak kernel, a source and a weight pointer walk the window (loop-carried
  // after the accumulators) and every tap is a constant offset from them.
  const std::int64_t step = plan_.ic_unroll;
  const std::size_t n = acc.size();
  Values state = std::move(acc);
  state.push_back(place.src);
  state.push_back(pointer({tile.weights, segment.kh_begin * geo_.wei_kh}));
  state = emit_counted_loop(kernel_rows, std::move(state), [&](llvm::Value*, const Values& row) {
    Values inner = emit_counted_loop(channels / step, row, [&](llvm::Value*, const Values& cur) {
      Values next(cur.begin(), cur.begin() + n);
      llvm::Value* src = cur[n];
      llvm::Value* wei = cur[n + 1];
      for (std::int64_t kw = 0; kw < shape_.kw; ++kw)
        for (std::int64_t ic = 0; ic < step; ++ic)
          emit_tap(place, run, kw, {src, ic * geo_.src_ic},
                   {wei, kw * geo_.wei_kw + ic * geo_.wei_ic}, next);
      next.push_back(pointer({src, step * geo_.src_ic}));
      next.push_back(pointer({wei, step * geo_.wei_ic}));
      return next;
    });
    // Next kernel row: back to the first channel, one (dilated) row down.
    inner[n] = pointer({row[n], geo_.src_kh});
    inner[n + 1] = pointer({row[n + 1], geo_.wei_kh});
    return inner;
  });
  state.resize(n);
  return state;
}

void LlvmEmitter::emit_tap(const TilePlace& place, const ChannelTileRun& run, std::int64_t kw,
                           const Address& src, const Address& weights, Values& acc) {
  const int columns = convjit::tile_columns(plan_, place.width);
  auto at_column = [&](std::int64_t column) {
    return src.plus(
        geo_.input_column_offset(shape_, place.ow_first - place.ow_origin + column, kw));
  };
  auto in_bounds = [&](std::int64_t column) {
    return place.steady || column_tap_in_bounds(shape_, place.ow_first + column, kw);
  };
  auto accumulate = [&](int column, int block, llvm::Value* a, llvm::Value* b) {
    llvm::Value*& sum = acc[column * run.blocks + block];
    sum = fma(a, b, sum);
  };

  if (plan_.strategy == Strategy::width_vectors) {
    Values inputs(columns, nullptr);
    for (int v = 0; v < columns; ++v) {
      const std::uint32_t lanes = width_lane_mask(plan_, place.ow_first, place.width, v, kw);
      if (lanes == 0) continue;  // every lane's tap lies in padding
      const Address at = at_column(v * plan_.lanes);
      if (shape_.sw > 1) inputs[v] = gather_vector(at, geo_.src_column, lanes);
      else if (lanes == plan_.all_lanes()) inputs[v] = load_vector(at);
      else inputs[v] = load_vector_masked(at, lanes);
    }
    if (std::none_of(inputs.begin(), inputs.end(), [](llvm::Value* v) { return v; })) return;
    for (int o = 0; o < run.blocks; ++o) {
      llvm::Value* weight = broadcast(weights.plus(o * geo_.wei_block));
      for (int v = 0; v < columns; ++v)
        if (inputs[v]) accumulate(v, o, inputs[v], weight);
    }
    return;
  }

  bool any = false;
  for (int j = 0; j < columns && !any; ++j) any = in_bounds(j);
  if (!any) return;
  Values weight(run.blocks);
  for (int b = 0; b < run.blocks; ++b) weight[b] = load_vector(weights.plus(b * geo_.wei_block));
  for (int j = 0; j < columns; ++j) {
    if (!in_bounds(j)) continue;
    const Address input = at_column(j);
    if (plan_.strategy == Strategy::oc_vectors) {
      llvm::Value* x = broadcast(input);
      for (int b = 0; b < run.blocks; ++b) accumulate(j, b, weight[b], x);
    } else {  // depthwise
      for (int b = 0; b < run.blocks; ++b) {
        const Address in = input.plus(b * geo_.src_block);
        const bool tail = run.has_tail && b == run.blocks - 1;
        llvm::Value* x = tail ? load_vector_masked(in, first_lanes(plan_.oc_tail_lanes, plan_.lanes))
                              : load_vector(in);
        accumulate(j, b, weight[b], x);
      }
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

void LlvmEmitter::emit_tile_store(const TilePlace& place, const ChannelTileRun& run,
                                  const Values& acc) {
  const int columns = convjit::tile_columns(plan_, place.width);
  const std::int64_t origin = place.ow_first - place.ow_origin;
  if (plan_.strategy == Strategy::width_vectors) {
    for (int o = 0; o < run.blocks; ++o)
      for (int v = 0; v < columns; ++v)
        store_vector(emit_activation(acc[v * run.blocks + o]),
                     {place.dst, (origin + v * plan_.lanes) * geo_.dst_column + o * geo_.dst_block},
                     width_store_mask(plan_, place.width, v));
    return;
  }
  for (int j = 0; j < columns; ++j)
    for (int b = 0; b < run.blocks; ++b) {
      const bool tail = run.has_tail && b == run.blocks - 1;
      store_vector(emit_activation(acc[j * run.blocks + b]),
                   {place.dst, (origin + j) * geo_.dst_column + b * geo_.dst_block},
                   tail ? first_lanes(plan_.oc_tail_lanes, plan_.lanes) : plan_.all_lanes());
    }
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

void LlvmEmitter::store_vector(llvm::Value* value, const Address& a, std::uint32_t lanes) {
  if (lanes == plan_.all_lanes()) builder_.CreateAlignedStore(value, pointer(a), llvm::Align(4));
  else builder_.CreateMaskedStore(value, pointer(a), llvm::Align(4), mask(lanes));
}

// llvm.fmuladd rather than llvm.fma: one fused multiply-add wherever the target has one
// (FMA3 on x86-64, fmla on AArch64), a multiply and an add where it has none — llvm.fma
// would become eight calls to fmaf there.
llvm::Value* LlvmEmitter::fma(llvm::Value* a, llvm::Value* b, llvm::Value* acc) {
  return builder_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vector_}, {a, b, acc});
}

llvm::Constant* LlvmEmitter::mask(std::uint32_t lanes) {
  std::vector<llvm::Constant*> bits;
  for (int lane = 0; lane < plan_.lanes; ++lane) bits.push_back(builder_.getInt1((lanes >> lane) & 1u));
  return llvm::ConstantVector::get(bits);
}

LlvmEmitter::Values LlvmEmitter::emit_loop(
    llvm::Value* begin, llvm::Value* end, bool guard, Values carried,
    const std::function<Values(llvm::Value*, const Values&)>& body) {
  llvm::BasicBlock* preheader = builder_.GetInsertBlock();
  auto* header = llvm::BasicBlock::Create(context_, "loop", function_);
  auto* exit = llvm::BasicBlock::Create(context_, "loop.exit");
  if (guard) builder_.CreateCondBr(builder_.CreateICmpSLT(begin, end), header, exit);
  else builder_.CreateBr(header);

  builder_.SetInsertPoint(header);
  llvm::PHINode* iv = builder_.CreatePHI(i64_, 2, "iv");
  iv->addIncoming(begin, preheader);
  std::vector<llvm::PHINode*> phis;
  Values current;
  for (llvm::Value* v : carried) {
    llvm::PHINode* phi = builder_.CreatePHI(v->getType(), 2);
    phi->addIncoming(v, preheader);
    phis.push_back(phi);
    current.push_back(phi);
  }
  Values next = body(iv, current);

  llvm::BasicBlock* latch = builder_.GetInsertBlock();
  llvm::Value* iv_next = builder_.CreateAdd(iv, i64(1), "iv.next", true, true);
  llvm::BranchInst* back = builder_.CreateCondBr(builder_.CreateICmpSLT(iv_next, end), header, exit);
  // A loop ID is a distinct node that names itself, followed by the shared properties.
  std::vector<llvm::Metadata*> operands{nullptr};
  operands.insert(operands.end(), loop_properties_.begin(), loop_properties_.end());
  llvm::MDNode* id = llvm::MDNode::getDistinct(context_, operands);
  id->replaceOperandWith(0, id);
  back->setMetadata(llvm::LLVMContext::MD_loop, id);
  iv->addIncoming(iv_next, latch);
  for (std::size_t i = 0; i < phis.size(); ++i) phis[i]->addIncoming(next[i], latch);

  exit->insertInto(function_);
  builder_.SetInsertPoint(exit);
  if (!guard) return next;
  Values after;
  for (std::size_t i = 0; i < carried.size(); ++i) {
    llvm::PHINode* phi = builder_.CreatePHI(carried[i]->getType(), 2);
    phi->addIncoming(carried[i], preheader);
    phi->addIncoming(next[i], latch);
    after.push_back(phi);
  }
  return after;
}

LlvmEmitter::Values LlvmEmitter::emit_counted_loop(
    std::int64_t count, Values carried,
    const std::function<Values(llvm::Value*, const Values&)>& body) {
  if (count <= 0) return carried;
  if (count == 1) return body(i64(0), carried);
  return emit_loop(i64(0), i64(count), false, std::move(carried), body);
}

}  // namespace convjit
