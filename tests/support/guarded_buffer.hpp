#pragma once
// GuardedBuffer: floats in their own mmap'd pages with an inaccessible (PROT_NONE) page on
// each side, placed flush against one of the guards. A kernel that reads or writes even one
// float past that end (or before that start) takes SIGSEGV at once — which is the point:
// the JIT kernels' loads and stores are invisible to AddressSanitizer, so guard pages are
// the only way to catch their out-of-bounds accesses exactly at the boundary.
//
// Linked into every test executable (tests/support/*.cpp) and into the fuzzers; depends on
// nothing but POSIX, never on Boost.Test.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace convjit::testing {

enum class GuardSide : std::uint8_t {
  trailing,  // the last float ends exactly where the trailing guard page starts
  leading,   // the first float starts exactly where the leading guard page ends
};

class GuardedBuffer {
 public:
  // `count` floats, zero-initialised (fresh anonymous pages). 0 is allowed: with
  // GuardSide::trailing, data() is then the trailing guard's first byte.
  // `alignment` (bytes, a power of two <= the page size) is honoured for GuardSide::trailing
  // by moving the block down to the next aligned address; the gap that leaves before the
  // guard (< alignment bytes) is not protected. The default, alignof(float), keeps the
  // block exactly flush — and deliberately misaligned for vectors, as host data may be.
  explicit GuardedBuffer(std::size_t count, GuardSide side = GuardSide::trailing,
                         std::size_t alignment = alignof(float));
  ~GuardedBuffer();
  GuardedBuffer(GuardedBuffer&& other) noexcept;
  GuardedBuffer& operator=(GuardedBuffer&& other) noexcept;
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;

  float* data() noexcept { return data_; }
  const float* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return count_; }
  std::span<float> span() noexcept { return {data_, count_}; }
  std::span<const float> span() const noexcept { return {data_, count_}; }
  GuardSide side() const noexcept { return side_; }

  // Copies `count` floats in (count must equal size()).
  void assign(const float* values, std::size_t count);
  void fill(float value);
  // Makes the floats' pages read-only (PROT_READ): a kernel that writes to its input then
  // faults too. Irreversible for the buffer's lifetime (the destructor unmaps anyway).
  void make_read_only();

  // Bytes between data() and the guard page on the flush side: 0 unless an alignment
  // forced a gap (trailing side only).
  std::size_t unguarded_gap_bytes() const noexcept { return gap_bytes_; }

  static std::size_t page_size();

  // Where the two guard pages are, for tests of the buffer itself.
  const void* leading_guard() const noexcept { return mapping_; }
  const void* trailing_guard() const noexcept;

 private:
  void release() noexcept;

  void* mapping_ = nullptr;       // leading guard | data pages | trailing guard
  std::size_t mapping_bytes_ = 0;
  std::size_t data_pages_bytes_ = 0;
  float* data_ = nullptr;
  std::size_t count_ = 0;
  std::size_t gap_bytes_ = 0;
  GuardSide side_ = GuardSide::trailing;
};

// Raw form, for allocators that hand memory to code they do not control (the guard-page
// test replaces operator new[] with it): `bytes` bytes flush against a trailing guard page,
// the start rounded down to `alignment`. Returns nullptr when mmap fails.
void* guarded_allocate(std::size_t bytes, std::size_t alignment);
// Frees what guarded_allocate returned (the same bytes and alignment must be passed).
void guarded_free(void* p, std::size_t bytes, std::size_t alignment) noexcept;

// ------------------------------------------------------------------ the process's memory map

// One line of /proc/self/maps.
struct MemoryMapping {
  std::uintptr_t begin = 0, end = 0;
  std::string permissions;  // e.g. "r-xp"
  std::string path;         // file, [heap], [stack], ... or empty (anonymous)
  bool readable() const { return permissions.size() > 0 && permissions[0] == 'r'; }
  bool writable() const { return permissions.size() > 1 && permissions[1] == 'w'; }
  bool executable() const { return permissions.size() > 2 && permissions[2] == 'x'; }
};

// Parses /proc/self/maps (throws std::runtime_error when it cannot be read or parsed).
std::vector<MemoryMapping> read_memory_map();
// The permissions of the mapping containing `address` ("" when no mapping contains it).
std::string memory_permissions(const void* address);

}  // namespace convjit::testing
