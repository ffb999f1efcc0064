/* Element-wise loops that tier 1 runs in SIMD lanes (mvvm.translator.vectorize), over
 * lengths around a group's, arrays that overlap at every distance from -40 to 40 bytes
 * (where the lanes would read a value the scalar loop stored first, the fast path must
 * stand aside), misaligned elements and arrays that cross pages; and double-precision
 * loops over values whose results are zero, subnormal, infinite or NaN, in each rounding
 * mode and with the flags clear or set; and sums over elements of each width.  Prints a
 * checksum per case, of the FP results' bits and the accrued flags too; the test compares
 * the output with qemu's.  With an argument, runs into an unmapped page instead
 * (SIGSEGV). */
#include <fenv.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"

#define N 300

__attribute__((noinline)) void axpy32(uint32_t *c, const uint32_t *b, uint32_t a, long n)
{
    for (long j = 0; j < n; j++)
        c[j] += a * b[j];
}

__attribute__((noinline)) void mix64(uint64_t *d, const uint64_t *s, uint64_t k, long n)
{
    for (long j = 0; j < n; j++)
        d[j] = ((s[j] >> 7) ^ k) + (s[j] << 3);
}

__attribute__((noinline)) void shift64(int64_t *d, const int64_t *s, long n)
{
    for (long j = 0; j < n; j++)
        d[j] = (s[j] >> 5) - s[j];
}

__attribute__((noinline)) void fill64(uint64_t *d, uint64_t v, long n)
{
    for (long j = 0; j < n; j++)
        d[j] = v;
}

__attribute__((noinline)) void words32(uint32_t *d, const uint32_t *s, long n)
{
    for (long j = 0; j < n; j++)
        d[j] = (s[j] >> 3) ^ (s[j] << 5) ^ 0x9e3779b9u;
}

/* through one pointer: a store 8 bytes above a load (each pass reads what the one two
 * before stored), and one 12 below (reads ahead of the stores) */
__attribute__((noinline)) void smear32(volatile uint32_t *a, long n)
{
    for (long j = 0; j < n; j++)
        a[j + 2] += a[j];
}

__attribute__((noinline)) void pull32(volatile uint32_t *a, long n)
{
    for (long j = 0; j < n; j++)
        a[j] -= a[j + 3] * 5;
}

/* doubles: a fused multiply-subtract, a quotient, and rows of a matrix (one pointer
 * derived from the other by an invariant distance) */
__attribute__((noinline)) void daxpy(double *y, const double *x, double a, long n)
{
    for (long j = 0; j < n; j++)
        y[j] -= a * x[j];
}

__attribute__((noinline)) void ratio(double *z, const double *x, const double *y, long n)
{
    for (long j = 0; j < n; j++)
        z[j] = x[j] / y[j] + x[j];
}

__attribute__((noinline)) void rows(double *m, long n, long r, long k, double f, long from)
{
    for (long j = from; j < n; j++)
        m[r * n + j] -= f * m[k * n + j];
}

/* sums: each iteration adds to a register that nothing else in the loop reads, over
 * elements of 1, 2, 4 and 8 bytes (the narrow ones widened to words); prefix32 stores
 * its running sum, so it stays scalar */
__attribute__((noinline)) int dot16(const int16_t *a, const int16_t *b, long n)
{
    int sum = 0;
    for (long j = 0; j < n; j++)
        sum += a[j] * b[j];
    return sum;
}

__attribute__((noinline)) unsigned dotu16(const uint16_t *a, const int16_t *b, long n)
{
    unsigned sum = 7;
    for (long j = 0; j < n; j++)
        sum += (unsigned)(a[j] * b[j]);
    return sum;
}

__attribute__((noinline)) int bytes8(const signed char *s, const unsigned char *u, long n)
{
    int sum = -3;
    for (long j = 0; j < n; j++)
        sum += s[j] * 3 - u[j];
    return sum;
}

__attribute__((noinline)) uint64_t sum64(const uint64_t *p, long n)
{
    uint64_t sum = 11;
    for (long j = 0; j < n; j++)
        sum += p[j] ^ 0x5555;
    return sum;
}

__attribute__((noinline)) uint32_t prefix32(uint32_t *d, const uint32_t *s, long n)
{
    uint32_t sum = 0;
    for (long j = 0; j < n; j++)
        d[j] = sum += s[j];
    return sum;
}

static double special(uint64_t r)
{
    static const double values[] = {0.0, -0.0, 1e-310, -4e-320, INFINITY, -INFINITY, NAN,
                                    1e308, -1e308, 1e-300, 3.0, -0.5};
    return (r & 7) ? (double)(int64_t)(r >> 11) / (double)(1 << 20)
                   : values[(r >> 3) % (sizeof values / sizeof *values)];
}

static void doubles(const char *mode, int round)
{
    double *d = (double *)arena;
    for (int clear = 0; clear < 2; clear++)
        for (long n = 1; n < 60; n += 7) {
            for (size_t i = 0; i < sizeof arena / 8; i++)
                d[i] = special(next());
            fesetround(round);
            if (clear)
                feclearexcept(FE_ALL_EXCEPT);
            /* the first and last passes exact (scalar, they raise no NX), the others not */
            d[700] = d[700 + 3 * n - 1] = 0.0, d[2] = d[2 + 3 * n - 1] = 1.0;
            daxpy(d + 2, d + 700, special(next()), n * 3);
            int first = fetestexcept(FE_ALL_EXCEPT);
            ratio(d + 1024, d + 64, d + 128, n);
            rows(d + 1200, 30, n % 7, 3, special(next()), n % 5);
            rows(d + 1400, 1, 5, 4, 0.25, 0);       /* the row below: 8 bytes apart */
            rows(d + 1400, 1, 4, 5, 0.75, 0);       /* and above */
            int flags = fetestexcept(FE_ALL_EXCEPT);
            fesetround(FE_TONEAREST);
            printf("%s %d %ld %016llx %02x %02x\n", mode, clear, n,
                   (unsigned long long)checksum(), first, flags);
        }
}

/* All results normal, only the first and last exact: NX stays clear until the last but
 * one pass, so the passes between must not run as if it were set. */
static void unsteady(void)
{
    double *y = (double *)(arena + 8192), *x = y + 100;
    for (int i = 0; i < 40; i++)
        x[i] = 1.0 + i / 3.0, y[i] = i * 0.7;
    x[0] = x[39] = 0.0;
    feclearexcept(FE_ALL_EXCEPT);
    daxpy(y, x, 0.1, 40);
    printf("unsteady %02x %016llx\n", fetestexcept(FE_ALL_EXCEPT),
           (unsigned long long)checksum());
}

/* NX set, every result normal but one: exactly the smallest normal, rounded up (ties to
 * even) from 2^-1022 (1 - 2^-53), which is tiny after rounding: UF, as from the scalar
 * loop. */
static void tie(void)
{
    double *y = (double *)(arena + 8192), *x = y + 100;
    for (int i = 0; i < 40; i++)
        x[i] = 1.0 + i / 3.0, y[i] = i * 0.7;
    x[21] = DBL_MIN, y[21] = 0.0;
    feclearexcept(FE_ALL_EXCEPT);
    feraiseexcept(FE_INEXACT);
    daxpy(y, x, -(1.0 - 0x1p-53), 40);
    printf("tie %02x %016llx\n", fetestexcept(FE_ALL_EXCEPT),
           (unsigned long long)checksum());
}

/* every length up to a few groups, every alignment, the narrow elements across a page */
static void sums(void)
{
    for (long n = 0; n < 40; n++)
        for (int skew = 0; skew < 4; skew++) {
            scramble();
            const unsigned char *at = arena + 4096 - 2 * n + skew;
            int dot = dot16((const int16_t *)at, (const int16_t *)(arena + 100 + skew), n);
            unsigned dotu = dotu16((const uint16_t *)(arena + 9000 + skew),
                                   (const int16_t *)at, n);
            int bytes = bytes8((const signed char *)at, arena + 200 + skew, n);
            uint64_t wide = sum64((const uint64_t *)(arena + 5000 + skew), n);
            uint32_t prefix = prefix32((uint32_t *)(arena + 12000),
                                       (uint32_t *)(arena + 7000), n);
            printf("sums %ld %d %d %u %d %016llx %u %016llx\n", n, skew, dot, dotu, bytes,
                   (unsigned long long)wide, prefix, (unsigned long long)checksum());
        }
    scramble();
    printf("sums long %d %016llx\n",
           dot16((const int16_t *)arena, (const int16_t *)arena, 8000),
           (unsigned long long)sum64((const uint64_t *)(arena + 3), 2000));
}

/* `lanes hole` (and `lanes hole16`): a loop that runs into a PROT_NONE page dies where
 * the scalar loop does, at the load of the page's first element (test_vectorize reads the
 * pc MVVM reports): axpy32's words, dot16's halfwords. */
static void into_a_hole(const char *which)
{
    unsigned char *end = hole();
    if (end == NULL)
        return;
    if (strcmp(which, "hole16") == 0)
        printf("%d\n", dot16((int16_t *)(end - 24 * 2), (int16_t *)arena, 64));
    else
        axpy32((uint32_t *)(end - 24 * 4), (uint32_t *)arena, 5, 64);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        into_a_hole(argv[1]);
        return 1;
    }
    /* disjoint, every length up to a few groups, every alignment of the bytes */
    for (long n = 0; n < 40; n++)
        for (int skew = 0; skew < 4; skew++) {
            scramble();
            axpy32((uint32_t *)(arena + 8192 + skew), (uint32_t *)(arena + 16 + skew),
                   (uint32_t)next(), n);
            mix64((uint64_t *)(arena + 12288 + skew), (uint64_t *)(arena + 4000 + 2 * skew),
                  next(), n);
            printf("%ld %d %016llx\n", n, skew, (unsigned long long)checksum());
        }
    /* overlapping: the destination from 40 bytes below the source to 40 above */
    for (int d = -40; d <= 40; d++) {
        scramble();
        axpy32((uint32_t *)(arena + 4096 + d), (uint32_t *)(arena + 4096), 3, N);
        words32((uint32_t *)(arena + 9000 + d), (uint32_t *)(arena + 9000), N);
        mix64((uint64_t *)(arena + 13000 + d), (uint64_t *)(arena + 13000), 5, N / 2);
        shift64((int64_t *)(arena + 2000 + d), (int64_t *)(arena + 2000), N / 2);
        axpy32((uint32_t *)(arena + 6000), (uint32_t *)(arena + 6000), 7, N);
        smear32((uint32_t *)(arena + 7000 + d), N);
        pull32((uint32_t *)(arena + 11000 + d), N);
        printf("%d %016llx\n", d, (unsigned long long)checksum());
    }
    /* across pages, long runs */
    scramble();
    for (int round = 0; round < 50; round++) {
        axpy32((uint32_t *)(arena + 100), (uint32_t *)(arena + 8190), (uint32_t)round, 2000);
        fill64((uint64_t *)(arena + 9000 + round), next(), 800);
        shift64((int64_t *)(arena + 3), (int64_t *)(arena + 7000), 1000);
    }
    printf("pages %016llx\n", (unsigned long long)checksum());
    sums();
    unsteady();
    tie();
    doubles("nearest", FE_TONEAREST);
    doubles("upward", FE_UPWARD);
    doubles("zero", FE_TOWARDZERO);
    return 0;
}
