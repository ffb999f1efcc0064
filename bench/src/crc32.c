/* crc32: a table lookup per byte, each depending on the last (the zlib/Ethernet CRC-32).
 * The work takes the CRC of a 1 MiB buffer `size` times, changing one word per pass.
 * Self-checks: the catalogue check value of "123456789", table-driven equals bit-by-bit,
 * and every pass's residue: a message followed by its own CRC (little-endian) always leaves
 * the register at the CRC-32 magic constant, whatever the message.
 */
#include <string.h>

#include "bench.h"

#define POLY 0xedb88320u
#define RESIDUE 0xdebb20e3u /* register after a message and its CRC, before the final xor */

static uint32_t table[256];

static void make_table(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[i] = c;
    }
}

/* `reg` is the raw register: ~0 to start, and the CRC is ~reg at the end. */
static uint32_t crc_update(uint32_t reg, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        reg = table[(reg ^ p[i]) & 0xff] ^ (reg >> 8);
    return reg;
}

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
    uint32_t reg = ~0u;
    for (size_t i = 0; i < n; i++) {
        reg ^= p[i];
        for (int k = 0; k < 8; k++)
            reg = reg & 1 ? (reg >> 1) ^ POLY : reg >> 1;
    }
    return ~reg;
}

/* CRC of p[0..n) with the CRC appended in the 4 bytes after it; checks the residue. */
static uint32_t crc_with_residue(uint8_t *p, size_t n)
{
    uint32_t crc = ~crc_update(~0u, p, n);
    for (int i = 0; i < 4; i++)
        p[n + i] = (uint8_t)(crc >> (8 * i));
    bench_check(crc_update(~crc, p + n, 4) == RESIDUE, "crc32 residue of message + crc");
    return crc;
}

int main(int argc, char **argv)
{
    long passes = bench_size(argc, argv, 200, 1);
    enum { N = 1 << 20 };
    static uint8_t buf[N + 4];
    uint64_t seed = 2;
    for (size_t i = 0; i < N; i++)
        buf[i] = (uint8_t)bench_rand(&seed);
    make_table();
    bench_check(~crc_update(~0u, (const uint8_t *)"123456789", 9) == 0xcbf43926u,
                "crc32 check value of '123456789'");
    bench_check(~crc_update(~0u, buf, 4096) == crc_bitwise(buf, 4096),
                "table-driven crc32 equals bit-by-bit crc32");

    uint32_t acc = 0;
    for (long r = 0; r < passes; r++) {
        uint32_t crc = crc_with_residue(buf, N);
        acc = (acc << 5 | acc >> 27) ^ crc;
        memcpy(buf + (r * 4093) % (N - 4), &acc, 4);
    }
    printf("crc32 %ld x 1 MiB: %08x\n", passes, acc);
    return 0;
}
