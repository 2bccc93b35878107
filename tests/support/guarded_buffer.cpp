#include "tests/support/guarded_buffer.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <new>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

namespace convjit::testing {
namespace {

std::size_t round_up(std::size_t v, std::size_t to) { return (v + to - 1) / to * to; }

bool is_power_of_two(std::size_t v) { return v && !(v & (v - 1)); }

struct Layout {
  std::size_t data_pages_bytes;  // whole pages between the guards
  std::size_t mapping_bytes;     // guard + data pages + guard
};

Layout layout_for(std::size_t bytes) {
  const std::size_t page = GuardedBuffer::page_size();
  // At least one data page, so the two guards are never adjacent and the pointer for an
  // empty buffer is still inside a mapping of ours.
  const std::size_t data_pages = std::max(round_up(bytes, page), page);
  return {data_pages, data_pages + 2 * page};
}

// guard | data pages (read+write) | guard; returns the mapping's start.
void* map_guarded(const Layout& layout) {
  void* mapping = ::mmap(nullptr, layout.mapping_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
                         -1, 0);
  if (mapping == MAP_FAILED) return nullptr;
  auto* data_pages = static_cast<std::uint8_t*>(mapping) + GuardedBuffer::page_size();
  if (::mprotect(data_pages, layout.data_pages_bytes, PROT_READ | PROT_WRITE) != 0) {
    ::munmap(mapping, layout.mapping_bytes);
    return nullptr;
  }
  return mapping;
}

}  // namespace

std::size_t GuardedBuffer::page_size() {
  static const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

GuardedBuffer::GuardedBuffer(std::size_t count, GuardSide side, std::size_t alignment)
    : count_(count), side_(side) {
  const std::size_t page = page_size();
  if (!is_power_of_two(alignment) || alignment > page)
    throw std::invalid_argument("GuardedBuffer: alignment must be a power of two <= page size");
  if (count > (SIZE_MAX - 4 * page) / sizeof(float)) throw std::bad_alloc();
  const std::size_t bytes = count * sizeof(float);
  const Layout layout = layout_for(bytes);
  mapping_ = map_guarded(layout);
  if (!mapping_)
    throw std::system_error(errno, std::generic_category(),
                            "GuardedBuffer: mmap of " + std::to_string(layout.mapping_bytes) + " bytes");
  mapping_bytes_ = layout.mapping_bytes;
  data_pages_bytes_ = layout.data_pages_bytes;
  auto* first = static_cast<std::uint8_t*>(mapping_) + page;
  if (side == GuardSide::leading) {
    data_ = reinterpret_cast<float*>(first);  // page-aligned, so every alignment holds
  } else {
    auto* end = first + data_pages_bytes_;
    auto start = reinterpret_cast<std::uintptr_t>(end - bytes);
    start &= ~(static_cast<std::uintptr_t>(alignment) - 1);
    data_ = reinterpret_cast<float*>(start);
    gap_bytes_ = static_cast<std::size_t>(end - reinterpret_cast<std::uint8_t*>(start)) - bytes;
  }
}

GuardedBuffer::~GuardedBuffer() { release(); }

GuardedBuffer::GuardedBuffer(GuardedBuffer&& other) noexcept
    : mapping_(std::exchange(other.mapping_, nullptr)),
      mapping_bytes_(std::exchange(other.mapping_bytes_, 0)),
      data_pages_bytes_(std::exchange(other.data_pages_bytes_, 0)),
      data_(std::exchange(other.data_, nullptr)),
      count_(std::exchange(other.count_, 0)),
      gap_bytes_(std::exchange(other.gap_bytes_, 0)),
      side_(other.side_) {}

GuardedBuffer& GuardedBuffer::operator=(GuardedBuffer&& other) noexcept {
  if (this != &other) {
    release();
    mapping_ = std::exchange(other.mapping_, nullptr);
    mapping_bytes_ = std::exchange(other.mapping_bytes_, 0);
    data_pages_bytes_ = std::exchange(other.data_pages_bytes_, 0);
    data_ = std::exchange(other.data_, nullptr);
    count_ = std::exchange(other.count_, 0);
    gap_bytes_ = std::exchange(other.gap_bytes_, 0);
    side_ = other.side_;
  }
  return *this;
}

void GuardedBuffer::release() noexcept {
  if (mapping_) ::munmap(mapping_, mapping_bytes_);
  mapping_ = nullptr;
  data_ = nullptr;
  count_ = 0;
}

void GuardedBuffer::assign(const float* values, std::size_t count) {
  if (count != count_) throw std::invalid_argument("GuardedBuffer::assign: size mismatch");
  if (count) std::memcpy(data_, values, count * sizeof(float));
}

void GuardedBuffer::fill(float value) {
  for (std::size_t i = 0; i < count_; ++i) data_[i] = value;
}

void GuardedBuffer::make_read_only() {
  auto* first = static_cast<std::uint8_t*>(mapping_) + page_size();
  if (::mprotect(first, data_pages_bytes_, PROT_READ) != 0)
    throw std::system_error(errno, std::generic_category(), "GuardedBuffer: mprotect");
}

const void* GuardedBuffer::trailing_guard() const noexcept {
  return static_cast<const std::uint8_t*>(mapping_) + page_size() + data_pages_bytes_;
}

void* guarded_allocate(std::size_t bytes, std::size_t alignment) {
  const std::size_t page = GuardedBuffer::page_size();
  if (!is_power_of_two(alignment) || alignment > page || bytes > SIZE_MAX / 2) return nullptr;
  const Layout layout = layout_for(bytes);
  void* mapping = map_guarded(layout);
  if (!mapping) return nullptr;
  auto* end = static_cast<std::uint8_t*>(mapping) + page + layout.data_pages_bytes;
  auto start = reinterpret_cast<std::uintptr_t>(end - bytes);
  start &= ~(static_cast<std::uintptr_t>(alignment) - 1);
  return reinterpret_cast<void*>(start);
}

void guarded_free(void* p, std::size_t bytes, std::size_t alignment) noexcept {
  if (!p) return;
  (void)alignment;  // the start only moved down inside the first data page
  const std::size_t page = GuardedBuffer::page_size();
  const Layout layout = layout_for(bytes);
  // The block ends less than `alignment` (<= one page) before the trailing guard, which is
  // page-aligned: rounding its end up to a page boundary finds the guard (also for 0 bytes).
  const auto trailing_guard = round_up(reinterpret_cast<std::uintptr_t>(p) + bytes, page);
  auto mapping = trailing_guard - layout.data_pages_bytes - page;
  ::munmap(reinterpret_cast<void*>(mapping), layout.mapping_bytes);
}

std::vector<MemoryMapping> read_memory_map() {
  std::ifstream in("/proc/self/maps");
  if (!in) throw std::runtime_error("/proc/self/maps: cannot open");
  std::vector<MemoryMapping> out;
  std::string line;
  while (std::getline(in, line)) {
    // begin-end perms offset dev inode [path]
    std::istringstream fields(line);
    std::string range, offset, device, inode;
    MemoryMapping m;
    if (!(fields >> range >> m.permissions >> offset >> device >> inode))
      throw std::runtime_error("/proc/self/maps: cannot parse '" + line + "'");
    const auto dash = range.find('-');
    if (dash == std::string::npos || m.permissions.size() != 4)
      throw std::runtime_error("/proc/self/maps: cannot parse '" + line + "'");
    m.begin = std::stoull(range.substr(0, dash), nullptr, 16);
    m.end = std::stoull(range.substr(dash + 1), nullptr, 16);
    std::getline(fields >> std::ws, m.path);
    out.push_back(std::move(m));
  }
  if (out.empty()) throw std::runtime_error("/proc/self/maps: empty");
  return out;
}

std::string memory_permissions(const void* address) {
  const auto a = reinterpret_cast<std::uintptr_t>(address);
  for (const MemoryMapping& m : read_memory_map())
    if (m.begin <= a && a < m.end) return m.permissions;
  return {};
}

}  // namespace convjit::testing
