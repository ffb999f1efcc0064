/* Loop nests that tier 1 runs in SIMD lanes across the outer loop's iterations
 * (mvvm.translator.nests): matrix products in CoreMark's shape, c[i][j] = the sum over k
 * of a[i][k] * b[k][j], with the inner loop down a column of b; over every count of
 * columns and of terms up to a few groups, matrices that overlap the result (where the
 * lanes would read a value the scalar loop stored first, the fast path must stand aside)
 * and that end at a page's edge.  Prints a checksum per case; the test compares the
 * output with qemu's.  With an argument, runs into an unmapped page instead (SIGSEGV). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "arena.h"

/* The kernels, with their term counts and row lengths fixed, as in CoreMark (where the
 * inner loop's bound and steps are constants); unrolling kept off, so that a few terms
 * still make an inner loop. */
#define KERNEL(NAME, T, K, ROW, SUM, TERM)                                                   \
    __attribute__((noinline)) void NAME(T *c, const T##_in *a, const T##_in *b, long n)    \
    {                                                                                      \
        for (long j = 0; j < n; j++) {                                                     \
            T sum = SUM;                                                                   \
            _Pragma("GCC unroll 1") for (long t = 0; t < K; t++)                           \
            {                                                                              \
                T x = a[t], y = b[t * ROW + j];                                            \
                sum += TERM;                                                               \
            }                                                                              \
            c[j] = sum;                                                                    \
        }                                                                                  \
    }

typedef int16_t int32_t_in;
typedef uint16_t uint32_t_in;
typedef uint64_t uint64_t_in;

/* halfwords into words (CoreMark's product, and its bit fields of each product) */
KERNEL(column16_5, int32_t, 5, 13, 0, x * y)
KERNEL(column16_3, int32_t, 3, 13, 0, x * y)
KERNEL(column16_8, int32_t, 8, 13, 0, x * y)
KERNEL(column16_24, int32_t, 24, 24, 0, x * y)
KERNEL(bits16, int32_t, 6, 24, 0, ((x * y >> 2) & 0xf) * ((x * y >> 5) & 0x7f))
/* unsigned halfwords, and doublewords */
KERNEL(columnu16, uint32_t, 5, 16, 5, (x ^ y) * 3 - y)
KERNEL(column64, uint64_t, 4, 9, 0, x * y + (y >> 3))

/* every count of columns up to a few groups, at every alignment; b's last column at a
 * page's end */
static void sizes(void)
{
    unsigned char *end = arena + 8192;
    for (long n = 0; n < 14; n++)
        for (int skew = 0; skew < 4; skew += 2) {
            scramble();
            column16_5((int32_t *)(arena + 12288 + skew), (int16_t *)(arena + 100),
                       (int16_t *)(end - 2 * (4 * 13 + n)), n);
            column16_3((int32_t *)(arena + 12400 + skew), (int16_t *)(arena + 100 + skew),
                       (int16_t *)(end - 2 * (2 * 13 + n)), n);
            column16_8((int32_t *)(arena + 12600), (int16_t *)(arena + 300),
                       (int16_t *)(arena + 500 + skew), n);
            column16_24((int32_t *)(arena + 12800), (int16_t *)(arena + 200),
                        (int16_t *)(end - 2 * (23 * 24 + n)), n);
            bits16((int32_t *)(arena + 13000 + skew), (int16_t *)(arena + 200),
                   (int16_t *)(arena + 300 + skew), n);
            columnu16((uint32_t *)(arena + 14000), (uint16_t *)(arena + 600 + skew),
                      (uint16_t *)(arena + 700 + skew), n);
            column64((uint64_t *)(arena + 15000 + 4 * skew), (uint64_t *)(arena + 5000),
                     (uint64_t *)(end - 8 * (3 * 9 + n)), n);
            printf("%ld %d %016llx\n", n, skew, (unsigned long long)checksum());
        }
}

/* the result over a, or over b's columns, from 64 bytes below to 64 above */
static void overlaps(void)
{
    for (int d = -64; d <= 64; d += 2) {
        scramble();
        column16_8((int32_t *)(arena + 2000 + d), (int16_t *)(arena + 2000),
                   (int16_t *)(arena + 3000), 12);
        column16_8((int32_t *)(arena + 5000 + d), (int16_t *)(arena + 4000),
                   (int16_t *)(arena + 5000), 12);
        column64((uint64_t *)(arena + 9000 + d), (uint64_t *)(arena + 8000),
                 (uint64_t *)(arena + 9000), 9);
        printf("%d %016llx\n", d, (unsigned long long)checksum());
    }
}

/* `nests hole`: the results run into a PROT_NONE page, and `nests column`: b's last row
 * does (at its tenth column); the fault is the scalar loop's, at its store or load. */
static void into_a_hole(const char *which)
{
    unsigned char *end = hole();
    if (end == NULL)
        return;
    if (strcmp(which, "column") == 0)
        column16_8((int32_t *)arena, (int16_t *)(arena + 64),
                   (int16_t *)(end - 2 * (7 * 13 + 9)), 20);
    else
        column16_8((int32_t *)(end - 10 * 4), (int16_t *)arena, (int16_t *)(arena + 64), 20);
}

int main(int argc, char **argv)
{
    if (argc > 1) {
        into_a_hole(argv[1]);
        return 1;
    }
    sizes();
    overlaps();
    scramble();
    for (int round = 0; round < 20; round++)
        column16_24((int32_t *)(arena + 9000), (int16_t *)(arena + 100),
                    (int16_t *)(arena + 4000 + round), 300);
    printf("long %016llx\n", (unsigned long long)checksum());
    return 0;
}
