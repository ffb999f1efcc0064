/* The checksum the fp/ programs fold their results into: every result's bits, and
 * fflags where they look, so that one line of output is qemu's or not. */
#include <stdint.h>
#include <string.h>

static uint64_t sum;

static inline void mix(uint64_t bits) { sum = sum * 1000003u + bits; }

static inline void mix_d(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    mix(bits);
}

static inline void mix_f(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    mix(bits);
}

static inline unsigned flags(void)
{
    unsigned f;
    __asm__ volatile("frflags %0" : "=r"(f));
    return f;
}
