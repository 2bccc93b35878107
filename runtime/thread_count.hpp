#pragma once
// The thread count a kernel uses when the caller does not say: OMP_NUM_THREADS, else 1.
namespace convjit {
int default_thread_count();
}
