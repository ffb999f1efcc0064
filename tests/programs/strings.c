/* The string scans tier 1 fast-forwards (mvvm/translator/idioms.py): glibc's strcmp and
 * strlen, and a loop of memcmp's shape, over strings long enough for the 64-byte chunks, at every alignment of both
 * pointers, with the difference or the end at every position of a chunk and across page
 * boundaries, and strings that end on the last byte of a mapping whose next page is
 * PROT_NONE (the scan must not read it).  Each result is checked against a byte loop of its
 * own; the output is a checksum of the exact values.  Exits with the number of failures.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int failures;
static uint64_t sum;

static void note(const char *what, long got, long want, size_t a, size_t b)
{
    sum = sum * 1000003u + (uint64_t)got;
    if (got != want && failures++ < 10)
        printf("FAIL %s(%zu, %zu): got %ld want %ld\n", what, a, b, got, want);
}

__attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
static long byte_strcmp(const char *s, const char *t)
{
    while (*s && *s == *t)
        s++, t++;
    return (long)(unsigned char)*s - (unsigned char)*t;
}

__attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))
static size_t byte_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* memcmp's shape, as gcc -O2 compiles a check of each byte of a copy (bench/src/memcpy.c):
 * the first position where two ranges of n > 0 bytes differ, or -1 */
long first_difference(const char *s, const char *t, size_t n);
__asm__(".text\n.globl first_difference\n.type first_difference, @function\n"
        "first_difference:\n"
        "  add a2, a0, a2\n  mv a3, a0\n"
        "1: lbu a4, 0(a0)\n  lbu a5, 0(a1)\n  bne a4, a5, 2f\n"
        "  addi a0, a0, 1\n  addi a1, a1, 1\n  bne a0, a2, 1b\n"
        "  li a0, -1\n  ret\n"
        "2: sub a0, a0, a3\n  ret\n");

static char left[8192], right[8192];

/* Strings of `len` bytes at alignments a and b; the second differs at `at` (or not). */
static void compare(size_t a, size_t b, size_t len, size_t at, int delta)
{
    char *s = left + a, *t = right + b;
    for (size_t i = 0; i < len; i++)
        s[i] = t[i] = (char)('A' + (i * 7 + len) % 50);
    s[len] = t[len] = 0;
    if (at < len)
        t[at] = (char)(t[at] + delta);
    note("strcmp", strcmp(s, t), byte_strcmp(s, t), a, len);
    note("strlen", (long)strlen(t), (long)byte_strlen(t), b, len);
    note("difference", first_difference(s, t, len), at < len ? (long)at : -1, a, len);
}

/* A string ending on the last byte before a PROT_NONE page, of each length up to 300. */
static void at_the_edge(void)
{
    long page = sysconf(_SC_PAGESIZE);
    char *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED || mprotect(map + page, page, PROT_NONE) != 0) {
        puts("FAIL mmap");
        failures++;
        return;
    }
    memset(map, 'q', page);
    char *copy = left + 3;
    for (size_t len = 0; len < 300; len++) {
        char *s = map + page - 1 - len;
        s[len] = 0;
        memset(copy, 'q', len);
        copy[len] = 0;
        note("edge strlen", (long)strlen(s), (long)len, len, 0);
        note("edge strcmp", strcmp(s, copy), 0, len, 0);
        note("edge strcmp", strcmp(copy, s), 0, len, 1);
        note("edge difference", first_difference(copy, s, len + 1), -1, len, 0);
        note("edge difference", first_difference(s, copy, len + 1), -1, len, 1);
        s[len] = 'q';
    }
    munmap(map, 2 * page);
}

int main(void)
{
    for (size_t a = 0; a < 16; a++)
        for (size_t b = 0; b < 16; b++)
            for (size_t len = 60; len < 200; len += 13)
                for (size_t at = 0; at <= len; at += 1 + at / 8)
                    compare(a, b, len, at, (at & 1) ? 1 : -1);
    /* long strings: page boundaries inside the scan, at every alignment of the end */
    for (size_t a = 0; a < 64; a += 7)
        for (size_t len = 4000; len < 4200; len += 17)
            compare(a, 64 - a, len, len - a, 3);
    at_the_edge();
    printf("strings: checksum %016llx, %d failures\n", (unsigned long long)sum, failures);
    return failures;
}
