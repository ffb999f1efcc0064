/* What every benchmark shares: its size from argv[1], a deterministic generator, and the
 * self-check that turns a wrong result into a non-zero exit status.  The runner compares
 * exit statuses and the one result line, so a benchmark that computes garbage fast can
 * never look like a win.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* The run size: argv[1] when given (the CI's quick mode passes a small one), else `full`,
 * the size that takes native x86-64 between 0.2 and 1 s.  A size below `least`, where the
 * self-check would not hold, is refused with status 2. */
static inline long bench_size(int argc, char **argv, long full, long least)
{
    if (argc < 2)
        return full;
    char *end;
    long size = strtol(argv[1], &end, 10);
    if (*end != '\0' || size < least) {
        fprintf(stderr, "%s: the size must be an integer of at least %ld, not '%s'\n", argv[0],
                least, argv[1]);
        exit(2);
    }
    return size;
}

/* splitmix64: the same stream on every host, so every build computes the same input. */
static inline uint64_t bench_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A failed self-check ends the run with status 1 and says which check failed. */
static inline void bench_check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "self-check failed: %s\n", what);
        exit(1);
    }
}

/* The monotonic clock, in seconds: for a benchmark that also times its own work, as
 * CoreMark does (its score leaves out the process's start-up and the input's set-up). */
static inline double bench_clock(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* The self-timed rate, on stderr: the runner reads it there (`score: ...`), and it stays
 * out of the result line that every runner must print alike. */
static inline void bench_score(double units, double seconds)
{
    fprintf(stderr, "score: %.1f per second\n", units / seconds);
}

/* Lengths for the memory and string benchmarks, up to `most`: each of 0..64 (where the
 * short-size branches of memcpy and strlen live), every 24 up to 1 KiB, then the powers of
 * two with their neighbours.  Returns how many it wrote to out[] (at most 128). */
static inline int bench_lengths(size_t out[128], size_t most)
{
    int n = 0;
    for (size_t len = 0; len <= 64 && len <= most; len++)
        out[n++] = len;
    for (size_t len = 72; len <= 1024 && len <= most; len += 24)
        out[n++] = len;
    for (size_t len = 2048; len + 1 <= most && n + 3 <= 128; len *= 2)
        out[n++] = len - 1, out[n++] = len, out[n++] = len + 1;
    return n;
}

#endif
