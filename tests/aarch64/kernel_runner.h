/* What the AArch64 kernel runner and the kernel table the host test generates share.
 * C, not C++: Debian's cross compiler package (gcc-aarch64-linux-gnu) has no g++. */
#ifndef CONVJIT_TESTS_AARCH64_KERNEL_RUNNER_H
#define CONVJIT_TESTS_AARCH64_KERNEL_RUNNER_H

#include <stdint.h>

/* generator/kernel_call_args.hpp's KernelCallArgs. The generated table asserts the host's
 * sizeof and offsetof values against this layout, so the two cannot drift apart. */
struct kernel_call_args {
  const float* src;
  const float* weights;
  const float* bias;
  float* dst;
  int64_t unit_begin;
  int64_t unit_end;
  int64_t tile_begin;
  int64_t tile_end;
  const float* residual; /* NULL: the shapes run here add none */
  float* scratch;        /* NULL: no Winograd kernels here */
};

typedef void (*kernel_entry)(const struct kernel_call_args*);

/* One cross-compiled kernel and the sizes of the data it is run on (in floats). */
struct kernel_case {
  kernel_entry kernel;
  const char* spec;
  int64_t images;
  int64_t src_image_floats;
  int64_t dst_image_floats;
  int64_t packed_floats;   /* weights, then bias */
  int64_t bias_offset;     /* where the bias starts in the packed floats */
  int64_t output_rows;
  int64_t channel_tiles;
};

extern const struct kernel_case kernel_cases[];
extern const int kernel_case_count;

/* dst is surrounded by this many floats of guard_value on each side; the host checks them. */
#define KERNEL_RUNNER_GUARD_FLOATS 16
#define KERNEL_RUNNER_GUARD_VALUE (-12345.5f)

#endif
