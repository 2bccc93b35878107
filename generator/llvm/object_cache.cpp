#include "generator/llvm/object_cache.hpp"

#include "core/environment.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <thread>

namespace convjit {
namespace {

constexpr char kMagic[8] = {'C', 'J', 'I', 'T', 'O', 'B', 'J', '\0'};

struct Counters {
  std::atomic<std::uint64_t> hits{0}, misses{0}, rejected{0}, stores{0}, store_failures{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

void put32(char* at, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
void put64(char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xFF);
}
std::uint32_t get32(const char* at) {
  std::uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  return v;
}
std::uint64_t get64(const char* at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(at[i])) << (8 * i);
  return v;
}

// Checksum of the header's first 32 bytes followed by the key.
std::uint64_t header_checksum(const char* header, std::string_view key) {
  return fnv1a64(std::span(key.data(), key.size()), fnv1a64(std::span(header, 32)));
}

void log(const char* event, const std::string& path, std::string_view detail = {}) {
  if (!verbose_enabled()) return;
  const std::string line = "convjit_verbose,object_cache," + std::string(event) + "," + path +
                           (detail.empty() ? "" : ",") + std::string(detail) + "\n";
  std::fputs(line.c_str(), stderr);
}

// Store failures are reported once per directory: an unwritable cache is not news twice.
void log_store_failure(const std::string& directory, const std::string& path, const char* what) {
  if (!verbose_enabled()) return;
  static std::mutex mutex;
  static std::set<std::string> reported;
  {
    std::lock_guard lock(mutex);
    if (!reported.insert(directory).second) return;
  }
  log("store_failed", path, std::string(what) + ": " + std::strerror(errno) +
                                " (kernels are compiled and not stored)");
}

bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// Entries are code this process will execute: only files no one else could have written.
bool trusted(const struct stat& st) {
  if (!S_ISREG(st.st_mode)) return false;
  if (st.st_mode & (S_IWGRP | S_IWOTH)) return false;
  return st.st_uid == ::geteuid() || st.st_uid == 0;
}

}  // namespace

std::string_view to_string(CacheEntryProblem problem) {
  switch (problem) {
    case CacheEntryProblem::none: return "none";
    case CacheEntryProblem::truncated: return "truncated";
    case CacheEntryProblem::bad_magic: return "bad_magic";
    case CacheEntryProblem::bad_version: return "bad_version";
    case CacheEntryProblem::bad_header: return "bad_header";
    case CacheEntryProblem::other_key: return "other_key";
    case CacheEntryProblem::size_mismatch: return "size_mismatch";
    case CacheEntryProblem::bad_checksum: return "bad_checksum";
  }
  return "?";
}

std::uint64_t fnv1a64(std::span<const char> bytes, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::vector<char> encode_cache_entry(std::string_view key, std::span<const char> object) {
  std::vector<char> file(ObjectCache::kHeaderBytes + key.size() + object.size());
  char* h = file.data();
  std::memcpy(h, kMagic, sizeof kMagic);
  put32(h + 8, ObjectCache::kFormatVersion);
  put32(h + 12, static_cast<std::uint32_t>(key.size()));
  put64(h + 16, object.size());
  put64(h + 24, fnv1a64(object));
  put64(h + 32, header_checksum(h, key));
  std::memcpy(h + ObjectCache::kHeaderBytes, key.data(), key.size());
  if (!object.empty())
    std::memcpy(h + ObjectCache::kHeaderBytes + key.size(), object.data(), object.size());
  return file;
}

std::optional<std::span<const char>> decode_cache_entry(std::string_view key,
                                                        std::span<const char> file,
                                                        CacheEntryProblem* problem) {
  auto fail = [&](CacheEntryProblem why) -> std::optional<std::span<const char>> {
    if (problem) *problem = why;
    return std::nullopt;
  };
  if (problem) *problem = CacheEntryProblem::none;
  if (file.size() < sizeof kMagic || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
    return fail(file.size() < sizeof kMagic ? CacheEntryProblem::truncated
                                            : CacheEntryProblem::bad_magic);
  if (file.size() < ObjectCache::kHeaderBytes) return fail(CacheEntryProblem::truncated);
  const char* h = file.data();
  if (get32(h + 8) != ObjectCache::kFormatVersion) return fail(CacheEntryProblem::bad_version);
  const std::uint64_t key_bytes = get32(h + 12);
  const std::uint64_t object_bytes = get64(h + 16);
  // Both lengths are checked against what is there before anything is read at them.
  const std::uint64_t available = file.size() - ObjectCache::kHeaderBytes;
  if (key_bytes > available) return fail(CacheEntryProblem::truncated);
  if (key_bytes != key.size()) return fail(CacheEntryProblem::other_key);
  if (header_checksum(h, std::string_view(h + ObjectCache::kHeaderBytes, key_bytes)) != get64(h + 32))
    return fail(CacheEntryProblem::bad_header);
  if (std::memcmp(h + ObjectCache::kHeaderBytes, key.data(), key.size()) != 0)
    return fail(CacheEntryProblem::other_key);
  if (object_bytes > available - key_bytes) return fail(CacheEntryProblem::truncated);
  if (object_bytes < available - key_bytes) return fail(CacheEntryProblem::size_mismatch);
  const std::span<const char> object = file.subspan(ObjectCache::kHeaderBytes + key_bytes);
  if (fnv1a64(object) != get64(h + 24)) return fail(CacheEntryProblem::bad_checksum);
  return object;
}

std::optional<ObjectCache> ObjectCache::from_environment() {
  const char* dir = std::getenv("CONVJIT_CACHE_DIR");
  if (!dir || !*dir) return std::nullopt;
  return ObjectCache(dir);
}

ObjectCache::ObjectCache(std::string directory) : directory_(std::move(directory)) {
  while (directory_.size() > 1 && directory_.back() == '/') directory_.pop_back();
}

std::string ObjectCache::path(std::string_view key) const {
  char name[32];
  std::snprintf(name, sizeof name, "llvm-%016llx.cjo",
                static_cast<unsigned long long>(fnv1a64(key)));
  return directory_ + "/" + name;
}

std::optional<std::vector<char>> ObjectCache::load(std::string_view key) const {
  const std::string file_path = path(key);
  auto reject = [&](std::string_view why) -> std::optional<std::vector<char>> {
    counters().rejected.fetch_add(1, std::memory_order_relaxed);
    log("rejected", file_path, why);
    return std::nullopt;
  };
  const int fd = ::open(file_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) {
      counters().misses.fetch_add(1, std::memory_order_relaxed);
      log("miss", file_path);
      return std::nullopt;
    }
    return reject(std::string("open: ") + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !trusted(st)) {
    ::close(fd);
    return reject("not a regular file of this user, or writable by others");
  }
  if (static_cast<std::uint64_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    return reject("too large");
  }
  // Read to the end rather than trusting st_size: a file replaced or truncated meanwhile
  // still comes out as whatever bytes were read, which decoding then judges.
  std::vector<char> file(static_cast<std::size_t>(st.st_size) + 1);
  std::size_t got = 0;
  for (;;) {
    if (got == file.size()) {
      if (file.size() > kMaxFileBytes) break;
      file.resize(file.size() * 2);
    }
    const ssize_t n = ::read(fd, file.data() + got, file.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      return reject(std::string("read: ") + std::strerror(saved));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  file.resize(got);
  CacheEntryProblem problem{};
  auto object = decode_cache_entry(key, file, &problem);
  if (!object) return reject(to_string(problem));
  counters().hits.fetch_add(1, std::memory_order_relaxed);
  log("hit", file_path);
  return std::vector<char>(object->begin(), object->end());
}

bool ObjectCache::store(std::string_view key, std::span<const char> object) const {
  static std::atomic<std::uint64_t> serial{0};
  const std::string file_path = path(key);
  auto failed = [&](const char* what) {
    counters().store_failures.fetch_add(1, std::memory_order_relaxed);
    log_store_failure(directory_, file_path, what);
    return false;
  };
  std::error_code ec;
  if (!std::filesystem::is_directory(directory_, ec)) {
    std::filesystem::create_directories(directory_, ec);
    if (ec) {
      errno = ec.value();
      return failed("create directory");
    }
  }
  char suffix[96];
  std::snprintf(suffix, sizeof suffix, ".tmp.%ld.%zx.%llu", static_cast<long>(::getpid()),
                std::hash<std::thread::id>{}(std::this_thread::get_id()),
                static_cast<unsigned long long>(serial.fetch_add(1)));
  const std::string temp = file_path + suffix;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return failed("create");
  const std::vector<char> file = encode_cache_entry(key, object);
  // 0644 whatever the umask: load() refuses entries others could have written.
  bool written = ::fchmod(fd, 0644) == 0 && write_all(fd, file.data(), file.size());
  int saved = errno;
  if (::close(fd) != 0 && written) {
    written = false;
    saved = errno;
  }
  if (!written) {
    ::unlink(temp.c_str());
    errno = saved;
    return failed("write");
  }
  if (::rename(temp.c_str(), file_path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp.c_str());
    errno = rename_errno;
    return failed("rename");
  }
  counters().stores.fetch_add(1, std::memory_order_relaxed);
  log("stored", file_path);
  return true;
}

void ObjectCache::discard(std::string_view key) const {
  const std::string file_path = path(key);
  counters().rejected.fetch_add(1, std::memory_order_relaxed);
  log("rejected", file_path, "LLVM could not link the object");
  ::unlink(file_path.c_str());
}

ObjectCacheStats ObjectCache::statistics() {
  const Counters& c = counters();
  ObjectCacheStats s;
  s.hits = c.hits.load();
  s.misses = c.misses.load();
  s.rejected = c.rejected.load();
  s.stores = c.stores.load();
  s.store_failures = c.store_failures.load();
  return s;
}

}  // namespace convjit
