/* The FP state tier 1 assumes while it lasts (frm is RNE and NX is set: see
 * Emitter.keep_fp_steady) must end wherever fcsr changes other than by raised flags: fsrm
 * and fsflags in the loop itself, a call that sets the rounding mode, feclearexcept.
 * Every result's bits and the flags after it go into a checksum, printed per phase, which
 * must be qemu's.
 */
#include <fenv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t sum;

static void mix(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    sum = sum * 1000003u + bits;
}

static unsigned flags(void)
{
    unsigned f;
    __asm__ volatile("frflags %0" : "=r"(f));
    return f;
}

__attribute__((noinline)) static void set_mode(int mode) { fesetround(mode); }

static const int MODES[] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};

int main(void)
{
    volatile double third = 1.0 / 3.0, tenth = 0.1;
    double x = third, y = tenth;
    for (int i = 0; i < 20000; i++) {           /* frm and fflags written in the loop */
        unsigned mode = (unsigned)(i / 7) % 5;  /* RNE, RTZ, RDN, RUP, RMM */
        __asm__ volatile("fsrm %0" : : "r"(mode));
        x = x * 1.0000001 + y / 3.0;
        y = y - x / 7.0;
        if (i % 5 == 0)
            __asm__ volatile("fsflags zero");
        float f = (float)x * 3.1f;
        mix(x), mix(y), mix(f), sum += flags();
    }
    __asm__ volatile("fsrm zero");
    printf("fsrm and fsflags: %016llx\n", (unsigned long long)sum);

    for (int i = 0; i < 20000; i++) {           /* a call changes the mode */
        set_mode(MODES[i % 4]);
        x = x / 1.0000003 + third;
        y = y * tenth + x;
        if (i % 3 == 0)
            feclearexcept(FE_ALL_EXCEPT);
        mix(x), mix(y), sum += (uint64_t)fetestexcept(FE_ALL_EXCEPT);
    }
    set_mode(FE_TONEAREST);
    printf("fesetround and feclearexcept: %016llx\n", (unsigned long long)sum);
    return 0;
}
