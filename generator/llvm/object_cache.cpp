#include "generator/llvm/object_cache.hpp"

#include "core/environment.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <set>

namespace convjit {
namespace {

struct Counters {
  std::atomic<std::uint64_t> hits{0}, misses{0}, rejected{0}, stores{0}, store_failures{0};
};
Counters& counters() {
  static Counters c;
  return c;
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

}  // namespace

const CacheFile& ObjectCache::file_format() {
  static const CacheFile format({'C', 'J', 'I', 'T', 'O', 'B', 'J', '\0'}, kFormatVersion);
  return format;
}

std::vector<char> encode_cache_entry(std::string_view key, std::span<const char> object) {
  return ObjectCache::file_format().encode(key, object);
}

std::optional<std::span<const char>> decode_cache_entry(std::string_view key,
                                                        std::span<const char> file,
                                                        CacheEntryProblem* problem) {
  return ObjectCache::file_format().decode(key, file, problem);
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
  CacheFile::Read read = file_format().read(file_path, key);
  switch (read.outcome) {
    case CacheFile::Outcome::missing:
      counters().misses.fetch_add(1, std::memory_order_relaxed);
      log("miss", file_path);
      return std::nullopt;
    case CacheFile::Outcome::rejected:
      counters().rejected.fetch_add(1, std::memory_order_relaxed);
      log("rejected", file_path, read.problem);
      return std::nullopt;
    case CacheFile::Outcome::hit: break;
  }
  counters().hits.fetch_add(1, std::memory_order_relaxed);
  log("hit", file_path);
  return std::move(read.payload);
}

bool ObjectCache::store(std::string_view key, std::span<const char> object) const {
  const std::string file_path = path(key);
  std::string failure;
  if (!file_format().write(directory_, file_path, key, object, &failure)) {
    counters().store_failures.fetch_add(1, std::memory_order_relaxed);
    log_store_failure(directory_, file_path, failure.c_str());
    return false;
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
