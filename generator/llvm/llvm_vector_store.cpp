#include "generator/llvm/llvm_vector_store.hpp"

#include <vector>

namespace convjit {
llvm::Constant* llvm_lane_mask(llvm::IRBuilder<>& builder, std::uint32_t lanes, int vector_lanes) {
  std::vector<llvm::Constant*> bits;
  for (int lane = 0; lane < vector_lanes; ++lane) bits.push_back(builder.getInt1((lanes >> lane) & 1u));
  return llvm::ConstantVector::get(bits);
}

void emit_vector_store(llvm::IRBuilder<>& builder, llvm::Value* value, llvm::Value* pointer,
                       const VectorStore& store, int vector_lanes) {
  switch (store.kind) {
    case StoreKind::whole:
      builder.CreateAlignedStore(value, pointer, llvm::Align(4));
      break;
    case StoreKind::masked:
      builder.CreateMaskedStore(value, pointer, llvm::Align(4), llvm_lane_mask(builder, store.lanes, vector_lanes));
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
          builder.CreateMaskedStore(value, pointer, llvm::Align(4),
                                    llvm_lane_mask(builder, 1u << piece.first_lane, vector_lanes));
          continue;
        }
        std::vector<int> lanes(static_cast<std::size_t>(piece.lanes));
        for (int i = 0; i < piece.lanes; ++i) lanes[static_cast<std::size_t>(i)] = piece.first_lane + i;
        llvm::Value* at = builder.CreateConstGEP1_64(builder.getInt8Ty(), pointer,
                                                     static_cast<std::uint64_t>(piece.first_lane) * 4);
        builder.CreateAlignedStore(builder.CreateShuffleVector(value, lanes), at, llvm::Align(4));
      }
      break;
  }
}

}  // namespace convjit
