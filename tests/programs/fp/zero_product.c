/* Fused multiply-adds whose product is an exact zero, at every pass of a loop in the steady
 * FP state (round to nearest, NX set), as on a fractal's real axis, where the imaginary
 * part stays 0 * x + 0, or with a subnormal addend: exact, no flag, so tier 1's
 * copy of the loop for that state keeps them on its fast path instead of leaving each to
 * tier 0. Every result's bits and the flags go into a checksum that must be qemu's.
 */
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    volatile double third = 1.0, zero = 0.0, three = 3.0, tiny = 0x1p-1060;
    volatile float zerof = 0.0f;
    third = third / three;                      /* NX: the steady state from here */
    double im = zero, re = third;
    for (long i = 0; i < n; i++) {
        double k = (double)(i % 7 + 2);
        im = __builtin_fma(2.0 * re, im, zero);         /* 2 re * 0 + 0 */
        mix_d(im);
        mix_d(__builtin_fma(k, -zero, im));             /* k * -0 + 0: +0 */
        mix_d(__builtin_fma(-zero, k, -zero));          /* -0 * k - 0: -0 */
        mix_f(__builtin_fmaf((float)k, -zerof, -zerof));    /* single: -0 */
        mix_d(__builtin_fma(zero, k, tiny));            /* 0 * k + a subnormal */
        re = re * 0.5 + 0.25;
        mix_d(re);
    }
    printf("%ld passes: %016llx, fflags %#x\n", n, (unsigned long long)sum, flags());
    return 0;
}
