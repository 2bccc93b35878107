#pragma once
// The AVX2 translation of a StoreKind::pieces store, shared by the direct and the Winograd
// Xbyak emitters: each piece of the schedule's VectorStore becomes one plain store of 4, 2 or
// 1 floats, so a tail writes exactly its lanes without vmaskmovps (slow on AMD Zen).
#include "generator/vector_store.hpp"

#include <xbyak/xbyak.h>

#include <cstdint>
#include <vector>

namespace convjit {

// Writes the pieces of ymm `value` to [base + disp]. Pieces in the upper 128-bit half are
// stored from `high_half`, a free register that receives that half once (vextractf128);
// `value` itself is left unchanged.
void emit_store_pieces(Xbyak::CodeGenerator& code, const std::vector<StorePiece>& pieces,
                       const Xbyak::Reg64& base, std::int64_t disp, const Xbyak::Xmm& value,
                       const Xbyak::Xmm& high_half);

}  // namespace convjit
