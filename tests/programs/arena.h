/* The lane tests' scratch memory (lanes.c, nests.c): four pages, page-aligned, filled
 * from a xorshift generator and summed by FNV-1a, so that a program prints one checksum
 * per case for the test to compare with qemu's; and a hole, for the loops that must
 * fault where the scalar loop does. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

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

/* The first byte of a PROT_NONE page that follows a readable and writable one (NULL,
 * and a line saying so, if the mappings fail). */
static unsigned char *hole(void)
{
    long page = 4096;
    unsigned char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) != 0) {
        puts("hole: mmap failed");
        return NULL;
    }
    return map + page;
}
