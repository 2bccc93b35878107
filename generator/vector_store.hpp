#pragma once
// VectorStore: how one vector of results reaches memory when only its first lanes are
// outputs (a channel tail, the last columns of a width-vector row). The schedule decides it
// per partial vector; the emitters translate it and decide nothing.
//
// Why not always a masked store: on AMD Zen an AVX2 `vmaskmovps` store is microcoded; on a
// Zen 4 EPYC it costs 7-10 ns whatever its lanes, against 0.3-0.6 ns for the pieces below
// (build/convjit_tail_access_bench). A kernel with one tail per output pixel
// (seed_28_s3_p1: 100 one-float tails) took 0.67 us with them and takes 0.22 us without, as
// fast as its AVX-512 opmask kernel on the same core. The tail's length is known when the
// code is generated, so an AVX2 tail is written with plain stores of 4, 2 and 1 floats that
// together cover exactly its lanes. AVX-512 keeps its opmask store, which is one fast instruction. NEON keeps
// llvm.masked.store, which LLVM already turns into per-lane stores for a constant mask.
// Masked loads stay as they are: a vmaskmovps load costs what a full load does there, and the
// exact narrow loads twice that.
//
// A tail is never widened into a full store, even where the buffer has room after it:
// the lanes past the tail belong to the next pixel or the next row, which another thread
// may be computing, or which a residual read in place has not consumed yet.
#include <convjit/backend.hpp>

#include <cstdint>
#include <vector>

namespace convjit {

enum class StoreKind : std::uint8_t {
  whole,   // every lane of the vector: one full-width store
  masked,  // only `lanes`: an opmask store (avx512) or llvm.masked.store (neon)
  pieces,  // only `lanes`: the plain narrow stores listed in `pieces` (avx2)
};

// `lanes` consecutive floats from lane `first_lane` of the vector, written to the vector's
// address plus first_lane floats. `lanes` is 4, 2 or 1, and first_lane a multiple of it, so
// a piece never straddles the two 128-bit halves of a ymm register.
struct StorePiece {
  int first_lane = 0;
  int lanes = 0;
  bool operator==(const StorePiece&) const = default;
};

struct VectorStore {
  StoreKind kind = StoreKind::whole;
  std::uint32_t lanes = 0;          // bit i: lane i is an output (a prefix of the vector)
  std::vector<StorePiece> pieces;   // StoreKind::pieces: in order, together exactly `lanes`
  bool partial() const { return kind != StoreKind::whole; }
  bool operator==(const VectorStore&) const = default;
};

// The store of a vector of `vector_lanes` lanes of which `lanes` (a non-empty prefix) are
// outputs, for the instruction set's tails. Throws convjit::Error for a lane set that is not
// a prefix (no plan makes one).
VectorStore make_vector_store(Isa isa, int vector_lanes, std::uint32_t lanes);

}  // namespace convjit
