#include "generator/llvm/llvm_builder.hpp"

#include "generator/packed_layout.hpp"

#include "generator/kernel_call_args.hpp"

#include <llvm/IR/Constants.h>
#include <llvm/IR/Intrinsics.h>

namespace convjit {

LlvmBuilder::LlvmBuilder(const KernelPlan& plan, llvm::Module& module)
    : plan_(plan), module_(module), context_(module.getContext()), builder_(module.getContext()) {
  float_ = builder_.getFloatTy();
  vector_ = llvm::FixedVectorType::get(float_, plan.lanes);
  int_vector_ = llvm::FixedVectorType::get(builder_.getInt32Ty(), plan.lanes);
  i64_ = builder_.getInt64Ty();
  i8_ = builder_.getInt8Ty();
  ptr_ = llvm::PointerType::get(context_, 0);
  all_lanes_ = plan.all_lanes();
  // The plan decided what is unrolled; LLVM's unroller and loop vectoriser keep out.
  loop_properties_ = {
      llvm::MDNode::get(context_, llvm::MDString::get(context_, "llvm.loop.unroll.disable")),
      llvm::MDNode::get(context_, {llvm::MDString::get(context_, "llvm.loop.vectorize.enable"),
                                   llvm::ConstantAsMetadata::get(builder_.getFalse())})};
}

// ------------------------------------------------------------------ functions

llvm::Function* LlvmBuilder::make_function(const std::string& name,
                                           const std::vector<llvm::Type*>& params,
                                           FunctionKind kind) {
  auto* type = llvm::FunctionType::get(builder_.getVoidTy(), params, false);
  auto* f = llvm::Function::Create(type,
                                   kind == FunctionKind::entry ? llvm::Function::ExternalLinkage
                                                               : llvm::Function::InternalLinkage,
                                   name, module_);
  if (kind == FunctionKind::internal_not_inlined) f->addFnAttr(llvm::Attribute::NoInline);
  for (llvm::Attribute::AttrKind attr : {llvm::Attribute::NoUnwind, llvm::Attribute::NoFree,
                                         llvm::Attribute::NoSync, llvm::Attribute::WillReturn})
    f->addFnAttr(attr);
  if (plan_.isa != Isa::neon) {
    const std::string vector_bits = std::to_string(plan_.lanes * 32);
    f->addFnAttr("min-legal-vector-width", vector_bits);
    f->addFnAttr("prefer-vector-width", vector_bits);
  }
  return f;
}

void LlvmBuilder::enter(llvm::Function* f) {
  function_ = f;
  builder_.SetInsertPoint(llvm::BasicBlock::Create(context_, "entry", f));
}

llvm::Function* LlvmBuilder::begin_entry(const std::string& name) {
  llvm::Function* f = make_function(name, {ptr_}, FunctionKind::entry);
  call_args_ = f->getArg(0);
  call_args_->setName("args");
  call_args_->addAttr(llvm::Attribute::NoCapture);
  call_args_->addAttr(llvm::Attribute::ReadOnly);
  call_args_->addAttr(llvm::Attribute::getWithDereferenceableBytes(context_, sizeof(KernelCallArgs)));
  call_args_->addAttr(llvm::Attribute::getWithAlignment(context_, llvm::Align(alignof(KernelCallArgs))));
  enter(f);
  return f;
}

llvm::Value* LlvmBuilder::call_arg(llvm::Type* type, std::size_t offset, const char* name) {
  llvm::Value* field = builder_.CreateConstInBoundsGEP1_64(i8_, call_args_, offset);
  return builder_.CreateAlignedLoad(type, field, llvm::Align(8), name);
}

llvm::Value* LlvmBuilder::residual_delta(llvm::Value* dst) {
  llvm::Value* residual = call_arg(ptr_, offsetof(KernelCallArgs, residual), "residual");
  return builder_.CreateSub(builder_.CreatePtrToInt(residual, i64_),
                            builder_.CreatePtrToInt(dst, i64_), "residual_delta");
}

// ------------------------------------------------------------------ constants and pointers

llvm::Value* LlvmBuilder::i64(std::int64_t value) { return builder_.getInt64(value); }

llvm::Constant* LlvmBuilder::splat(float value) {
  return llvm::ConstantFP::get(vector_, static_cast<double>(value));
}

llvm::Constant* LlvmBuilder::zero() { return llvm::ConstantAggregateZero::get(vector_); }

llvm::Constant* LlvmBuilder::mask(std::uint32_t lanes) {
  std::vector<llvm::Constant*> bits;
  for (int lane = 0; lane < plan_.lanes; ++lane) bits.push_back(builder_.getInt1((lanes >> lane) & 1u));
  return llvm::ConstantVector::get(bits);
}

llvm::Value* LlvmBuilder::at(llvm::Value* base, std::int64_t bytes) {
  return bytes == 0 ? base : builder_.CreateConstGEP1_64(i8_, base, bytes);
}

llvm::Value* LlvmBuilder::at(llvm::Value* base, llvm::Value* index, std::int64_t stride,
                             std::int64_t bytes) {
  llvm::Value* offset = i64(bytes);
  if (index && stride != 0) {
    offset = builder_.CreateMul(index, i64(stride), "", false, true);
    if (bytes) offset = builder_.CreateAdd(offset, i64(bytes), "", false, true);
  }
  if (auto* constant = llvm::dyn_cast<llvm::ConstantInt>(offset); constant && constant->isZero())
    return base;
  return builder_.CreateGEP(i8_, base, offset);
}

// ------------------------------------------------------------------ vectors

llvm::Value* LlvmBuilder::load_vector(llvm::Value* pointer) {
  return builder_.CreateAlignedLoad(vector_, pointer, llvm::Align(4));
}

llvm::Value* LlvmBuilder::load_int_vector(llvm::Value* pointer) {
  return builder_.CreateAlignedLoad(int_vector_, pointer, llvm::Align(4));
}

llvm::Value* LlvmBuilder::load_vector_masked(llvm::Value* pointer, std::uint32_t lanes) {
  return builder_.CreateMaskedLoad(vector_, pointer, llvm::Align(4), mask(lanes), zero());
}

llvm::Value* LlvmBuilder::load_lanes(llvm::Value* pointer, std::uint32_t lanes) {
  return lanes == all_lanes_ ? load_vector(pointer) : load_vector_masked(pointer, lanes);
}

llvm::Value* LlvmBuilder::broadcast(llvm::Value* pointer) {
  llvm::Value* scalar = builder_.CreateAlignedLoad(float_, pointer, llvm::Align(4));
  return builder_.CreateVectorSplat(plan_.lanes, scalar);
}

void LlvmBuilder::store_vector(llvm::Value* value, llvm::Value* pointer) {
  builder_.CreateAlignedStore(value, pointer, llvm::Align(4));
}

void LlvmBuilder::store_vector(llvm::Value* value, llvm::Value* pointer, const VectorStore& store) {
  // Lanes of floats and int32, or of bytes (8-bit outputs).
  const std::int64_t element = value->getType()->getScalarSizeInBits() / 8;
  const llvm::Align align(static_cast<std::uint64_t>(element));
  switch (store.kind) {
    case StoreKind::whole: builder_.CreateAlignedStore(value, pointer, align); break;
    case StoreKind::masked:
      builder_.CreateMaskedStore(value, pointer, align, mask(store.lanes));
      break;
    case StoreKind::pieces:
      // Plain stores of the pieces' lanes (x86: vmovups xmm, vmovlps, vmovss, vextractps);
      // a masked store of several lanes would become vmaskmovps on AVX2.
      for (const StorePiece& piece : store.pieces) {
        if (piece.lanes == 1) {
          // One lane: a one-lane masked store, which x86 lowers to a scalar store (vmovss,
          // vextractps), never vmaskmovps. Unlike extractelement + store it also tells the
          // code generator that only that lane is needed: a kernel whose every store is one
          // lane (seed_28_s3_p1) then computes in scalar FMAs, 1.3x faster than in vectors.
          builder_.CreateMaskedStore(value, pointer, align, mask(1u << piece.first_lane));
          continue;
        }
        std::vector<int> lanes(static_cast<std::size_t>(piece.lanes));
        for (int i = 0; i < piece.lanes; ++i) lanes[static_cast<std::size_t>(i)] = piece.first_lane + i;
        builder_.CreateAlignedStore(builder_.CreateShuffleVector(value, lanes),
                                    at(pointer, static_cast<std::int64_t>(piece.first_lane) * element),
                                    align);
      }
      break;
  }
}

// llvm.fmuladd rather than llvm.fma: one fused multiply-add wherever the target has one
// (FMA3 on x86-64, fmla on AArch64), a multiply and an add where it has none — llvm.fma
// would become eight calls to fmaf there.
llvm::Value* LlvmBuilder::multiply_add(llvm::Value* a, llvm::Value* b, llvm::Value* acc) {
  return builder_.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vector_}, {a, b, acc});
}

// ------------------------------------------------------------------ the epilogue

void LlvmBuilder::emit_tile_epilogue(const TileEpilogue& e, llvm::Value* value, llvm::Value* bias,
                                     llvm::Value* residual_delta, llvm::Value* base,
                                     std::int64_t bytes, const VectorStore& store,
                                     llvm::Value* parameters) {
  llvm::Value* pointer = nullptr;  // base + bytes, made at its first use
  auto address = [&] { return pointer ? pointer : pointer = at(base, bytes); };
  if (e.add_bias) value = builder_.CreateFAdd(value, bias);
  if (e.add_residual) {
    llvm::Value* residual = builder_.CreateGEP(i8_, address(), residual_delta);
    value = builder_.CreateFAdd(value, store.partial() ? load_vector_masked(residual, store.lanes)
                                                       : load_vector(residual));
  }
  Values v(static_cast<std::size_t>(1 + e.temporaries), nullptr);
  v[0] = value;
  for (const VectorOp& op : e.activation) v[static_cast<std::size_t>(op.dst)] = activation_op(op, v);
  store_vector(convert(e, v[0], parameters), address(), store);
}

llvm::Value* LlvmBuilder::convert(const TileEpilogue& e, llvm::Value* sums, llvm::Value* parameters) {
  if (e.conversion == Conversion::none || e.conversion == Conversion::integer) return sums;
  auto part = [&](QuantizedPart p) { return at(parameters, p * e.channel_part); };
  auto floats = [&](QuantizedPart p) { return load_vector(part(p)); };
  llvm::Value* y = builder_.CreateIntrinsic(
      llvm::Intrinsic::fma, {vector_},
      {builder_.CreateSIToFP(sums, vector_), floats(multiplier_part), floats(offset_part)});
  if (e.conversion == Conversion::dequantize) return y;
  y = builder_.CreateMaxNum(y, floats(lowest_part));
  y = builder_.CreateMinNum(y, floats(highest_part));
  llvm::Value* rounded = builder_.CreateIntrinsic(llvm::Intrinsic::roundeven, {vector_}, {y});
  llvm::Value* q = builder_.CreateAdd(builder_.CreateFPToSI(rounded, int_vector_),
                                      load_int_vector(part(zero_point_part)));
  // In the type's range already: the truncation is exact.
  return builder_.CreateTrunc(q, llvm::FixedVectorType::get(i8_, plan_.lanes));
}

// One VectorOp, as evaluate_vector_ops (tile_epilogue.cpp) specifies it.
llvm::Value* LlvmBuilder::activation_op(const VectorOp& op, const Values& v) {
  llvm::Value* a = v[static_cast<std::size_t>(op.a)];
  llvm::Value* b = v[static_cast<std::size_t>(op.b)];
  // nnan on max and min: a plain max/min instruction, as the Xbyak kernels use (no NaN
  // fix-up sequence).
  auto no_nans = [&](auto make) {
    llvm::IRBuilderBase::FastMathFlagGuard guard(builder_);
    llvm::FastMathFlags flags;
    flags.setNoNaNs();
    builder_.setFastMathFlags(flags);
    return make();
  };
  // Fused, as specified: llvm.fma, not llvm.fmuladd (every plan's target has an FMA).
  auto fused = [&](llvm::Value* x, llvm::Value* y, llvm::Value* z) -> llvm::Value* {
    return builder_.CreateIntrinsic(llvm::Intrinsic::fma, {vector_}, {x, y, z});
  };
  using K = VectorOpKind;
  switch (op.kind) {
    case K::add_constant: return builder_.CreateFAdd(a, splat(op.constant));
    case K::mul_constant: return builder_.CreateFMul(a, splat(op.constant));
    case K::max_constant: return no_nans([&] { return builder_.CreateMaxNum(a, splat(op.constant)); });
    case K::min_constant: return no_nans([&] { return builder_.CreateMinNum(a, splat(op.constant)); });
    case K::mul: return builder_.CreateFMul(a, b);
    case K::max: return no_nans([&] { return builder_.CreateMaxNum(a, b); });
    case K::min: return no_nans([&] { return builder_.CreateMinNum(a, b); });
    case K::div: return builder_.CreateFDiv(a, b);
    case K::constant_div: return builder_.CreateFDiv(splat(op.constant), a);
    case K::fma_constant: return fused(a, b, splat(op.constant));
    case K::fnma_constant: return fused(builder_.CreateFNeg(b), splat(op.constant), a);
    case K::round_even:
      return builder_.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, a);
    case K::exp2_integer: {
      // ((int)(a + 127)) << 23, reinterpreted as a float: 2^a from its exponent bits.
      auto* integers = llvm::FixedVectorType::get(builder_.getInt32Ty(), plan_.lanes);
      llvm::Value* biased = builder_.CreateFPToSI(builder_.CreateFAdd(a, splat(127.0f)), integers);
      return builder_.CreateBitCast(builder_.CreateShl(biased, 23), vector_);
    }
  }
  return a;
}

// ------------------------------------------------------------------ loops

LlvmBuilder::Values LlvmBuilder::emit_loop(llvm::Value* begin, llvm::Value* end, bool guard,
                                           Values carried, const LoopBody& body) {
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

LlvmBuilder::Values LlvmBuilder::emit_counted_loop(std::int64_t count, Values carried,
                                                   const LoopBody& body) {
  if (count <= 0) return carried;
  if (count == 1) return body(i64(0), carried);
  return emit_loop(i64(0), i64(count), false, std::move(carried), body);
}

}  // namespace convjit
