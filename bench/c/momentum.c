/* The PS dense momentum loop in C, the native reference for bench/dense.ts.
 * Built at bench time with `cc -O3 -march=native` (auto-vectorized), run as a child process:
 *   momentum <n> <reps> <momentum|nesterov|copy>
 * prints one line: the median, minimum and maximum ns per parameter over the repetitions
 * (after two warm-up calls), then a checksum. Float math, as a C
 * programmer would write it; `copy` is memcpy of the same size (memory reference). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* noinline + restrict: one call per repetition, like applyUpdate, and vectorizable. */
__attribute__((noinline)) static void momentum(float *restrict w, float *restrict v, const float *restrict g,
                                               size_t n, float lr, float mu, float scale) {
  for (size_t i = 0; i < n; i++) {
    float vi = mu * v[i] + scale * g[i];
    v[i] = vi;
    w[i] -= lr * vi;
  }
}

__attribute__((noinline)) static void nesterov(float *restrict w, float *restrict v, const float *restrict g,
                                               size_t n, float lr, float mu, float scale) {
  for (size_t i = 0; i < n; i++) {
    float gi = scale * g[i];
    float vi = mu * v[i] + gi;
    v[i] = vi;
    w[i] -= lr * (gi + mu * vi);
  }
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: momentum <n> <reps> <momentum|nesterov|copy>\n"); return 2; }
  size_t n = (size_t)atol(argv[1]);
  int reps = atoi(argv[2]);
  const char *rule = argv[3];
  float *w = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
  float *v = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
  float *g = aligned_alloc(64, ((n * 4 + 63) / 64) * 64);
  if (!w || !v || !g) { fprintf(stderr, "out of memory\n"); return 1; }
  for (size_t i = 0; i < n; i++) { w[i] = 0.01f * (float)(i % 97); v[i] = 0; g[i] = 0.001f * (float)(i % 89) - 0.04f; }
  if (reps < 1) reps = 1;
  double *ns = malloc(sizeof(double) * (size_t)reps);
  if (!ns) { fprintf(stderr, "out of memory\n"); return 1; }
  for (int r = 0; r < reps + 2; r++) {
    double t0 = now_ns();
    if (strcmp(rule, "nesterov") == 0) nesterov(w, v, g, n, 0.01f, 0.9f, 1.0f);
    else if (strcmp(rule, "copy") == 0) memcpy(v, g, n * 4);
    else momentum(w, v, g, n, 0.01f, 0.9f, 1.0f);
    double dt = now_ns() - t0;
    if (r >= 2) ns[r - 2] = dt / (double)n; /* the first two warm the pages and caches */
  }
  qsort(ns, (size_t)reps, sizeof(double), cmp_double);
  double med = reps % 2 ? ns[reps / 2] : (ns[reps / 2 - 1] + ns[reps / 2]) / 2;
  /* Print a value derived from the data so the loop cannot be optimized away. */
  printf("%.4f %.4f %.4f %g\n", med, ns[0], ns[reps - 1], (double)w[n / 2] + (double)v[n / 3]);
  return 0;
}
