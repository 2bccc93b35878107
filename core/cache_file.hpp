#pragma once
// CacheFile: the on-disk entry format and file handling every persistent cache shares (the
// LLVM object cache, generator/llvm/object_cache.hpp; the tuning cache,
// runtime/tuning_cache.hpp). An entry is one file holding a key text and a payload. Layout,
// integers little-endian:
//
//   offset  size  field
//        0     8  magic (one per cache, e.g. "CJITOBJ\0")
//        8     4  format version (one per cache)
//       12     4  key length K
//       16     8  payload length N
//       24     8  FNV-1a 64 of the payload
//       32     8  FNV-1a 64 of bytes [0, 32) and the key (the header's own check)
//       40     K  key text
//     40+K     N  payload
//
// The file is exactly 40 + K + N bytes. The key text names everything the payload depends on
// and is compared whole on load, so a hash collision, a copied file or an entry of another
// CPU or library version is never used. Anything else — truncated, longer, another magic or
// version, another key, a bad checksum, not a regular file, writable by group or others, owned
// by neither this user nor root — is rejected, and the caller's fresh result overwrites it.
// (The checksums catch accidents, not attacks: whoever can write the directory can plant an
// entry, hence the ownership checks.)
// Writes go to a unique temporary file in the same directory (pid, thread, counter), made
// 0644 whatever the umask, and are renamed over the entry: concurrent writers all succeed and
// readers see the old file or the new one, never a partial one.
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace convjit {

// Why CacheFile::decode refused a file.
enum class CacheEntryProblem : std::uint8_t {
  none,
  truncated,       // shorter than its header says
  bad_magic,
  bad_version,
  bad_header,      // header checksum mismatch
  other_key,       // a different entry's key (a collision, a copied file, another CPU)
  size_mismatch,   // longer than its header says
  bad_checksum,    // payload bytes changed
};
std::string_view to_string(CacheEntryProblem problem);

// 64-bit FNV-1a.
std::uint64_t fnv1a64(std::span<const char> bytes, std::uint64_t seed = 0xcbf29ce484222325ull);
inline std::uint64_t fnv1a64(std::string_view text) { return fnv1a64(std::span(text.data(), text.size())); }

class CacheFile {
 public:
  static constexpr std::size_t kHeaderBytes = 40;
  // Files larger than this are not read.
  static constexpr std::uint64_t kMaxFileBytes = 256u << 20;

  CacheFile(std::array<char, 8> magic, std::uint32_t version) : magic_(magic), version_(version) {}

  std::vector<char> encode(std::string_view key, std::span<const char> payload) const;
  // The payload inside `file` when it is a valid entry for `key`; else why not in `problem`.
  std::optional<std::span<const char>> decode(std::string_view key, std::span<const char> file,
                                              CacheEntryProblem* problem = nullptr) const;

  enum class Outcome : std::uint8_t { hit, missing, rejected };
  struct Read {
    Outcome outcome = Outcome::missing;
    std::vector<char> payload;  // hit only
    std::string problem;        // rejected only: why
  };
  // The entry at `path` for `key`: only a trusted, intact file of exactly this key is a hit.
  Read read(const std::string& path, std::string_view key) const;

  // Writes the entry atomically, creating `directory` if needed; false with what failed in
  // `failure` (and errno set) when it cannot.
  bool write(const std::string& directory, const std::string& path, std::string_view key,
             std::span<const char> payload, std::string* failure = nullptr) const;

  std::uint32_t version() const noexcept { return version_; }

 private:
  std::array<char, 8> magic_;
  std::uint32_t version_;
};

}  // namespace convjit
