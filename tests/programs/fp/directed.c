/* Loops that run whole under a directed rounding mode (fesetround before them): every
 * inexact result's slow path is taken, at every pass. Tier 1 leaves each to tier 0, which
 * rounds it as frm says (SlowPath.leaves). Sums, products, quotients, roots, fused
 * multiply-adds and conversions in double and single; every result's bits and the flags
 * after each mode go into a checksum that must be qemu's.
 */
#include <fenv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"

static const int MODES[] = {FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO, FE_TONEAREST};

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    for (int m = 0; m < 4; m++) {
        fesetround(MODES[m]);
        double s = 0, p = 1;
        float sf = 0;
        for (long i = 1; i <= n; i++) {
            s += 1.0 / (double)i;
            p = __builtin_fma(p, 1.0000001, s * 1e-9);
            sf += 1.0f / (float)(i * 3);
            mix_d(s);
            mix_d(p);
            mix_d(sqrt(s + (double)i));
            mix_f(sf);
            mix((uint64_t)(long)(p * 1e15));
        }
        mix(flags());
    }
    printf("%ld passes in each mode: %016llx, fflags %#x\n", n, (unsigned long long)sum,
           flags());
    return 0;
}
