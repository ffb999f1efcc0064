/* The lane tests' scratch memory (lanes.c, nests.c): four pages, page-aligned, filled
 * from a xorshift generator and summed by FNV-1a, so that a program prints one checksum
 * per case for the test to compare with qemu's. */
#include <stddef.h>
#include <stdint.h>

static _Alignas(4096) unsigned char arena[4 * 4096];

static uint64_t seed = 88172645463325252ull;

static uint64_t next(void)
{
    seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
    return seed;
}

static void scramble(void)
{
    for (size_t i = 0; i < sizeof arena; i++)
        arena[i] = (unsigned char)next();
}

static uint64_t checksum(void)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof arena; i++)
        h = (h ^ arena[i]) * 1099511628211ull;
    return h;
}
