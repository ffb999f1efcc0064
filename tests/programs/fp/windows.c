/* FP windows (mvvm/translator/fp_windows.py): in a loop's copy for the steady FP state, a
 * sum that a later operation reads goes untested, and a test that fails sends the whole
 * window back to its start. Each phase's loop holds one window, fixed by inline asm:
 * fsub (read by the fadd: untested), addi, fadd (read by the fmul: untested), fmul. At
 * some passes the fsub overflows, or makes a NaN, or the fmul underflows: the flags, every
 * result's bits and the count of passes (the addi, which must not run twice) must be
 * qemu's.
 */
#include <fenv.h>
#include <math.h>
#include <stdio.h>

#include "checksum.h"

#define PASSES 200000

static double left[PASSES], right[PASSES];

__attribute__((noinline)) static void phase(const char *name, double c, double d)
{
    long count = 0;
    double acc = 0;
    feclearexcept(FE_ALL_EXCEPT);
    for (int k = 0; k < PASSES; k++) {
        double t, u, p;
        __asm__ volatile("fsub.d %[t], %[a], %[b]\n\t"
                         "addi %[n], %[n], 1\n\t"
                         "fadd.d %[u], %[t], %[c]\n\t"
                         "fmul.d %[p], %[u], %[d]"
                         : [t] "=&f"(t), [u] "=&f"(u), [p] "=&f"(p), [n] "+r"(count)
                         : [a] "f"(left[k]), [b] "f"(right[k]), [c] "f"(c), [d] "f"(d));
        acc += p;
        mix_d(t), mix_d(u), mix_d(p);
    }
    printf("%-9s flags %02x passes %ld results %016llx sum %a\n", name, flags(), count,
           (unsigned long long)sum, acc);
}

/* Ordinary operands, inexact results; at each pass in `at` (every `every` from `first`),
 * the operands a, b. */
static void operands(int first, int every, double a, double b)
{
    for (int k = 0; k < PASSES; k++) {
        left[k] = 1.0 + k / 3.0;
        right[k] = -0.1 * k;
        if (k >= first && (k - first) % every == 0)
            left[k] = a, right[k] = b;
    }
}

int main(void)
{
    volatile double big = 1.5e308, inf = INFINITY, tiny = 0x1p-1000;
    operands(PASSES, 1, 0, 0);
    phase("ordinary", 0.25, 1.0 / 3.0);
    operands(190000, PASSES, big, -big);        /* the fsub overflows once */
    phase("overflow", 0.25, 1.0 / 3.0);
    operands(190000, PASSES, inf, inf);         /* inf - inf: a NaN, once */
    phase("nan", 0.25, 1.0 / 3.0);
    operands(150000, 250, big, -big);           /* overflows, again and again */
    phase("overflows", 0.25, 1.0 / 3.0);
    operands(190000, PASSES, tiny, 0);          /* the fmul underflows once */
    phase("underflow", 0, 0x1.5555555555555p-62);
    return 0;
}
