#pragma once
// TuningCache: tuning winners kept on disk (CONVJIT_CACHE_DIR), so a later process builds the
// winner straight away instead of timing the candidates again.
//
// An entry is one file, `<dir>/tune-<16 hex digits>.cjt`, the digits a 64-bit FNV-1a of the
// key text, in the CacheFile format (core/cache_file.hpp, magic "CJITTUN\0") the LLVM object
// cache uses too, with its rules: the key is stored whole and compared, checksums, owner-only
// files, atomic renames; a damaged, foreign or untrusted entry is ignored and the fresh
// tuning overwrites it. The key names the CPU (vendor, family, model, stepping, features),
// the library version, the backend, the instruction sets and default algorithm tuning chose
// among, and the shape. The payload is the winner's kernel name and nothing else: it selects
// one of the candidates the planner makes for that shape, so an entry can never make the
// library build a kernel its planner would not have offered.
#include <convjit/backend.hpp>
#include <convjit/shape.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace convjit {

// Process-wide counters (tests and CONVJIT_VERBOSE use them).
struct TuningCacheStats {
  std::uint64_t hits = 0, misses = 0, rejected = 0, stores = 0, store_failures = 0;
};

class TuningCache {
 public:
  // 2: depthwise kernels of an unchanged name now hold kernel columns; winners timed before
  // named other code.
  static constexpr std::uint32_t kFormatVersion = 2;

  // The cache CONVJIT_CACHE_DIR names (read on every call), or none when it is unset or empty.
  static std::optional<TuningCache> from_environment();
  explicit TuningCache(std::string directory);

  // The key text for a shape's winner (n is not part of it: kernels serve every batch) for a
  // team of `threads` (plans and timings depend on it).
  static std::string key(const ConvShape& shape, Backend backend, std::span<const Isa> isas,
                         Algorithm jit_algo, int threads = 1);

  const std::string& directory() const noexcept { return directory_; }
  std::string path(std::string_view key) const;

  // The winner's kernel name stored under `key`, or nothing (no entry, or an unusable one).
  std::optional<std::string> load(std::string_view key) const;
  // Writes the entry atomically; false (and no exception) when it cannot.
  bool store(std::string_view key, std::string_view winner) const;

  static TuningCacheStats statistics();

 private:
  std::string directory_;
};

}  // namespace convjit
