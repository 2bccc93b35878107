#pragma once
// Include in exactly one source file of a test program: it replaces the global operator new.
#include <atomic>
#include <cstddef>
#include <cstdlib>
#include <new>

// Every allocation of the test program, counted: run() must not allocate once a thread's
// scratch exists. Under a sanitizer, which owns malloc and operator new, its allocation hook
// counts them (replacing operator new there mismatches the sanitizer's own pairs inside
// libLLVM); otherwise the replaceable global operator new does.
namespace convjit::testing {
inline std::atomic<long> allocations{0};
}  // namespace convjit::testing

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
extern "C" int __sanitizer_install_malloc_and_free_hooks(
    void (*malloc_hook)(const volatile void*, std::size_t), void (*free_hook)(const volatile void*));
namespace {
void count_allocation(const volatile void*, std::size_t) { convjit::testing::allocations.fetch_add(1, std::memory_order_relaxed); }
void ignore_free(const volatile void*) {}
const int hooks_installed = __sanitizer_install_malloc_and_free_hooks(&count_allocation, &ignore_free);
}  // namespace
#else
void* operator new(std::size_t bytes) {
  convjit::testing::allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(bytes ? bytes : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes) { return ::operator new(bytes); }
void* operator new(std::size_t bytes, std::align_val_t al) {
  convjit::testing::allocations.fetch_add(1, std::memory_order_relaxed);
  const std::size_t a = static_cast<std::size_t>(al);
  if (void* p = std::aligned_alloc(a, (bytes + a - 1) / a * a)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t bytes, std::align_val_t al) { return ::operator new(bytes, al); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
#endif
