#pragma once
// ThreadPool: the host's own threads, for engines that already run a pool (in the spirit of
// pthreadpool's parallelize_1d). run() hands it a plain function and a context, so a call
// allocates nothing; OpenMP stays the default when no pool is given.
#include <cstdint>

namespace convjit {

class ThreadPool {
 public:
  using Task = void (*)(void* context, std::int64_t index);

  virtual ~ThreadPool() = default;

  // The threads the pool runs tasks on, at least 1: run() shares its work out in this many
  // parts unless RunOptions::threads says otherwise.
  virtual int threads() const = 0;

  // Calls task(context, i) exactly once for every i in [0, count), on any threads, and returns
  // when every call has returned. The calls write disjoint outputs, so any order is fine.
  virtual void parallel_for(std::int64_t count, Task task, void* context) = 0;
};

}  // namespace convjit
