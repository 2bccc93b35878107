#include "runtime/tuning_cache.hpp"

#include "core/cache_file.hpp"
#include "core/cpu_features.hpp"
#include "core/environment.hpp"
#include "core/version.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace convjit {
namespace {

const CacheFile& file_format() {
  static const CacheFile format({'C', 'J', 'I', 'T', 'T', 'U', 'N', '\0'}, TuningCache::kFormatVersion);
  return format;
}

struct Counters {
  std::atomic<std::uint64_t> hits{0}, misses{0}, rejected{0}, stores{0}, store_failures{0};
};
Counters& counters() {
  static Counters c;
  return c;
}

void log(const char* event, const std::string& path, std::string_view detail = {}) {
  if (!verbose_enabled()) return;
  const std::string line = "convjit_verbose,tuning_cache," + std::string(event) + "," + path +
                           (detail.empty() ? "" : ",") + std::string(detail) + "\n";
  std::fputs(line.c_str(), stderr);
}

// A kernel name is letters, digits and underscores; anything else did not come from us.
bool plausible_name(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  for (char c : name)
    if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')))
      return false;
  return true;
}

}  // namespace

std::optional<TuningCache> TuningCache::from_environment() {
  const char* dir = std::getenv("CONVJIT_CACHE_DIR");
  if (!dir || !*dir) return std::nullopt;
  return TuningCache(dir);
}

TuningCache::TuningCache(std::string directory) : directory_(std::move(directory)) {
  while (directory_.size() > 1 && directory_.back() == '/') directory_.pop_back();
}

std::string TuningCache::key(const ConvShape& shape, Backend backend, std::span<const Isa> isas,
                             Algorithm jit_algo, int threads) {
  ConvShape base = shape;
  base.n = 1;
  std::string isa_list;
  for (const Isa isa : isas) isa_list.append(isa_list.empty() ? "" : ",").append(to_string(isa));
  return "convjit tuning winner\nformat " + std::to_string(kFormatVersion) + "\nversion " +
         std::string(kLibraryVersion) + "\ncpu " + cpu_identity() + "\nbackend " +
         std::string(to_string(backend)) + "\nisas " + isa_list + "\njit_algo " +
         std::string(to_string(jit_algo)) + "\nshape " + base.to_string() + "\n" +
         (threads > 1 ? "threads " + std::to_string(threads) + "\n" : std::string());
}

std::string TuningCache::path(std::string_view key) const {
  char name[32];
  std::snprintf(name, sizeof name, "tune-%016llx.cjt", static_cast<unsigned long long>(fnv1a64(key)));
  return directory_ + "/" + name;
}

std::optional<std::string> TuningCache::load(std::string_view key) const {
  const std::string file_path = path(key);
  const CacheFile::Read read = file_format().read(file_path, key);
  if (read.outcome == CacheFile::Outcome::missing) {
    counters().misses.fetch_add(1, std::memory_order_relaxed);
    log("miss", file_path);
    return std::nullopt;
  }
  std::string winner(read.payload.begin(), read.payload.end());
  if (read.outcome == CacheFile::Outcome::rejected || !plausible_name(winner)) {
    counters().rejected.fetch_add(1, std::memory_order_relaxed);
    log("rejected", file_path, read.outcome == CacheFile::Outcome::rejected ? read.problem : "not a kernel name");
    return std::nullopt;
  }
  counters().hits.fetch_add(1, std::memory_order_relaxed);
  log("hit", file_path, winner);
  return winner;
}

bool TuningCache::store(std::string_view key, std::string_view winner) const {
  const std::string file_path = path(key);
  std::string failure;
  if (!file_format().write(directory_, file_path, key, std::span(winner.data(), winner.size()), &failure)) {
    counters().store_failures.fetch_add(1, std::memory_order_relaxed);
    log("store_failed", file_path, failure + ": " + std::strerror(errno));
    return false;
  }
  counters().stores.fetch_add(1, std::memory_order_relaxed);
  log("stored", file_path, winner);
  return true;
}

TuningCacheStats TuningCache::statistics() {
  const Counters& c = counters();
  return {c.hits.load(), c.misses.load(), c.rejected.load(), c.stores.load(), c.store_failures.load()};
}

}  // namespace convjit
