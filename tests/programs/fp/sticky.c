/* Special results (infinities, NaNs, tiny values) of sums, products, quotients, roots and
 * fused multiply-adds once the flags they raise are set: tier 1 then keeps the engine's
 * result, a NaN made canonical, instead of taking the slow path (SlowPath.flags_set_already;
 * an infinite quotient needs DZ too, since it may be a division by zero). Every
 * result's bits, and the flags every 1000 passes, go into a checksum that must be qemu's;
 * the first pass raises each flag for the first time.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checksum.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000;
    volatile double big = 1e308, small = 1e-310, inf = INFINITY, zero = 0.0;
    volatile float bigf = 3e38f, smallf = 1e-40f, inff = INFINITY;
    for (long i = 0; i < n; i++) {
        double k = (double)(i % 7 + 2);
        float kf = (float)k;
        mix_d(big + big * (0.8 + 0.02 * k));    /* OF, NX (the product is normal) */
        mix_d((inf + k) - inf);                 /* NV: a canonical NaN */
        mix_d(__builtin_fma(big, k, big));      /* OF, NX */
        mix_d(__builtin_fma(small, 0.3 + k, small)); /* UF, NX */
        mix_d(big * k);                         /* OF, NX */
        mix_d(small * (1e-10 * k));             /* UF, NX */
        mix_d(k / zero);                        /* DZ */
        mix_d(big / (0.01 / k));                /* OF, NX */
        mix_d(small / (k * 1e10));              /* UF, NX */
        mix_d(sqrt(-k));                        /* NV */
        mix_f(bigf * kf);                       /* the same in single */
        mix_f(bigf + bigf * (kf - 1));
        mix_f(smallf * (0.3f + kf));
        mix_f((inff + kf) - inff);
        mix_f(__builtin_fmaf(bigf, kf, bigf));
        if (i % 1000 == 0)
            mix(flags());
    }
    printf("%ld passes: %016llx, fflags %#x\n", n, (unsigned long long)sum, flags());
    return 0;
}
