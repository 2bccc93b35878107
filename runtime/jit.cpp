#include <convjit/error.hpp>
#include <convjit/jit.hpp>

#include "generator/plan.hpp"
#include "runtime/backends.hpp"
#include "runtime/cache.hpp"
#include "runtime/observability.hpp"
#include "runtime/thread_count.hpp"

#include <chrono>
#include <cstdlib>

namespace convjit {
namespace {

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
      threads_(options.threads > 0 ? options.threads : default_thread_count()),
      cache_(std::make_unique<KernelCache>(capacity_from(options.cache_capacity))) {
  if (options.threads < 0) throw Error("threads", "must not be negative");
}

Jit::~Jit() = default;

Jit& Jit::global() {
  static Jit instance;
  return instance;
}

std::shared_ptr<const Kernel> Jit::compile(const ConvShape& shape) const {
  const auto start = std::chrono::steady_clock::now();
  auto plan = std::make_shared<const KernelPlan>(make_plan(shape));
  auto code = make_code(*plan, backend_);
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  auto kernel = std::make_shared<Kernel>(std::move(plan), std::move(code), us, threads_);
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
