#pragma once
// The thread count a kernel uses when the caller does not say: OMP_NUM_THREADS, else 1.
namespace convjit {

// More threads than this is a mistake, not a request: each would be a real OS thread.
inline constexpr int kMaxThreads = 1024;

int default_thread_count();

}  // namespace convjit
