/* The word copy tier 1 fast-forwards (mvvm/translator/idioms.py): glibc's memcpy, whose
 * bulk from a source misaligned against the destination is _wordcopy_fwd_dest_aligned,
 * over lengths around its 32-byte iterations and a few pages, at every alignment of both
 * pointers, with copies that cross page boundaries and that end on the last byte of a
 * mapping whose next page is PROT_NONE; and memmove forwards over overlapping ranges, which
 * runs the same loop where it must read bytes it wrote.  Each result is checked against a
 * byte loop of its own; the output is a checksum of the bytes.  Exits with the number of
 * failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;
static uint64_t sum;

/* Compares n bytes; copied, a and b say which copy it was. */
static void check(const char *what, const unsigned char *got, const unsigned char *want,
                  size_t n, size_t copied, size_t a, size_t b)
{
    for (size_t i = 0; i < n; i++) {
        sum = sum * 1000003u + got[i];
        if (got[i] != want[i]) {
            if (failures++ < 10)
                printf("FAIL %s(%zu bytes, %zu, %zu) at byte %zu: %u, not %u\n", what, copied,
                       a, b, i, got[i], want[i]);
            return;
        }
    }
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (unsigned char)(seed + i * 131 + (i >> 8) * 7);
}

static const size_t LENGTHS[] = {0, 1, 7, 8, 15, 16, 31, 32, 33, 47, 63, 64, 65, 95, 96, 97,
                                 127, 128, 200, 255, 256, 257, 1000, 4095, 4096, 4097, 8200};
#define COUNT (sizeof LENGTHS / sizeof LENGTHS[0])

int main(void)
{
    static unsigned char src[3 * 4096 + 64], dst[3 * 4096 + 64], want[3 * 4096 + 64];
    fill(src, sizeof src, 1);
    for (size_t l = 0; l < COUNT; l++)
        for (size_t s = 0; s < 8; s++)
            for (size_t d = 0; d < 8; d++) {
                size_t len = LENGTHS[l];
                memset(dst, 0, sizeof dst);
                memcpy(dst + d + 2000, src + s + 1000, len);       /* across a page */
                memset(want, 0, sizeof want);
                for (size_t i = 0; i < len; i++)
                    want[d + 2000 + i] = src[s + 1000 + i];
                check("memcpy", dst, want, sizeof dst, len, s, d);
            }

    /* Both ends at the last byte before a PROT_NONE page: the copy must not touch it. */
    long page = sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, 6 * page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + 2 * page, page, PROT_NONE) ||
        mprotect(map + 5 * page, page, PROT_NONE))
        return 100;
    unsigned char *from_end = map + 2 * page, *to_end = map + 5 * page;
    fill(map, 2 * page, 3);
    for (size_t l = 0; l < COUNT; l++)
        for (size_t s = 0; s < 8; s++) {
            size_t len = LENGTHS[l] < (size_t)page ? LENGTHS[l] : (size_t)page;
            memcpy(to_end - len, from_end - len - s, len);
            check("memcpy to the end", to_end - len, from_end - len - s, len, len, s, 0);
        }

    /* memmove to a lower address over the same bytes: forwards, reading what it wrote. */
    for (size_t l = 0; l < COUNT; l++)
        for (size_t gap = 1; gap < 80; gap += 13) {
            size_t len = LENGTHS[l];
            fill(src, sizeof src, (unsigned)gap);
            memcpy(want, src + 64 + gap, len);
            memmove(src + 64, src + 64 + gap, len);
            check("memmove", src + 64, want, len, len, gap, 0);
        }
    printf("memcpy: %d failures, checksum %016llx\n", failures, (unsigned long long)sum);
    return failures;
}
