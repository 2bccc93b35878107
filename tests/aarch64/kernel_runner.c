/* Runs cross-compiled convjit kernels on AArch64 (under qemu-aarch64 in the tests) on data
 * the host test wrote, and writes their outputs back for the host to judge.
 *
 *   kernel_runner DIR
 *
 * For case i of kernel_cases[]: DIR/case_i.in holds the whole batch's input, then the
 * packed weights and bias; DIR/case_i.out gets [guard | dst | guard]. Output elements start
 * as NaN, so one the kernel never writes cannot pass. One line per case goes to stdout
 * before it runs, so a crash names its kernel. */
#include "kernel_runner.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void fail(const char* what, const char* path) {
  fprintf(stderr, "kernel_runner: %s %s\n", what, path);
  exit(2);
}

static void case_path(char* out, size_t size, const char* dir, int index, const char* ext) {
  snprintf(out, size, "%s/case_%d.%s", dir, index, ext);
}

static float* read_floats(const char* path, int64_t count) {
  float* data = malloc((size_t)count * sizeof(float) + 1);
  FILE* file = fopen(path, "rb");
  if (!data || !file) fail("cannot read", path);
  if (fread(data, sizeof(float), (size_t)count, file) != (size_t)count) fail("short file", path);
  fclose(file);
  return data;
}

static void write_floats(const char* path, const float* data, int64_t count) {
  FILE* file = fopen(path, "wb");
  if (!file || fwrite(data, sizeof(float), (size_t)count, file) != (size_t)count)
    fail("cannot write", path);
  fclose(file);
}

/* Kernel::run hands threads output rows and channel tiles; every such split must add up to
 * the whole output. Halving both (empty halves included) calls the kernel as run() would. */
static void run_image(const struct kernel_case* c, const float* src, const float* weights,
                      const float* bias, float* dst) {
  const int64_t rows[3] = {0, c->output_rows / 2, c->output_rows};
  const int64_t tiles[3] = {0, c->channel_tiles / 2, c->channel_tiles};
  for (int r = 0; r < 2; ++r)
    for (int t = 0; t < 2; ++t) {
      const struct kernel_call_args args = {src, weights, bias, dst,
                                            rows[r], rows[r + 1], tiles[t], tiles[t + 1], NULL};
      c->kernel(&args);
    }
}

static void run_case(const char* dir, int index) {
  const struct kernel_case* c = &kernel_cases[index];
  char path[4096];
  printf("case %d %s\n", index, c->spec);
  fflush(stdout);

  case_path(path, sizeof path, dir, index, "in");
  const int64_t src_floats = c->images * c->src_image_floats;
  float* input = read_floats(path, src_floats + c->packed_floats);
  const float* weights = input + src_floats;
  const float* bias = weights + c->bias_offset;

  const int64_t dst_floats = c->images * c->dst_image_floats;
  const int64_t buffer_floats = dst_floats + 2 * KERNEL_RUNNER_GUARD_FLOATS;
  float* buffer = malloc((size_t)buffer_floats * sizeof(float));
  if (!buffer) fail("out of memory for", c->spec);
  for (int64_t i = 0; i < buffer_floats; ++i) buffer[i] = KERNEL_RUNNER_GUARD_VALUE;
  float* dst = buffer + KERNEL_RUNNER_GUARD_FLOATS;
  for (int64_t i = 0; i < dst_floats; ++i) dst[i] = NAN;

  for (int64_t image = 0; image < c->images; ++image)
    run_image(c, input + image * c->src_image_floats, weights, bias,
              dst + image * c->dst_image_floats);

  case_path(path, sizeof path, dir, index, "out");
  write_floats(path, buffer, buffer_floats);
  free(buffer);
  free(input);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: kernel_runner DIR\n");
    return 2;
  }
  for (int i = 0; i < kernel_case_count; ++i) run_case(argv[1], i);
  printf("ran %d kernels\n", kernel_case_count);
  return 0;
}
