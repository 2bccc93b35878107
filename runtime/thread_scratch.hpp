#pragma once
// Scratch memory of the calling thread for kernels that need some (Winograd's transformed
// tiles). Each thread keeps one 64-byte aligned buffer that only grows: the first run() on a
// thread that needs more than it has allocates, every later one reuses it, so a host's steady
// state allocates nothing. Freed when the thread ends.
#include <cstddef>

namespace convjit {

// At least `floats` floats, valid until this thread asks for more or ends.
float* thread_scratch(std::size_t floats);

// A second buffer with the same rules, for what one run() stages for all its threads (NCHW
// tensors transposed for an NHWC kernel) while the calling thread also uses its scratch.
float* thread_staging(std::size_t floats);

}  // namespace convjit
