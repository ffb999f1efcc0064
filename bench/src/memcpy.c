/* memcpy: libc's memcpy over lengths from 0 to 32 KiB and every source and destination
 * alignment modulo 8, `size` rounds: the short-length branches, the unaligned heads and
 * tails, and the bulk loop.  Self-check: each copy's first and last bytes, and every 61st
 * copy byte by byte, equal the source.
 */
#include <string.h>

#include "bench.h"

#define MOST 32768
#define SPAN (MOST + 64)

static void verify(const uint8_t *dst, const uint8_t *src, size_t len, int full)
{
    if (len == 0)
        return;
    bench_check(dst[0] == src[0] && dst[len - 1] == src[len - 1], "copy's first and last bytes");
    if (full)
        for (size_t i = 0; i < len; i++)
            bench_check(dst[i] == src[i], "copy byte by byte");
}

int main(int argc, char **argv)
{
    long rounds = bench_size(argc, argv, 2000, 1);
    static uint8_t src[2 * SPAN], dst[SPAN];
    size_t lengths[128];
    int count = bench_lengths(lengths, MOST);
    uint64_t seed = 6, copies = 0, sum = 0, bytes = 0;
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (uint8_t)bench_rand(&seed);

    for (long r = 0; r < rounds; r++)
        for (int l = 0; l < count; l++)
            for (int align = 0; align < 64; align++) {
                size_t len = lengths[l], d = align % 8;
                const uint8_t *from = src + (size_t)(r * 977 + l * 31) % SPAN + align / 8;
                memcpy(dst + d, from, len);
                verify(dst + d, from, len, ++copies % 61 == 0);
                sum = sum * 31 + dst[d + len / 2];
                bytes += len;
            }
    printf("memcpy %ld rounds: %llu copies, %llu bytes, checksum %016llx\n", rounds,
           (unsigned long long)copies, (unsigned long long)bytes, (unsigned long long)sum);
    return 0;
}
