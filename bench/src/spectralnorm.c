/* spectralnorm: the Computer Language Benchmarks Game's power method for the spectral norm
 * of the infinite matrix A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1), cut to `size` x
 * `size`: integer-to-double conversions, divisions and dot products.  Self-check: the result
 * is the norm of the cut matrix, which for any size of 100 or more lies within 1e-5 of the
 * limit 1.2742241528... (smaller sizes are refused).
 */
#include <math.h>

#include "bench.h"

#define LIMIT 1.2742241528

static double a(long i, long j) { return 1.0 / ((double)((i + j) * (i + j + 1) / 2 + i + 1)); }

static void times(const double *v, double *out, long n, int transposed)
{
    for (long i = 0; i < n; i++) {
        double sum = 0;
        for (long j = 0; j < n; j++)
            sum += (transposed ? a(j, i) : a(i, j)) * v[j];
        out[i] = sum;
    }
}

/* out = A^T A v */
static void times_ata(const double *v, double *out, double *tmp, long n)
{
    times(v, tmp, n, 0);
    times(tmp, out, n, 1);
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2500, 100);
    double *u = malloc(n * sizeof *u), *v = malloc(n * sizeof *v), *tmp = malloc(n * sizeof *tmp);
    bench_check(u && v && tmp, "allocating the vectors");
    for (long i = 0; i < n; i++)
        u[i] = 1;
    for (int k = 0; k < 10; k++) {
        times_ata(u, v, tmp, n);
        times_ata(v, u, tmp, n);
    }
    double vbv = 0, vv = 0;
    for (long i = 0; i < n; i++)
        vbv += u[i] * v[i], vv += v[i] * v[i];
    double norm = sqrt(vbv / vv);
    bench_check(fabs(norm - LIMIT) < 1e-5, "the norm is near its limit");
    printf("spectralnorm %ld: %.9f\n", n, norm);
    return 0;
}
