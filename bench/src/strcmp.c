/* strcmp: libc's strcmp over pairs of strings that share a prefix of 0 to 16 KiB, at
 * mismatched alignments, `size` rounds.  Each pair is equal, or ends early on one side, or
 * differs in the byte after the prefix, either way.  Each round rewrites one prefix byte in
 * both strings alike.  Self-check: every result's sign is the one the pair was built with.
 */
#include <string.h>

#include "bench.h"

#define MOST 16384
#define SHAPES 4 /* equal, left shorter, left smaller, left larger */

typedef struct {
    char *left, *right;
    size_t prefix;
    int sign;
} pair;

/* One string of the pair: the prefix, then `tail` (may be empty), at alignment `align`. */
static char *place(char **at, size_t prefix, const char *tail, unsigned align)
{
    char *s = (char *)(((uintptr_t)*at + 15) / 16 * 16) + align;
    memset(s, 'm', prefix);
    strcpy(s + prefix, tail);
    *at = s + prefix + strlen(tail) + 1;
    return s;
}

static int build(pair *out, char **arena)
{
    static const char *const tails[SHAPES][2] = {{"", ""}, {"", "x"}, {"a", "b"}, {"z", "y"}};
    static const int signs[SHAPES] = {0, -1, -1, 1};
    size_t lengths[128], total = 0;
    int count = bench_lengths(lengths, MOST), n = 0;
    for (int l = 0; l < count; l++)
        total += SHAPES * 2 * (lengths[l] + 64);
    char *at = *arena = malloc(total);
    bench_check(at != NULL, "allocating the strings");
    for (int l = 0; l < count; l++)
        for (int shape = 0; shape < SHAPES; shape++) {
            pair *p = &out[n++];
            p->prefix = lengths[l];
            p->sign = signs[shape];
            p->left = place(&at, p->prefix, tails[shape][0], (unsigned)(l % 8));
            p->right = place(&at, p->prefix, tails[shape][1], (unsigned)((l + shape) * 5 % 16));
        }
    return n;
}

static int sign(int x) { return (x > 0) - (x < 0); }

int main(int argc, char **argv)
{
    long rounds = bench_size(argc, argv, 24000, 1);
    static pair pairs[128 * SHAPES];
    char *arena;
    int n = build(pairs, &arena);
    int64_t sum = 0;
    uint64_t bytes = 0;
    for (long r = 0; r < rounds; r++)
        for (int i = 0; i < n; i++) {
            pair p = pairs[i];
            if (p.prefix > 0) {
                size_t at = (size_t)r % p.prefix;
                p.left[at] = p.right[at] = (char)('a' + r % 26);
            }
            int s = sign(strcmp(p.left, p.right));
            bench_check(s == p.sign, "strcmp's sign is the built one");
            sum += s * (int64_t)(i + 1);
            bytes += p.prefix;
        }
    printf("strcmp %ld rounds over %d pairs: %llu prefix bytes, signed sum %lld\n", rounds, n,
           (unsigned long long)bytes, (long long)sum);
    free(arena);
    return 0;
}
