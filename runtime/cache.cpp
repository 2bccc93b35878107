#include "runtime/cache.hpp"

namespace convjit {

KernelCache::KernelCache(std::size_t capacity) : capacity_(capacity ? capacity : 1) {
  stats_.capacity = capacity_;
}

KernelCache::KernelPtr KernelCache::get_or_create(const CacheKey& key, const Factory& factory,
                                                bool* hit) {
  std::unique_lock lock(mutex_);
  if (auto it = entries_.find(key); it != entries_.end()) {
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    ++stats_.hits;
    if (hit) *hit = true;
    auto kernel = it->second.kernel;
    lock.unlock();
    return kernel.get();
  }
  ++stats_.misses;
  if (hit) *hit = false;
  std::promise<KernelPtr> promise;
  recency_.push_front(key);
  entries_.emplace(key, Entry{promise.get_future().share(), recency_.begin(), {}});
  lock.unlock();

  KernelPtr kernel;
  try {
    kernel = factory();
  } catch (...) {
    promise.set_exception(std::current_exception());
    lock.lock();
    if (auto it = entries_.find(key); it != entries_.end()) {
      recency_.erase(it->second.recency);
      entries_.erase(it);
    }
    throw;
  }
  promise.set_value(kernel);
  lock.lock();
  stats_.generation_us_total += kernel->generation_us();
  evict_beyond_capacity();
  return kernel;
}

KernelCache::KernelPtr KernelCache::batch_variant(const CacheKey& key, std::int64_t batch,
                                                const Factory& make) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return make();
  KernelPtr& twin = it->second.batches[batch];
  if (!twin) twin = make();
  return twin;
}

void KernelCache::evict_beyond_capacity() {
  while (entries_.size() > capacity_) {
    const CacheKey& oldest = recency_.back();
    entries_.erase(oldest);
    recency_.pop_back();
    ++stats_.evictions;
  }
}

CacheStats KernelCache::stats() const {
  std::lock_guard lock(mutex_);
  CacheStats s = stats_;
  s.size = entries_.size();
  return s;
}

}  // namespace convjit
