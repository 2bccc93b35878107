#include "runtime/thread_count.hpp"

#include <cstdlib>

namespace convjit {

int default_thread_count() {
  const char* env = std::getenv("OMP_NUM_THREADS");
  if (!env) return 1;
  // The environment is advice, not an argument: a value out of range means one thread.
  const int n = std::atoi(env);
  return n > 0 && n <= kMaxThreads ? n : 1;
}

}  // namespace convjit
