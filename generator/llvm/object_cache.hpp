#pragma once
// ObjectCache: compiled kernels kept on disk (CONVJIT_CACHE_DIR), so a later process links a
// kernel's object file instead of generating IR and running LLVM's code generator again.
//
// An entry is one file, `<dir>/llvm-<16 hex digits>.cjo`, the digits a 64-bit FNV-1a of the
// key text. The key text names everything the object depends on (see llvm_object_key). The
// file is a CacheFile (core/cache_file.hpp) with magic "CJITOBJ\0": its layout, its checks
// (truncated, longer, another magic or version, another key, a bad checksum, not a regular
// file, writable by group or others, owned by neither this user nor root: rejected, never
// executed, and the fresh compile overwrites it) and its atomic writes are the ones every
// convjit cache shares. A directory that cannot be created or written disables storing
// (loading still works); nothing is reported to the caller except through CONVJIT_VERBOSE
// lines.
//
// No LLVM types here: key text and bytes in, bytes out.
#include "core/cache_file.hpp"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace convjit {

struct KernelPlan;

// Process-wide counters over every ObjectCache (tests and CONVJIT_VERBOSE use them).
struct ObjectCacheStats {
  std::uint64_t hits = 0;            // a valid entry was read
  std::uint64_t misses = 0;          // no entry
  std::uint64_t rejected = 0;        // an entry was there but unusable
  std::uint64_t stores = 0;          // entries written
  std::uint64_t store_failures = 0;  // entries that could not be written
};

class ObjectCache {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;
  static constexpr std::size_t kHeaderBytes = CacheFile::kHeaderBytes;
  // Files larger than this are not read (no kernel object comes close).
  static constexpr std::uint64_t kMaxFileBytes = CacheFile::kMaxFileBytes;
  // The entries' magic and version.
  static const CacheFile& file_format();

  // The cache CONVJIT_CACHE_DIR names (read on every call), or none when it is unset or empty.
  static std::optional<ObjectCache> from_environment();

  explicit ObjectCache(std::string directory);

  const std::string& directory() const noexcept { return directory_; }
  // Where the entry for `key` lives.
  std::string path(std::string_view key) const;

  // The object stored under `key`, or nothing when there is no entry or it is unusable.
  std::optional<std::vector<char>> load(std::string_view key) const;
  // Writes the entry atomically; false (and no exception) when it cannot.
  bool store(std::string_view key, std::span<const char> object) const;
  // An entry whose object LLVM then refused to link: counted as rejected and removed.
  void discard(std::string_view key) const;

  static ObjectCacheStats statistics();

 private:
  std::string directory_;
};

// The object cache's file format on its own (tests write damaged entries with these).
std::vector<char> encode_cache_entry(std::string_view key, std::span<const char> object);
// The object inside `file` when it is a valid entry for `key`; else why not in `problem`.
std::optional<std::span<const char>> decode_cache_entry(std::string_view key,
                                                        std::span<const char> file,
                                                        CacheEntryProblem* problem = nullptr);

// The LLVM backend's key for a plan's object (generator/llvm/llvm_code.cpp): the format and
// kernel versions, LLVM's version, target triple, host CPU name and features, the library's
// build id, the entry symbol and the plan itself.
std::string llvm_object_key(const KernelPlan& plan);

}  // namespace convjit
