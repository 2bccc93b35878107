#include <convjit/error.hpp>
#include <convjit/jit.hpp>

#include "generator/algorithm_policy.hpp"
#include "generator/plan.hpp"
#include "generator/plan_candidates.hpp"
#include "runtime/backends.hpp"
#include "runtime/cache.hpp"
#include "runtime/kernel_state.hpp"
#include "runtime/observability.hpp"
#include "runtime/thread_count.hpp"
#include "core/cpu_features.hpp"
#include "runtime/tuner.hpp"
#include "runtime/tuning_cache.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <unordered_map>

namespace convjit {
namespace {

// As ConvSpec::resolve() bounds n.
constexpr std::int64_t kMaxBatch = std::int64_t{1} << 24;

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
      algo_(options.algo),
      pool_(std::move(options.pool)),
      cache_(std::make_unique<KernelCache>(capacity_from(options.cache_capacity))),
      tune_(resolve_tuning(options.tune)),
      isa_asked_(options.isa != Isa::automatic || [] {
        const char* env = std::getenv("CONVJIT_ISA");
        return env && *env && parse_isa(env) != Isa::automatic;
      }()),
      threads_asked_(options.threads > 0) {
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

namespace {

// The cost model's plan for `shape` on this backend.
KernelPlan plan_for(const ConvShape& shape, Backend backend_, Isa isa_, Algorithm algo_, int threads) {
  const Algorithm algorithm = requested_algorithm(shape, backend_, algo_);  // refuses what it cannot build
  if (!backend_traits(backend_).memory_variants) {
    KernelPlan plain = make_direct_plan(shape, isa_);
    plain.algorithm_choice = "direct (this backend computes in the shape's layout, whole images)";
    return plain;
  }
  return make_plan(shape, isa_, algorithm, threads);
}

// The instruction sets tuning may choose among: the Jit's alone when it was asked for.
std::vector<Isa> candidate_isas(Isa isa, bool asked) {
  if (asked) return {isa};
  std::vector<Isa> isas = available_isas();
  if (std::find(isas.begin(), isas.end(), isa) == isas.end()) return {isa};
  return isas;
}

}  // namespace

std::shared_ptr<const Kernel> Jit::compile(const ConvShape& shape) const {
  shape.validate();
  const auto start = std::chrono::steady_clock::now();
  // The team the kernel's runs will have by default: the Jit's threads, or its pool's.
  const int team = pool_ && !threads_asked_ ? std::clamp(pool_->threads(), 1, kMaxThreads) : threads_;
  // 8-bit AVX-512 kernels need AVX512-VNNI: a CPU with AVX-512 but without it computes them at
  // avx2 unless avx512 was asked for (which then says why it cannot).
  const Isa isa = shape.quantized() && isa_ == Isa::avx512 && !isa_asked_ && !cpu_has_avx512_vnni()
                      ? Isa::avx2
                      : isa_;
  KernelPlan model = plan_for(shape, backend_, isa, algo_, team);
  std::shared_ptr<BackendSession> session;
  if (backend_ == Backend::llvm) session = sessions().find(this);
  std::shared_ptr<const KernelPlan> plan;
  std::shared_ptr<const KernelCode> code;
  std::shared_ptr<const TuningReport> report;
  // 8-bit kernels are not timed yet (the tuner's buffers are fp32): the model's pick.
  if (backend_traits(backend_).tunes(tune_) && !shape.quantized()) {
    const std::vector<Isa> isas = candidate_isas(isa_, isa_asked_);
    std::vector<PlanCandidate> candidates =
        plan_candidates(shape, requested_algorithm(shape, backend_, algo_), isa_, isas, team);
    candidates.front().plan = std::move(model);  // its algorithm_choice names the Jit's defaults
    // A winner of an earlier process for this CPU, library version and shape, if trusted.
    const std::optional<TuningCache> disk = TuningCache::from_environment();
    const std::string key = disk ? TuningCache::key(shape, backend_, isas, algo_, team) : std::string();
    const std::optional<std::string> remembered = disk ? disk->load(key) : std::nullopt;
    TunedKernel tuned = Tuner(tune_, backend_, session.get(), team, pool_.get()).tune(candidates, remembered);
    if (disk && !tuned.report->from_cache) disk->store(key, tuned.plan->name);
    plan = std::move(tuned.plan);
    code = std::move(tuned.code);
    report = std::move(tuned.report);
  } else {
    plan = std::make_shared<const KernelPlan>(std::move(model));
    code = make_code(*plan, backend_, session.get());
  }
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  auto kernel = make_kernel(std::move(plan), std::move(code), us, threads_, pool_, std::move(report));
  publish_generated_kernel(*kernel);
  return kernel;
}

std::shared_ptr<const Kernel> Jit::get(const ConvShape& shape) {
  // The code does not depend on the batch: the cache holds the n=1 kernel, and other batches
  // get its twin with their n as the default. The rest of the shape is checked by compile().
  if (shape.n <= 0 || shape.n > kMaxBatch)
    throw Error("n", "must be positive and at most " + std::to_string(kMaxBatch) + ", got " +
                         std::to_string(shape.n));
  ConvShape base = shape;
  base.n = 1;
  const CacheKey key{base, backend_};
  auto lookup = [&](bool* hit) {
    auto kernel = cache_->get_or_create(key, [&] { return compile(base); }, hit);
    if (shape.n == 1) return kernel;
    return cache_->batch_variant(key, shape.n, [&] { return with_default_batch(*kernel, shape.n); });
  };
  if (!verbose_enabled()) return lookup(nullptr);
  const auto start = std::chrono::steady_clock::now();
  bool hit = false;
  auto kernel = lookup(&hit);
  log_cache_lookup(*kernel, hit,
                   std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  return kernel;
}

std::shared_ptr<const Kernel> Jit::get(const ConvSpec& spec) { return get(spec.resolve()); }

CacheStats Jit::stats() const { return cache_->stats(); }

}  // namespace convjit
