#pragma once
// KernelCache: per-shape kernels with single-flight compilation and a bounded LRU.
#include <convjit/jit.hpp>
#include <convjit/kernel.hpp>

#include <functional>
#include <future>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace convjit {

struct CacheKey {
  ConvShape shape;
  Backend backend;
  bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
  std::size_t operator()(const CacheKey& k) const noexcept {
    return k.shape.hash() * 31 + static_cast<std::size_t>(k.backend);
  }
};

class KernelCache {
 public:
  using KernelPtr = std::shared_ptr<const Kernel>;
  using Factory = std::function<KernelPtr()>;

  explicit KernelCache(std::size_t capacity);

  // The cached kernel, or the result of factory() run once however many threads ask at once.
  // A factory that throws caches nothing; every waiter sees the exception. *hit says whether
  // the kernel was already there (or being compiled by another thread).
  KernelPtr get_or_create(const CacheKey& key, const Factory& factory, bool* hit = nullptr);
  // The cached kernel's twin with default batch `batch` (made by make() once per batch and
  // kept beside it, so asking twice gives the same kernel); make()'s result, uncached, if
  // the key has been evicted meanwhile.
  KernelPtr batch_variant(const CacheKey& key, std::int64_t batch, const Factory& make);
  CacheStats stats() const;

 private:
  struct Entry {
    std::shared_future<KernelPtr> kernel;
    std::list<CacheKey>::iterator recency;
    std::unordered_map<std::int64_t, KernelPtr> batches;  // default batch -> twin
  };
  void evict_beyond_capacity();

  mutable std::mutex mutex_;
  std::unordered_map<CacheKey, Entry, CacheKeyHash> entries_;
  std::list<CacheKey> recency_;  // most recent first
  std::size_t capacity_;
  CacheStats stats_;
};

}  // namespace convjit
