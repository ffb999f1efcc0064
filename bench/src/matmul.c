/* matmul: an integer matrix product, C = A B over `size` x `size` matrices of 32-bit
 * integers that wrap (unsigned, so the wrap is defined): multiply-adds streaming along
 * rows.  Self-check: Freivalds' test with random vectors, A (B x) == C x, exact in
 * arithmetic modulo 2^32, for any size.
 */
#include "bench.h"

static uint32_t *matrix(long n, uint64_t *seed)
{
    uint32_t *m = malloc(n * n * sizeof *m);
    bench_check(m != NULL, "allocating a matrix");
    for (long i = 0; i < n * n; i++)
        m[i] = (uint32_t)bench_rand(seed);
    return m;
}

static void multiply(const uint32_t *a, const uint32_t *b, uint32_t *c, long n)
{
    for (long i = 0; i < n * n; i++)
        c[i] = 0;
    for (long i = 0; i < n; i++)
        for (long k = 0; k < n; k++) {
            uint32_t aik = a[i * n + k];
            for (long j = 0; j < n; j++)
                c[i * n + j] += aik * b[k * n + j];
        }
}

static void times_vector(const uint32_t *m, const uint32_t *x, uint32_t *y, long n)
{
    for (long i = 0; i < n; i++) {
        uint32_t s = 0;
        for (long j = 0; j < n; j++)
            s += m[i * n + j] * x[j];
        y[i] = s;
    }
}

/* Freivalds: A (B x) == (A B) x for a random x; a wrong C passes with tiny probability. */
static void freivalds(const uint32_t *a, const uint32_t *b, const uint32_t *c, long n,
                      uint64_t *seed)
{
    uint32_t *x = malloc(n * sizeof *x), *bx = malloc(n * sizeof *bx);
    uint32_t *abx = malloc(n * sizeof *abx), *cx = malloc(n * sizeof *cx);
    bench_check(x && bx && abx && cx, "allocating the vectors");
    for (int trial = 0; trial < 2; trial++) {
        for (long i = 0; i < n; i++)
            x[i] = (uint32_t)bench_rand(seed);
        times_vector(b, x, bx, n);
        times_vector(a, bx, abx, n);
        times_vector(c, x, cx, n);
        for (long i = 0; i < n; i++)
            bench_check(abx[i] == cx[i], "Freivalds: A (B x) == C x");
    }
    free(x), free(bx), free(abx), free(cx);
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 900, 1);
    uint64_t seed = 4;
    uint32_t *a = matrix(n, &seed), *b = matrix(n, &seed), *c = matrix(n, &seed);
    multiply(a, b, c, n);
    freivalds(a, b, c, n, &seed);
    uint32_t sum = 0;
    for (long i = 0; i < n * n; i++)
        sum = sum * 31 + c[i];
    printf("matmul %ldx%ld: %08x\n", n, n, sum);
    return 0;
}
