#include "core/cache_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <thread>

namespace convjit {
namespace {

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

// Entries decide what this process executes (code, or which kernel): only files no one else
// could have written.
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

std::vector<char> CacheFile::encode(std::string_view key, std::span<const char> payload) const {
  std::vector<char> file(kHeaderBytes + key.size() + payload.size());
  char* h = file.data();
  std::memcpy(h, magic_.data(), magic_.size());
  put32(h + 8, version_);
  put32(h + 12, static_cast<std::uint32_t>(key.size()));
  put64(h + 16, payload.size());
  put64(h + 24, fnv1a64(payload));
  put64(h + 32, header_checksum(h, key));
  std::memcpy(h + kHeaderBytes, key.data(), key.size());
  if (!payload.empty()) std::memcpy(h + kHeaderBytes + key.size(), payload.data(), payload.size());
  return file;
}

std::optional<std::span<const char>> CacheFile::decode(std::string_view key,
                                                       std::span<const char> file,
                                                       CacheEntryProblem* problem) const {
  auto fail = [&](CacheEntryProblem why) -> std::optional<std::span<const char>> {
    if (problem) *problem = why;
    return std::nullopt;
  };
  if (problem) *problem = CacheEntryProblem::none;
  if (file.size() < magic_.size() || std::memcmp(file.data(), magic_.data(), magic_.size()) != 0)
    return fail(file.size() < magic_.size() ? CacheEntryProblem::truncated : CacheEntryProblem::bad_magic);
  if (file.size() < kHeaderBytes) return fail(CacheEntryProblem::truncated);
  const char* h = file.data();
  if (get32(h + 8) != version_) return fail(CacheEntryProblem::bad_version);
  const std::uint64_t key_bytes = get32(h + 12);
  const std::uint64_t payload_bytes = get64(h + 16);
  // Both lengths are checked against what is there before anything is read at them.
  const std::uint64_t available = file.size() - kHeaderBytes;
  if (key_bytes > available) return fail(CacheEntryProblem::truncated);
  if (key_bytes != key.size()) return fail(CacheEntryProblem::other_key);
  if (header_checksum(h, std::string_view(h + kHeaderBytes, key_bytes)) != get64(h + 32))
    return fail(CacheEntryProblem::bad_header);
  if (std::memcmp(h + kHeaderBytes, key.data(), key.size()) != 0)
    return fail(CacheEntryProblem::other_key);
  if (payload_bytes > available - key_bytes) return fail(CacheEntryProblem::truncated);
  if (payload_bytes < available - key_bytes) return fail(CacheEntryProblem::size_mismatch);
  const std::span<const char> payload = file.subspan(kHeaderBytes + key_bytes);
  if (fnv1a64(payload) != get64(h + 24)) return fail(CacheEntryProblem::bad_checksum);
  return payload;
}

CacheFile::Read CacheFile::read(const std::string& path, std::string_view key) const {
  Read result;
  auto reject = [&](std::string why) {
    result.outcome = Outcome::rejected;
    result.problem = std::move(why);
    return result;
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    if (errno == ENOENT) return result;
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
  auto payload = decode(key, file, &problem);
  if (!payload) return reject(std::string(to_string(problem)));
  result.outcome = Outcome::hit;
  result.payload.assign(payload->begin(), payload->end());
  return result;
}

bool CacheFile::write(const std::string& directory, const std::string& path, std::string_view key,
                      std::span<const char> payload, std::string* failure) const {
  static std::atomic<std::uint64_t> serial{0};
  auto failed = [&](const char* what) {
    if (failure) *failure = what;
    return false;
  };
  std::error_code ec;
  if (!std::filesystem::is_directory(directory, ec)) {
    std::filesystem::create_directories(directory, ec);
    if (ec) {
      errno = ec.value();
      return failed("create directory");
    }
  }
  char suffix[96];
  std::snprintf(suffix, sizeof suffix, ".tmp.%ld.%zx.%llu", static_cast<long>(::getpid()),
                std::hash<std::thread::id>{}(std::this_thread::get_id()),
                static_cast<unsigned long long>(serial.fetch_add(1)));
  const std::string temp = path + suffix;
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) return failed("create");
  const std::vector<char> file = encode(key, payload);
  // 0644 whatever the umask: read() refuses entries others could have written.
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
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int rename_errno = errno;
    ::unlink(temp.c_str());
    errno = rename_errno;
    return failed("rename");
  }
  return true;
}

}  // namespace convjit
