#include "generator/llvm/llvm_winograd_emitter.hpp"

#include "generator/kernel_call_args.hpp"
#include "generator/tile_geometry.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Intrinsics.h>

#include <cstddef>

namespace convjit {

LlvmWinogradEmitter::LlvmWinogradEmitter(const KernelPlan& plan, const WinogradSchedule& schedule,
                                         llvm::Module& module)
    : LlvmBuilder(plan, module), w_(schedule) {}

llvm::Function* LlvmWinogradEmitter::emit(const std::string& name) {
  name_ = name;
  // The routines first, so the entry point can call them.
  std::vector<llvm::Function*> inputs, outputs;
  for (std::size_t i = 0; i < w_.input.transforms.size(); ++i)
    inputs.push_back(emit_input_routine(w_.input.transforms[i], name + ".in" + std::to_string(i)));
  for (std::size_t i = 0; i < w_.output.transforms.size(); ++i)
    outputs.push_back(emit_output_routine(w_.output.transforms[i], name + ".out" + std::to_string(i)));
  llvm::Function* gemm_full = emit_gemm(w_.full_block, name + ".gemm");
  llvm::Function* gemm_last = w_.last_block.tiles != w_.full_block.tiles
                                  ? emit_gemm(w_.last_block, name + ".gemm_last")
                                  : gemm_full;

  begin_entry(name);
  llvm::Value* src = call_arg(ptr_, offsetof(KernelCallArgs, src), "src");
  llvm::Value* weights = call_arg(ptr_, offsetof(KernelCallArgs, weights), "weights");
  llvm::Value* bias = call_arg(ptr_, offsetof(KernelCallArgs, bias), "bias");
  llvm::Value* dst = call_arg(ptr_, offsetof(KernelCallArgs, dst), "dst");
  llvm::Value* scratch = call_arg(ptr_, offsetof(KernelCallArgs, scratch), "scratch");
  llvm::Value* block_begin = call_arg(i64_, offsetof(KernelCallArgs, unit_begin), "block_begin");
  llvm::Value* block_end = call_arg(i64_, offsetof(KernelCallArgs, unit_end), "block_end");
  llvm::Value* delta = w_.epilogue.add_residual ? residual_delta(dst) : i64(0);
  llvm::Value* temp = at(scratch, w_.temp_begin);
  llvm::Value* v = at(scratch, w_.v_begin);
  llvm::Value* m = at(scratch, w_.m_begin);

  auto* blocks = llvm::BasicBlock::Create(context_, "blocks", function_);
  auto* done = llvm::BasicBlock::Create(context_, "done", function_);
  builder_.CreateCondBr(builder_.CreateICmpSLT(block_begin, block_end), blocks, done);
  builder_.SetInsertPoint(blocks);
  emit_loop(block_begin, block_end, false, {}, [&](llvm::Value* block, const Values&) {
    emit_tile_walk(block, w_.input, inputs, [&](llvm::Value* t, llvm::Value* ty, llvm::Value* tx) {
      llvm::Value* in = at(at(at(src, ty, w_.src_tile_row), tx, w_.src_tile_column), w_.src_origin);
      return Values{in, at(v, t, w_.v_tile), temp};
    });
    if (gemm_last == gemm_full) {
      builder_.CreateCall(gemm_full, {v, weights, m});
    } else {
      llvm::Value* last = builder_.CreateICmpEQ(block, i64(plan_.winograd.blocks - 1));
      auto* call_last = llvm::BasicBlock::Create(context_, "gemm_last", function_);
      auto* call_full = llvm::BasicBlock::Create(context_, "gemm_full", function_);
      auto* after = llvm::BasicBlock::Create(context_, "gemm_done", function_);
      builder_.CreateCondBr(last, call_last, call_full);
      builder_.SetInsertPoint(call_last);
      builder_.CreateCall(gemm_last, {v, weights, m});
      builder_.CreateBr(after);
      builder_.SetInsertPoint(call_full);
      builder_.CreateCall(gemm_full, {v, weights, m});
      builder_.CreateBr(after);
      builder_.SetInsertPoint(after);
    }
    emit_tile_walk(block, w_.output, outputs, [&](llvm::Value* t, llvm::Value* ty, llvm::Value* tx) {
      llvm::Value* out = at(at(dst, ty, w_.dst_tile_row), tx, w_.dst_tile_column);
      return Values{at(m, t, w_.m_tile), out, bias, temp, delta};
    });
    return Values{};
  });
  builder_.CreateBr(done);
  builder_.SetInsertPoint(done);
  builder_.CreateRetVoid();
  return function_;
}

// ------------------------------------------------------------------ the walk of a block

void LlvmWinogradEmitter::emit_tile_walk(
    llvm::Value* block, const TileClasses& classes, const std::vector<llvm::Function*>& routines,
    const std::function<Values(llvm::Value*, llvm::Value*, llvm::Value*)>& arguments) {
  const WinogradPlan& wp = plan_.winograd;
  // The block's first tile: (ty, tx) = divmod(block · block_tiles, tiles_w); then row-major.
  llvm::Value* first = builder_.CreateMul(block, i64(wp.block_tiles), "", true, true);
  llvm::Value* ty0 = builder_.CreateUDiv(first, i64(wp.tiles_w), "ty");
  llvm::Value* tx0 = builder_.CreateURem(first, i64(wp.tiles_w), "tx");
  llvm::Value* count = i64(wp.block_tiles);
  if (wp.last_block_tiles() != wp.block_tiles)
    count = builder_.CreateSelect(builder_.CreateICmpEQ(block, i64(wp.blocks - 1)),
                                  i64(wp.last_block_tiles()), count, "tiles");
  // A class table with one class is no lookup at all.
  auto class_of = [&](const std::vector<std::uint8_t>& per, int distinct, llvm::Value* index,
                      const char* what) -> llvm::Value* {
    if (distinct <= 1) return i64(0);
    llvm::Value* p = builder_.CreateGEP(i8_, table(per, name_ + "." + what), index);
    return builder_.CreateZExt(builder_.CreateLoad(i8_, p), i64_);
  };
  const bool input_phase = &classes == &w_.input;
  emit_loop(i64(0), count, false, {ty0, tx0}, [&](llvm::Value* t, const Values& cur) {
    llvm::Value* ty = cur[0];
    llvm::Value* tx = cur[1];
    const Values args = arguments(t, ty, tx);
    llvm::Value* row = class_of(classes.row_class, classes.row_classes, ty,
                                input_phase ? "in_rows" : "out_rows");
    llvm::Value* column = class_of(classes.column_class, classes.column_classes, tx,
                                   input_phase ? "in_columns" : "out_columns");
    llvm::Value* index = builder_.CreateAdd(builder_.CreateMul(row, i64(classes.column_classes)), column);
    if (routines.size() == 1) {
      builder_.CreateCall(routines[0], args);
    } else {
      // Class k calls routine k; the last class is the switch's default.
      auto* after = llvm::BasicBlock::Create(context_, "class_done", function_);
      std::vector<llvm::BasicBlock*> cases;
      for (std::size_t k = 0; k < routines.size(); ++k) {
        cases.push_back(llvm::BasicBlock::Create(context_, "class", function_));
      }
      llvm::SwitchInst* sw = builder_.CreateSwitch(index, cases.back(),
                                                   static_cast<unsigned>(routines.size() - 1));
      for (std::size_t k = 0; k + 1 < routines.size(); ++k)
        sw->addCase(builder_.getInt64(static_cast<std::uint64_t>(k)), cases[k]);
      for (std::size_t k = 0; k < routines.size(); ++k) {
        builder_.SetInsertPoint(cases[k]);
        builder_.CreateCall(routines[k], args);
        builder_.CreateBr(after);
      }
      builder_.SetInsertPoint(after);
    }
    llvm::Value* tx_next = builder_.CreateAdd(tx, i64(1));
    llvm::Value* wrap = builder_.CreateICmpEQ(tx_next, i64(wp.tiles_w));
    return Values{builder_.CreateAdd(ty, builder_.CreateZExt(wrap, i64_)),
                  builder_.CreateSelect(wrap, i64(0), tx_next)};
  });
}

// ------------------------------------------------------------------ transforms

llvm::Function* LlvmWinogradEmitter::emit_input_routine(const TileTransform& x,
                                                        const std::string& name) {
  // (the tile's input, its V, the passes' temporary)
  llvm::Function* f = make_function(name, {ptr_, ptr_, ptr_}, FunctionKind::internal);
  enter(f);
  llvm::Value* in = f->getArg(0);
  llvm::Value* out = f->getArg(1);
  llvm::Value* temp = f->getArg(2);
  emit_counted_loop(w_.ic_full_blocks, {}, [&](llvm::Value* c, const Values&) {
    emit_input_channel_vector(x, at(in, c, w_.channel_vector), at(out, c, w_.channel_vector), temp,
                              all_lanes_);
    return Values{};
  });
  if (w_.ic_tail_lanes) {
    const std::int64_t bytes = w_.ic_full_blocks * w_.channel_vector;
    emit_input_channel_vector(x, at(in, bytes), at(out, bytes), temp,
                              first_lanes(w_.ic_tail_lanes, plan_.lanes));
  }
  builder_.CreateRetVoid();
  return f;
}

void LlvmWinogradEmitter::emit_input_channel_vector(const TileTransform& x, llvm::Value* in,
                                                    llvm::Value* out, llvm::Value* temp,
                                                    std::uint32_t lanes) {
  const int a = w_.alpha;
  // Pass 1: t[·][j] = Bᵀ d[·][j] for the columns in the image, from the rows in the image.
  // A tail's masked loads leave its other lanes zero, so V is whole vectors either way.
  std::vector<bool> row_read(a, false);
  for (const LinearCombination& c : x.first)
    for (const LinearTerm& t : c) row_read[t.input] = true;
  Values inputs(a, nullptr);
  for (int j : x.columns) {
    for (int r = 0; r < a; ++r)
      if (row_read[r]) inputs[r] = load_lanes(at(in, r * w_.src_row + j * w_.src_column), lanes);
    for (int i = 0; i < a; ++i) {
      if (x.first[i].empty()) continue;
      store_vector(combination(x.first[i], inputs), at(temp, (i * a + j) * w_.channel_vector));
    }
  }
  // Pass 2: V[i][·] = Bᵀ t[i][·]ᵀ; rows of t that are zero give zero rows of V.
  for (int i : x.rows) {
    const bool zero_row = x.first[i].empty() || x.columns.empty();
    Values row(a, nullptr);
    if (!zero_row)
      for (int j : x.columns) row[j] = load_vector(at(temp, (i * a + j) * w_.channel_vector));
    for (int k = 0; k < a; ++k) {
      llvm::Value* value = zero_row || x.second[k].empty() ? zero() : combination(x.second[k], row);
      store_vector(value, at(out, (i * a + k) * w_.v_element));
    }
  }
}

llvm::Function* LlvmWinogradEmitter::emit_output_routine(const TileTransform& x,
                                                         const std::string& name) {
  // (the tile's M, its first output pixel, the bias, the passes' temporary, residual − dst)
  llvm::Function* f = make_function(name, {ptr_, ptr_, ptr_, ptr_, i64_}, FunctionKind::internal);
  enter(f);
  llvm::Value* in = f->getArg(0);
  llvm::Value* out = f->getArg(1);
  llvm::Value* bias = f->getArg(2);
  llvm::Value* temp = f->getArg(3);
  llvm::Value* residual_delta = w_.epilogue.add_residual ? f->getArg(4) : nullptr;
  const std::int64_t cv = w_.channel_vector;
  emit_counted_loop(w_.oc_full_blocks, {}, [&](llvm::Value* c, const Values&) {
    emit_output_channel_vector(x, at(in, c, cv), at(out, c, cv), at(bias, c, cv), temp,
                               residual_delta, all_lanes_);
    return Values{};
  });
  if (w_.oc_tail_lanes) {
    const std::int64_t bytes = w_.oc_full_blocks * cv;
    emit_output_channel_vector(x, at(in, bytes), at(out, bytes), at(bias, bytes), temp,
                               residual_delta, first_lanes(w_.oc_tail_lanes, plan_.lanes));
  }
  builder_.CreateRetVoid();
  return f;
}

void LlvmWinogradEmitter::emit_output_channel_vector(const TileTransform& x, llvm::Value* in,
                                                     llvm::Value* out, llvm::Value* bias,
                                                     llvm::Value* temp,
                                                     llvm::Value* residual_delta,
                                                     std::uint32_t lanes) {
  const int a = w_.alpha;
  const TileEpilogue& e = w_.epilogue;
  llvm::Value* b = e.add_bias ? load_vector(bias) : nullptr;  // padded to whole vectors
  // Pass 1: s[i][j] = Aᵀ M[·][j] for the output rows stored.
  Values inputs(a, nullptr);
  for (int j : x.columns) {
    for (int r = 0; r < a; ++r) inputs[r] = load_vector(at(in, (r * a + j) * w_.m_element));
    for (std::size_t i = 0; i < x.first.size(); ++i)
      store_vector(combination(x.first[i], inputs),
            at(temp, (static_cast<std::int64_t>(i) * a + j) * w_.channel_vector));
  }
  // Pass 2: y[i][k] = Aᵀ s[i][·]ᵀ, through the epilogue (bias, residual, activation, store),
  // for the columns stored.
  for (int i : x.rows) {
    Values row(a, nullptr);
    for (int j : x.columns) row[j] = load_vector(at(temp, (i * a + j) * w_.channel_vector));
    for (std::size_t k = 0; k < x.second.size(); ++k) {
      emit_tile_epilogue(e, combination(x.second[k], row), b, residual_delta, out,
                         i * w_.dst_row + static_cast<std::int64_t>(k) * w_.dst_column,
                         lanes == all_lanes_ ? VectorStore{} : w_.oc_tail_store);
    }
  }
}

// out = sum of coeff × inputs[index], in the terms' order (as the Xbyak kernel rounds).
llvm::Value* LlvmWinogradEmitter::combination(const LinearCombination& terms, const Values& inputs) {
  if (terms.empty()) return zero();
  llvm::Value* sum = nullptr;
  for (const LinearTerm& t : terms) {
    llvm::Value* x = inputs[t.input];
    if (!sum) {
      if (t.coeff == 1.0f) sum = x;
      else if (t.coeff == -1.0f) sum = builder_.CreateFNeg(x);
      else sum = builder_.CreateFMul(x, splat(t.coeff));
    } else if (t.coeff == 1.0f) {
      sum = builder_.CreateFAdd(sum, x);
    } else if (t.coeff == -1.0f) {
      sum = builder_.CreateFSub(sum, x);
    } else {
      sum = multiply_add(x, splat(t.coeff), sum);
    }
  }
  return sum;
}

// ------------------------------------------------------------------ products

llvm::Function* LlvmWinogradEmitter::emit_gemm(const GemmPass& pass, const std::string& name) {
  // (V, U, M) of the block, each at its first transformed element
  llvm::Function* f = make_function(name, {ptr_, ptr_, ptr_}, FunctionKind::internal);
  enter(f);
  const WinogradPlan& wp = plan_.winograd;
  emit_counted_loop(w_.alpha * w_.alpha, {}, [&](llvm::Value* e, const Values&) {
    llvm::Value* v = at(f->getArg(0), e, w_.v_element);
    llvm::Value* u = at(f->getArg(1), e, w_.u_element);
    llvm::Value* m = at(f->getArg(2), e, w_.m_element);
    // Over the block's tiles in register tiles of gemm_tiles, then the partial one.
    auto tile_groups = [&](int blocks, llvm::Value* group_u, llvm::Value* group_m) {
      emit_counted_loop(pass.full_tile_groups, {}, [&](llvm::Value* t, const Values&) {
        emit_gemm_group(wp.gemm_tiles, blocks, at(v, t, wp.gemm_tiles * w_.v_tile), group_u,
                        at(group_m, t, wp.gemm_tiles * w_.m_tile));
        return Values{};
      });
      if (pass.tail_tiles) {
        const std::int64_t done = pass.full_tile_groups * wp.gemm_tiles;
        emit_gemm_group(pass.tail_tiles, blocks, at(v, done * w_.v_tile), group_u,
                        at(group_m, done * w_.m_tile));
      }
    };
    emit_counted_loop(pass.full_block_groups, {}, [&](llvm::Value* g, const Values&) {
      tile_groups(wp.gemm_blocks, at(u, g, wp.gemm_blocks * w_.u_block),
                  at(m, g, wp.gemm_blocks * w_.channel_vector));
      return Values{};
    });
    if (pass.tail_blocks) {
      const std::int64_t done = pass.full_block_groups * wp.gemm_blocks;
      tile_groups(pass.tail_blocks, at(u, done * w_.u_block), at(m, done * w_.channel_vector));
    }
    return Values{};
  });
  builder_.CreateRetVoid();
  return f;
}

void LlvmWinogradEmitter::emit_gemm_group(int tiles, int blocks, llvm::Value* v, llvm::Value* u,
                                          llvm::Value* m) {
  const std::size_t n = static_cast<std::size_t>(tiles * blocks);
  Values acc(n, zero());
  // One input channel: `blocks` weight vectors, each tile's V value broadcast against them.
  auto step = [&](llvm::Value* step_v, llvm::Value* step_u, int k, Values& sums) {
    Values weights(blocks);
    for (int b = 0; b < blocks; ++b)
      weights[b] = load_vector(at(step_u, b * w_.u_block + k * w_.channel_vector));
    for (int t = 0; t < tiles; ++t) {
      llvm::Value* x = broadcast(at(step_v, t * w_.v_tile + k * 4));
      for (int b = 0; b < blocks; ++b) {
        llvm::Value*& sum = sums[t * blocks + b];
        sum = multiply_add(weights[b], x, sum);
      }
    }
  };
  const int unroll = w_.reduction_unroll;
  const std::int64_t loops = w_.reduction / unroll;
  const int rest = static_cast<int>(w_.reduction % unroll);
  // The accumulators, then the V and U pointers, carried through the channel loop.
  Values state = acc;
  state.push_back(v);
  state.push_back(u);
  state = emit_counted_loop(loops, std::move(state), [&](llvm::Value*, const Values& cur) {
    Values next(cur.begin(), cur.begin() + static_cast<std::ptrdiff_t>(n));
    for (int k = 0; k < unroll; ++k) step(cur[n], cur[n + 1], k, next);
    next.push_back(at(cur[n], unroll * 4));
    next.push_back(at(cur[n + 1], unroll * w_.channel_vector));
    return next;
  });
  llvm::Value* rest_v = state[n];
  llvm::Value* rest_u = state[n + 1];
  state.resize(n);
  for (int k = 0; k < rest; ++k) step(rest_v, rest_u, k, state);
  for (int t = 0; t < tiles; ++t)
    for (int b = 0; b < blocks; ++b)
      store_vector(state[t * blocks + b], at(m, t * w_.m_tile + b * w_.channel_vector));
}

// ------------------------------------------------------------------ IR helpers

llvm::Value* LlvmWinogradEmitter::table(const std::vector<std::uint8_t>& bytes,
                                        const std::string& name) {
  if (llvm::GlobalVariable* existing = module_.getNamedGlobal(name)) return existing;
  llvm::Constant* data = llvm::ConstantDataArray::get(context_, llvm::ArrayRef<std::uint8_t>(bytes));
  return new llvm::GlobalVariable(module_, data->getType(), true, llvm::GlobalValue::PrivateLinkage,
                                  data, name);
}

}  // namespace convjit
