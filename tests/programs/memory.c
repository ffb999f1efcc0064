/* The heap and the string functions: malloc/free churn with blocks of random sizes (some big
 * enough for malloc to use mmap), realloc growing and shrinking, calloc (big, and over freed
 * dirty memory), and memcpy/memmove/memset/memcmp/memchr/strlen/strcmp/strchr over every
 * alignment 0..15 and length 0..100, each result checked byte by byte against what it must
 * be (never against another copy routine).  Exits with the number of failed checks.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void check(const char *what, long long got, long long want)
{
    printf("%s = %lld\n", what, got);
    if (got != want) {
        failures++;
        printf("FAIL %s: got %lld want %lld\n", what, got, want);
    }
}

static uint32_t lcg_state = 2024;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return lcg_state >> 8;
}

static unsigned char pattern(unsigned seed, size_t i)
{
    return (unsigned char)(seed * 131u + i * 7u + (i >> 8));
}

/* Reports the first few bad cases of a family in detail, then only counts them. */
static long bad_cases;

static void bad(const char *fn, int a, int b, int len, long pos)
{
    if (bad_cases++ < 10)
        printf("BAD %s off %d/%d len %d at %ld\n", fn, a, b, len, pos);
}

/* Big blocks are filled and checked only at every 97th byte, to keep the run short. */
static size_t stride(size_t n) { return n > 4096 ? 97 : 1; }

static long block_corrupt(const unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += stride(n))
        if (p[i] != pattern(seed, i))
            return 1;
    return n && p[n - 1] != pattern(seed, n - 1);
}

static void block_fill(unsigned char *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i += stride(n))
        p[i] = pattern(seed, i);
    if (n)
        p[n - 1] = pattern(seed, n - 1);
}

static void churn(void)
{
    enum { SLOTS = 512, ROUNDS = 5000 };
    static unsigned char *ptr[SLOTS];
    static size_t size[SLOTS];
    static unsigned seed[SLOTS];
    long mallocs = 0, frees = 0, corrupt = 0, misaligned = 0;
    unsigned long long bytes = 0;
    for (int round = 0; round < ROUNDS; round++) {
        unsigned s = lcg() % SLOTS;
        if (ptr[s]) {
            corrupt += block_corrupt(ptr[s], size[s], seed[s]);
            free(ptr[s]);
            ptr[s] = NULL;
            frees++;
        } else {
            uint32_t r = lcg();
            size_t n = r % 16 == 0 ? 100000 + r % 300000 : r % 16 == 1 ? 0 : 1 + r % 2000;
            ptr[s] = malloc(n);
            if (!ptr[s]) {
                printf("malloc(%zu) failed\n", n);
                failures++;
                continue;
            }
            if ((uintptr_t)ptr[s] % 16)
                misaligned++;
            size[s] = n;
            seed[s] = round;
            block_fill(ptr[s], n, round);
            mallocs++;
            bytes += n;
        }
    }
    for (int s = 0; s < SLOTS; s++) {
        if (!ptr[s])
            continue;
        corrupt += block_corrupt(ptr[s], size[s], seed[s]);
        free(ptr[s]);
        frees++;
    }
    printf("churn: %ld mallocs, %ld frees, %llu bytes\n", mallocs, frees, bytes);
    check("churn corrupt blocks", corrupt, 0);
    check("churn misaligned blocks", misaligned, 0);
}

static void reallocs(void)
{
    unsigned char *p = NULL;
    size_t n = 0;
    long bad_bytes = 0;
    /* grow from nothing to 512 KiB in uneven steps, then shrink back */
    while (n < (1u << 19)) {
        size_t m = n + 1 + n / 3 + lcg() % 100;
        unsigned char *q = realloc(p, m);
        if (!q) {
            failures++;
            printf("realloc(%zu) failed\n", m);
            break;
        }
        for (size_t i = 0; i < n; i++)
            if (q[i] != pattern(7, i))
                bad_bytes++;
        for (size_t i = n; i < m; i++)
            q[i] = pattern(7, i);
        p = q;
        n = m;
    }
    while (n > 10) {
        n = n / 2 + 3;
        p = realloc(p, n);
        for (size_t i = 0; i < n; i++)
            if (p[i] != pattern(7, i))
                bad_bytes++;
    }
    free(p);
    check("realloc lost bytes", bad_bytes, 0);
    void *z = realloc(NULL, 0);
    free(z);
}

static void callocs(void)
{
    /* a dirty block, freed, then calloc'ed again must come back zeroed */
    unsigned char *d = malloc(5000);
    memset(d, 0xa5, 5000);
    free(d);
    unsigned char *c = calloc(5000, 1);
    long nonzero = 0;
    for (int i = 0; i < 5000; i++)
        nonzero += c[i] != 0;
    free(c);
    check("calloc over dirty memory, nonzero bytes", nonzero, 0);

    size_t words = (24u << 20) / sizeof(uint64_t); /* 24 MiB */
    uint64_t *big = calloc(words, sizeof *big);
    if (!big) {
        check("big calloc", 0, 1);
        return;
    }
    uint64_t or_all = 0;
    for (size_t i = 0; i < words; i++)
        or_all |= big[i];
    check("big calloc nonzero", or_all != 0, 0);
    for (size_t i = 0; i < words; i += 512)
        big[i] = i;
    uint64_t sum = 0;
    for (size_t i = 0; i < words; i += 256)
        sum += big[i];
    free(big);
    check("big calloc sum", (long long)sum, 9662103552LL);
}

enum { MAXLEN = 100, MAXOFF = 16, BUF = MAXLEN + 2 * MAXOFF + 32 };

/* Checks look at the bytes written and a margin after them; fill() resets that much. */
static void fill_upto(unsigned char *b, unsigned seed, int n)
{
    for (int i = 0; i < n; i++)
        b[i] = pattern(seed, i) | 1; /* never 0: strings end only where we put a 0 */
}

static void fill(unsigned char *b, unsigned seed) { fill_upto(b, seed, BUF); }

/* Which (source offset, destination offset, length) cases memcpy and memmove get: every
   offset pair for the short lengths, and for the longer ones every offset pair across the
   lengths but not at each length (the full cube is slow under emulation at -O0). */
static int pair_case(int so, int d_o, int len)
{
    return len < 16 || (so + d_o * 5 + len) % 16 == 0;
}

static void mem_functions(void)
{
    static unsigned char src[BUF], dst[BUF];
    long cases = 0;

    bad_cases = 0;
    fill(src, 1);
    for (int so = 0; so < MAXOFF; so++)
        for (int d_o = 0; d_o < MAXOFF; d_o++)
            for (int len = 0; len <= MAXLEN; len++) {
                if (!pair_case(so, d_o, len))
                    continue;
                fill_upto(dst, 2, d_o + len + 16);
                void *r = memcpy(dst + d_o, src + so, len);
                cases++;
                if (r != dst + d_o)
                    bad("memcpy ret", so, d_o, len, -1);
                for (int i = 0; i < d_o + len + 16; i++) {
                    int want = i >= d_o && i < d_o + len ? pattern(1, i - d_o + so) | 1
                                                        : pattern(2, i) | 1;
                    if (dst[i] != want) {
                        bad("memcpy", so, d_o, len, i);
                        break;
                    }
                }
            }
    printf("memcpy: %ld cases\n", cases);
    check("memcpy bad cases", bad_cases, 0);

    bad_cases = cases = 0;
    for (int so = 0; so < MAXOFF; so++)
        for (int d_o = 0; d_o < MAXOFF; d_o++)
            for (int len = 0; len <= MAXLEN; len++) {
                if (!pair_case(so, d_o, len))
                    continue;
                /* overlapping in both directions inside one buffer */
                fill_upto(dst, 3, MAXOFF + len + 24);
                memmove(dst + d_o + 8, dst + so, len);
                cases++;
                for (int i = 0; i < d_o + len + 24; i++) {
                    int t = d_o + 8;
                    int want = i >= t && i < t + len ? pattern(3, i - t + so) | 1
                                                     : pattern(3, i) | 1;
                    if (dst[i] != want) {
                        bad("memmove", so, t, len, i);
                        break;
                    }
                }
                fill_upto(dst, 4, MAXOFF + len + 24);
                memmove(dst + d_o, dst + so + 8, len);
                for (int i = 0; i < d_o + len + 16; i++) {
                    int want = i >= d_o && i < d_o + len ? pattern(4, i - d_o + so + 8) | 1
                                                        : pattern(4, i) | 1;
                    if (dst[i] != want) {
                        bad("memmove down", so + 8, d_o, len, i);
                        break;
                    }
                }
            }
    printf("memmove: %ld cases\n", cases);
    check("memmove bad cases", bad_cases, 0);

    bad_cases = cases = 0;
    for (int off = 0; off < MAXOFF; off++)
        for (int len = 0; len <= MAXLEN; len++) {
            int v = (off * 37 + len) & 0xff;
            fill(dst, 5);
            memset(dst + off, v, len);
            cases++;
            for (int i = 0; i < BUF; i++) {
                int want = i >= off && i < off + len ? v : pattern(5, i) | 1;
                if (dst[i] != want) {
                    bad("memset", off, v, len, i);
                    break;
                }
            }
        }
    printf("memset: %ld cases\n", cases);
    check("memset bad cases", bad_cases, 0);

    /* strlen, strchr, memchr: a string of len bytes at off, nonzero bytes after its end */
    bad_cases = cases = 0;
    for (int off = 0; off < MAXOFF; off++)
        for (int len = 0; len <= MAXLEN; len++) {
            fill(src, 6);
            src[off + len] = 0;
            cases++;
            size_t n = strlen((char *)src + off);
            if (n != (size_t)len)
                bad("strlen", off, 0, len, (long)n);
            /* a byte that occurs only at position len/2 (the pattern bytes are all odd) */
            if (len > 0) {
                int at = len / 2;
                src[off + at] = 0xfe;
                char *p = strchr((char *)src + off, 0xfe);
                if (p != (char *)src + off + at)
                    bad("strchr", off, at, len, p ? p - (char *)src : -1);
                unsigned char *m = memchr(src + off, 0xfe, len);
                if (m != src + off + at)
                    bad("memchr", off, at, len, m ? m - src : -1);
                if (memchr(src + off, 0xfe, at) != NULL)
                    bad("memchr short", off, at, len, -1);
            }
            if (strchr((char *)src + off, 0) != (char *)src + off + len)
                bad("strchr nul", off, 0, len, -1);
        }
    printf("strlen/strchr/memchr: %ld cases\n", cases);
    check("strlen/strchr/memchr bad cases", bad_cases, 0);

    /* strcmp and memcmp between two strings at different alignments, equal or differing
       at one position, in both directions */
    bad_cases = cases = 0;
    for (int ao = 0; ao < MAXOFF; ao++)
        for (int bo = 0; bo < MAXOFF; bo += 3)
            for (int len = 0; len <= MAXLEN; len++) {
                for (int i = 0; i < len; i++)
                    src[ao + i] = dst[bo + i] = pattern(8, i) | 1;
                src[ao + len] = dst[bo + len] = 0;
                cases++;
                if (strcmp((char *)src + ao, (char *)dst + bo) != 0)
                    bad("strcmp equal", ao, bo, len, -1);
                if (memcmp(src + ao, dst + bo, len) != 0)
                    bad("memcmp equal", ao, bo, len, -1);
                if (len == 0)
                    continue;
                int at = (len * 7) % len;
                unsigned char keep = dst[bo + at];
                dst[bo + at] = 0xff; /* greater than any byte of the pattern but 0xff */
                if (keep != 0xff) {
                    if (strcmp((char *)src + ao, (char *)dst + bo) >= 0)
                        bad("strcmp less", ao, bo, len, at);
                    if (strcmp((char *)dst + bo, (char *)src + ao) <= 0)
                        bad("strcmp greater", ao, bo, len, at);
                    if (memcmp(src + ao, dst + bo, len) >= 0)
                        bad("memcmp less", ao, bo, len, at);
                }
                dst[bo + at] = keep;
                /* a prefix compares less */
                unsigned char t = src[ao + len - 1];
                src[ao + len - 1] = 0;
                if (strcmp((char *)src + ao, (char *)dst + bo) >= 0)
                    bad("strcmp prefix", ao, bo, len, -1);
                src[ao + len - 1] = t;
            }
    printf("strcmp/memcmp: %ld cases\n", cases);
    check("strcmp/memcmp bad cases", bad_cases, 0);

    char buf[64];
    strcpy(buf, "abc");
    strcat(buf, "defgh");
    volatile size_t three = 3;
    strncat(buf, "ijklmnop", three);
    check("strcpy/strcat length", (long long)strlen(buf), 11);
    printf("built string [%s], strstr [%s], strrchr [%s]\n", buf, strstr(buf, "fgh"),
           strrchr(buf, 'c'));
    char *dup = strdup(buf);
    check("strdup equal", strcmp(dup, buf), 0);
    free(dup);
}

int main(void)
{
    churn();
    reallocs();
    callocs();
    mem_functions();
    printf("memory: %d failures\n", failures);
    return failures;
}
