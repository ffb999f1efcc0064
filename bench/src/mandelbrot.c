/* mandelbrot: escape-time iteration over a `size` x `size` grid of the complex plane
 * [-2, 0.5] x [-1.25, 1.25], at most 255 iterations a point: dependent double multiplies
 * and adds with a data-dependent exit.  Self-checks: the picture is symmetric about the
 * real axis (the grid's rows are exact negatives, and IEEE arithmetic commutes with
 * negation, so the counts match exactly), c = 0 never escapes, and c = 0.5 (in the last
 * column) escapes after 5 iterations.
 */
#include "bench.h"

#define MAX_ITER 255

static int escape_time(double cr, double ci)
{
    double zr = 0, zi = 0;
    int k = 0;
    for (; k < MAX_ITER && zr * zr + zi * zi <= 4.0; k++) {
        double t = zr * zr - zi * zi + cr;
        zi = 2.0 * zr * zi + ci;
        zr = t;
    }
    return k;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 1600, 3) | 1; /* odd, so that one row is the real axis */
    long mid = n / 2;
    double step = 2.5 / (double)(n - 1);
    uint8_t *counts = malloc(n * n);
    bench_check(counts != NULL, "allocating the picture");
    uint64_t total = 0;
    for (long y = 0; y < n; y++) {
        double ci = (double)(y - mid) * step;
        for (long x = 0; x < n; x++) {
            int k = escape_time(-2.0 + (double)x * step, ci);
            counts[y * n + x] = (uint8_t)k;
            total += k;
        }
    }
    for (long y = 0; y < mid; y++)
        for (long x = 0; x < n; x++)
            bench_check(counts[y * n + x] == counts[(n - 1 - y) * n + x], "symmetric picture");
    bench_check(escape_time(0, 0) == MAX_ITER, "c = 0 stays bounded");
    bench_check(counts[mid * n + n - 1] == 5, "c = 0.5 escapes after 5 iterations");
    printf("mandelbrot %ldx%ld: %llu iterations\n", n, n, (unsigned long long)total);
    free(counts);
    return 0;
}
