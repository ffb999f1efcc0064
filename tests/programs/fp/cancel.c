/* Fused multiply-adds whose results are not normal, at every pass of a loop in the steady
 * FP state (round to nearest, NX set): exact zeros (0 * k + 0, and k * 3 - 3k cancelling),
 * exact subnormals, then tiny inexact ones (UF). Tier 1's copy of the loop for that state
 * leaves each to tier 0 (SlowPath.left_to_tier0), which runs it without leaving wasm for
 * Python. Every result's bits and the flags after each loop go into a checksum that must
 * be qemu's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 100000;
    volatile double third = 1.0, zero = 0.0, tiny = 0x1p-1060, three = 3.0;
    third = third / three;                      /* NX: the steady state from here */
    for (long i = 0; i < n; i++) {
        double k = (double)(i % 7 + 2);
        mix_d(__builtin_fma(zero, k, -zero));   /* 0 * k - 0: an exact zero */
        mix_d(__builtin_fma(k, three, -(k * 3.0)));   /* cancels exactly */
        mix_d(__builtin_fma(tiny, k, tiny));    /* an exact subnormal */
    }
    mix(flags());                               /* NX alone */
    for (long i = 0; i < n; i++)
        mix_d(__builtin_fma(tiny, third * (double)(i % 5 + 1), 0x1p-1070));  /* UF, NX */
    printf("%ld passes: %016llx, fflags %#x\n", n, (unsigned long long)sum, flags());
    return 0;
}
