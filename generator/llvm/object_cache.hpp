#pragma once
// ObjectCache: compiled kernels kept on disk (CONVJIT_CACHE_DIR), so a later process links a
// kernel's object file instead of generating IR and running LLVM's code generator again.
//
// An entry is one file, `<dir>/llvm-<16 hex digits>.cjo`, the digits a 64-bit FNV-1a of the
// key text. The key text names everything the object depends on (see llvm_object_key); it is
// stored whole in the file and compared on load, so a hash collision can never hand back
// another kernel. File layout, integers little-endian:
//
//   offset  size  field
//        0     8  magic "CJITOBJ\0"
//        8     4  format version (kFormatVersion)
//       12     4  key length K
//       16     8  object length N
//       24     8  FNV-1a 64 of the object bytes
//       32     8  FNV-1a 64 of bytes [0, 32) and the key (the header's own check)
//       40     K  key text
//     40+K     N  object file
//
// The file is exactly 40 + K + N bytes. Anything else — truncated, longer, another magic or
// version, another key, a bad checksum, not a regular file, writable by group or others, owned
// by neither this user nor root — is rejected (never executed) and the fresh compile overwrites
// it. (The checksums catch accidents, not attacks: whoever can write the directory can plant
// code, hence the ownership checks and the README's advice.)
// Writes go to a unique temporary file in the same directory (pid, thread, counter) and are
// renamed over the entry, so concurrent writers of one entry all succeed and readers see the
// old file or the new one, never a partial one. A directory that cannot be created or written
// disables storing (loading still works); nothing is reported to the caller except through
// CONVJIT_VERBOSE lines.
//
// No LLVM types here: key text and bytes in, bytes out.
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

// Why decode_cache_entry refused a file.
enum class CacheEntryProblem : std::uint8_t {
  none,
  truncated,       // shorter than its header says
  bad_magic,
  bad_version,
  bad_header,      // header checksum mismatch
  other_key,       // a different kernel's entry (a hash collision or a copied file)
  size_mismatch,   // longer than its header says
  bad_checksum,    // object bytes changed
};
std::string_view to_string(CacheEntryProblem problem);

class ObjectCache {
 public:
  static constexpr std::uint32_t kFormatVersion = 1;
  static constexpr std::size_t kHeaderBytes = 40;
  // Files larger than this are not read (no kernel object comes close).
  static constexpr std::uint64_t kMaxFileBytes = 256u << 20;

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

// 64-bit FNV-1a.
std::uint64_t fnv1a64(std::span<const char> bytes, std::uint64_t seed = 0xcbf29ce484222325ull);
inline std::uint64_t fnv1a64(std::string_view text) { return fnv1a64(std::span(text.data(), text.size())); }

// The file format on its own (tests write damaged entries with these).
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
