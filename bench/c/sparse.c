/* The PS sparse row apply in C, the native reference for bench/sparse.ts. Built at bench time
 * with `cc -O3 -march=native`, run as a child process:
 *   sparse <arena rows> <dim> <rows per push> <reps>
 * An arena of rows (weights + momentum, row s at s*dim), an open-addressing index from row id
 * to slot (Fibonacci hash, linear probing, keys and slots side by side), 8 pushes of distinct
 * random ids used in turn; per push row: look the slot up, v = mu*v + g; w -= lr*v; mark it
 * dirty. Prints the median, minimum and maximum rows/s over the repetitions (after 5 warm-up
 * pushes), then a checksum. Float math, as a C programmer would write it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static unsigned hash(int id) { return (unsigned)id * 0x9e3779b1u; }

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: sparse <arena rows> <dim> <rows per push> <reps>\n"); return 2; }
  int rows = atoi(argv[1]), dim = atoi(argv[2]), per = atoi(argv[3]), reps = atoi(argv[4]);
  if (rows < per || dim < 1 || reps < 1) { fprintf(stderr, "bad arguments\n"); return 2; }
  size_t floats = (size_t)rows * dim;
  float *w = aligned_alloc(64, ((floats * 4 + 63) / 64) * 64);
  float *v = aligned_alloc(64, ((floats * 4 + 63) / 64) * 64);
  float *g = malloc((size_t)per * dim * 4);
  unsigned cap = 1;
  while (cap < (unsigned)rows * 2) cap <<= 1;
  int *index = malloc((size_t)cap * 2 * sizeof(int));
  unsigned char *dirty = calloc((size_t)rows, 1);
  int *pushes = malloc((size_t)8 * per * sizeof(int));
  char *seen = malloc((size_t)rows);
  double *rate = malloc(sizeof(double) * (size_t)reps);
  if (!w || !v || !g || !index || !dirty || !pushes || !seen || !rate) { fprintf(stderr, "out of memory\n"); return 1; }
  for (size_t i = 0; i < floats; i++) { w[i] = 0.01f * (float)(i % 97); v[i] = 0; }
  for (int i = 0; i < per * dim; i++) g[i] = 0.001f * (float)(i % 89) - 0.04f;
  for (unsigned i = 0; i < cap * 2; i++) index[i] = -1;
  for (int r = 0; r < rows; r++) {
    unsigned h = hash(r) & (cap - 1);
    while (index[2 * h] != -1) h = (h + 1) & (cap - 1);
    index[2 * h] = r; index[2 * h + 1] = r;
  }
  unsigned x = 12345;
  for (int k = 0; k < 8; k++) {
    memset(seen, 0, (size_t)rows);
    for (int i = 0; i < per;) {
      x = x * 1103515245u + 12345u;
      int id = (int)(x % (unsigned)rows);
      if (!seen[id]) { seen[id] = 1; pushes[k * per + i++] = id; }
    }
  }
  const float lr = 0.01f, mu = 0.9f;
  for (int r = 0; r < reps + 5; r++) {
    const int *ids = pushes + (r % 8) * per;
    double t0 = now_ns();
    for (int i = 0; i < per; i++) {
      int id = ids[i];
      unsigned h = hash(id) & (cap - 1);
      while (index[2 * h] != id) h = (h + 1) & (cap - 1);
      int s = index[2 * h + 1];
      float *ws = w + (size_t)s * dim, *vs = v + (size_t)s * dim;
      const float *gs = g + (size_t)i * dim;
      for (int j = 0; j < dim; j++) {
        float vi = mu * vs[j] + gs[j];
        vs[j] = vi;
        ws[j] -= lr * vi;
      }
      dirty[s] = 1;
    }
    double dt = now_ns() - t0;
    if (r >= 5) rate[r - 5] = (double)per * 1e9 / dt;
  }
  qsort(rate, (size_t)reps, sizeof(double), cmp_double);
  double med = reps % 2 ? rate[reps / 2] : (rate[reps / 2 - 1] + rate[reps / 2]) / 2;
  printf("%.0f %.0f %.0f %g\n", med, rate[0], rate[reps - 1], (double)w[floats / 2] + (double)v[floats / 3] + dirty[rows / 2]);
  return 0;
}
