/* strlen: libc's strlen over strings of lengths 0 to 16 KiB at every alignment modulo 16,
 * `size` rounds: the word-at-a-time scan, its unaligned head, and the tail after the zero.
 * Each round rewrites one byte of each string (never to zero), so no round's answer can be
 * reused from the last.  Self-check: every strlen must be the length the string was built
 * with.
 */
#include <string.h>

#include "bench.h"

#define MOST 16384
#define ALIGNS 16

typedef struct {
    char *text;
    size_t len;
} str;

/* Strings of each length at each alignment, one after another in one arena. */
static int build(str *out, char **arena)
{
    size_t lengths[128], total = 0;
    int count = bench_lengths(lengths, MOST), n = 0;
    for (int l = 0; l < count; l++)
        total += ALIGNS * (lengths[l] + 2 * ALIGNS);
    char *at = *arena = malloc(total);
    bench_check(at != NULL, "allocating the strings");
    for (int l = 0; l < count; l++)
        for (int a = 0; a < ALIGNS; a++) {
            at = (char *)(((uintptr_t)at + ALIGNS - 1) / ALIGNS * ALIGNS) + a;
            memset(at, 'a' + (l + a) % 26, lengths[l]);
            at[lengths[l]] = '\0';
            out[n++] = (str){at, lengths[l]};
            at += lengths[l] + 1;
        }
    return n;
}

int main(int argc, char **argv)
{
    long rounds = bench_size(argc, argv, 15000, 1);
    static str strings[128 * ALIGNS];
    char *arena;
    int n = build(strings, &arena);
    uint64_t total = 0, want = 0;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            str s = strings[i];
            if (s.len > 0)
                s.text[(size_t)r % s.len] = (char)('a' + r % 26);
            size_t len = strlen(s.text);
            bench_check(len == s.len, "strlen equals the built length");
            total += len;
            want += s.len;
        }
    bench_check(total == want, "the sum of the lengths");
    printf("strlen %ld rounds over %d strings: %llu bytes\n", rounds, n,
           (unsigned long long)total);
    free(arena);
    return 0;
}
