/* linsolve: a small dense linear solve, Gaussian elimination with partial pivoting on
 * `size` x `size` systems, repeated over ROUNDS systems: row operations over doubles and a
 * pivot search per column.  Each system A x = b is built from a known x (b = A x) with a
 * random, diagonally dominant A.  Self-checks: the computed x is the known one to 1e-9,
 * and the residual |A x - b| is tiny.
 */
#include <math.h>
#include <string.h>

#include "bench.h"

#define ROUNDS 20

typedef struct {
    long n;
    double *a, *b, *x, *a0, *b0;
} system_;

static system_ make_system(long n, uint64_t *seed)
{
    system_ s = {n, malloc(n * n * sizeof(double)), malloc(n * sizeof(double)),
                 malloc(n * sizeof(double)), malloc(n * n * sizeof(double)),
                 malloc(n * sizeof(double))};
    bench_check(s.a && s.b && s.x && s.a0 && s.b0, "allocating the system");
    for (long i = 0; i < n * n; i++)
        s.a0[i] = (double)(bench_rand(seed) % 2001) / 1000.0 - 1.0;
    for (long i = 0; i < n; i++) {
        s.a0[i * n + i] += (double)n; /* diagonally dominant: well-conditioned */
        s.x[i] = (double)(i % 7) - 3.0;
    }
    for (long i = 0; i < n; i++) {
        double sum = 0;
        for (long j = 0; j < n; j++)
            sum += s.a0[i * n + j] * s.x[j];
        s.b0[i] = sum;
    }
    return s;
}

static void swap_rows(double *a, double *b, long n, long r, long p)
{
    for (long j = 0; j < n; j++) {
        double t = a[r * n + j];
        a[r * n + j] = a[p * n + j], a[p * n + j] = t;
    }
    double t = b[r];
    b[r] = b[p], b[p] = t;
}

/* Solves a x = b in place: a is destroyed, b becomes x. */
static void solve(double *a, double *b, long n)
{
    for (long k = 0; k < n; k++) {
        long p = k;
        for (long i = k + 1; i < n; i++)
            if (fabs(a[i * n + k]) > fabs(a[p * n + k]))
                p = i;
        if (p != k)
            swap_rows(a, b, n, k, p);
        for (long i = k + 1; i < n; i++) {
            double f = a[i * n + k] / a[k * n + k];
            for (long j = k + 1; j < n; j++)
                a[i * n + j] -= f * a[k * n + j];
            b[i] -= f * b[k];
        }
    }
    for (long i = n - 1; i >= 0; i--) {
        double sum = b[i];
        for (long j = i + 1; j < n; j++)
            sum -= a[i * n + j] * b[j];
        b[i] = sum / a[i * n + i];
    }
}

static void check(const system_ *s)
{
    long n = s->n;
    for (long i = 0; i < n; i++) {
        bench_check(fabs(s->b[i] - s->x[i]) < 1e-9, "the solution is the known x");
        double r = -s->b0[i];
        for (long j = 0; j < n; j++)
            r += s->a0[i * n + j] * s->b[j];
        bench_check(fabs(r) < 1e-9 * (double)n, "the residual is tiny");
    }
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 450, 1);
    uint64_t seed = 7;
    double sum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        system_ s = make_system(n, &seed);
        memcpy(s.a, s.a0, n * n * sizeof(double));
        memcpy(s.b, s.b0, n * sizeof(double));
        solve(s.a, s.b, n);
        check(&s);
        for (long i = 0; i < n; i++)
            sum += s.b[i];
        free(s.a), free(s.b), free(s.x), free(s.a0), free(s.b0);
    }
    printf("linsolve %d systems of %ld: sum of x %.6f\n", ROUNDS, n, sum);
    return 0;
}
