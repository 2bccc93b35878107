#include "generator/vector_store.hpp"

#include <convjit/error.hpp>

#include <bit>
#include <string>

namespace convjit {

VectorStore make_vector_store(Isa isa, int vector_lanes, std::uint32_t lanes) {
  const std::uint32_t all = vector_lanes >= 32 ? ~0u : (1u << vector_lanes) - 1u;
  const int count = std::popcount(lanes);
  if (lanes == 0 || (lanes & ~all) != 0 || lanes != (count >= 32 ? ~0u : (1u << count) - 1u))
    throw Error("plan", "a partial vector store needs a non-empty prefix of lanes, got mask " +
                            std::to_string(lanes));
  VectorStore store;
  store.lanes = lanes;
  if (lanes == all) return store;
  // The narrow stores exist for 8-lane ymm tails; wider vectors come with opmasks.
  if (isa != Isa::avx2 || vector_lanes != 8) {
    store.kind = StoreKind::masked;
    return store;
  }
  store.kind = StoreKind::pieces;
  // Largest first: 7 = 4 + 2 + 1, so at most three stores, each aligned to its own size.
  int first = 0;
  for (int size : {4, 2, 1})
    if (count - first >= size) {
      store.pieces.push_back({first, size});
      first += size;
    }
  return store;
}

}  // namespace convjit
