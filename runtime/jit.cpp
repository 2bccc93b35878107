#include <convjit/error.hpp>
#include <convjit/jit.hpp>

#include "generator/plan.hpp"
#include "runtime/backends.hpp"
#include "runtime/cache.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/observability.hpp"
#include "runtime/thread_count.hpp"

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

namespace convjit {
namespace {

// Each Jit's backend session (for LLVM: the Jit's own LLJIT). It lives beside the Jit rather
// than in it so the public header and the class layout stay as they are: the constructor
// registers it, the destructor drops it (kernels keep what they need alive). The table itself
// is never destroyed, since Jit::global() may be destroyed after it would be.
class SessionTable {
 public:
  void add(const Jit* jit, std::shared_ptr<BackendSession> session) {
    std::lock_guard lock(mutex_);
    sessions_[jit] = std::move(session);
  }
  void remove(const Jit* jit) {
    std::shared_ptr<BackendSession> dropped;  // released outside the lock
    std::lock_guard lock(mutex_);
    if (auto it = sessions_.find(jit); it != sessions_.end()) {
      dropped = std::move(it->second);
      sessions_.erase(it);
    }
  }
  std::shared_ptr<BackendSession> find(const Jit* jit) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(jit);
    return it == sessions_.end() ? nullptr : it->second;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<const Jit*, std::shared_ptr<BackendSession>> sessions_;
};

SessionTable& sessions() {
  static auto* table = new SessionTable;
  return *table;
}

std::size_t capacity_from(std::size_t requested) {
  if (requested) return requested;
  if (const char* env = std::getenv("CONVJIT_CACHE_CAPACITY"); env && *env) {
    char* end = nullptr;
    const long long n = std::strtoll(env, &end, 10);
    if (*end != '\0' || n <= 0)
      throw Error("CONVJIT_CACHE_CAPACITY", "expected a positive integer, got '" + std::string(env) + "'");
    return static_cast<std::size_t>(n);
  }
  return 1024;
}

}  // namespace

Jit::Jit(JitOptions options)
    : backend_(resolve_backend(options.backend)),
      isa_(resolve_isa(options.isa, backend_)),
      threads_(options.threads > 0 ? options.threads : default_thread_count()),
      cache_(std::make_unique<KernelCache>(capacity_from(options.cache_capacity))) {
  if (options.threads < 0) throw Error("threads", "must not be negative");
  if (options.threads > kMaxThreads)
    throw Error("threads", std::to_string(options.threads) + " is above the maximum " +
                               std::to_string(kMaxThreads));
  if (auto session = make_backend_session(backend_)) sessions().add(this, std::move(session));
}

Jit::~Jit() {
  if (backend_ == Backend::llvm) sessions().remove(this);
}

Jit& Jit::global() {
  static Jit instance;
  return instance;
}

std::shared_ptr<const Kernel> Jit::compile(const ConvShape& shape) const {
  shape.validate();
  const auto start = std::chrono::steady_clock::now();
  auto plan = std::make_shared<const KernelPlan>(make_plan(shape, isa_));
  std::shared_ptr<BackendSession> session;
  if (backend_ == Backend::llvm) session = sessions().find(this);
  auto code = make_code(*plan, backend_, session.get());
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  auto kernel = make_kernel(std::move(plan), std::move(code), us, threads_);
  publish_generated_kernel(*kernel);
  return kernel;
}

std::shared_ptr<const Kernel> Jit::get(const ConvShape& shape) {
  if (!verbose_enabled())
    return cache_->get_or_create({shape, backend_}, [&] { return compile(shape); });
  const auto start = std::chrono::steady_clock::now();
  bool hit = false;
  auto kernel = cache_->get_or_create({shape, backend_}, [&] { return compile(shape); }, &hit);
  log_cache_lookup(*kernel, hit,
                   std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  return kernel;
}

std::shared_ptr<const Kernel> Jit::get(const ConvSpec& spec) { return get(spec.resolve()); }

CacheStats Jit::stats() const { return cache_->stats(); }

}  // namespace convjit
