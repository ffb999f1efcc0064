/* Compute-bound work split over N threads (N = argv[1], default 2): a fixed count of
 * integer hashes (a few rounds of multiply, xor and shift over each index), summed.  Each
 * thread takes a contiguous slice of the indices, keeps its sum in a register and writes it
 * once, at the end, to its own cache line; the main thread adds the slices up.  The sum
 * (mod 2^64) does not depend on N, so the output is the same for any N; the time is for
 * measuring that N threads run N times faster (about 1 s under qemu-riscv64 for N = 1).
 * Exits with its failed checks (the checksum against the known value). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define WORK 150000000ul
#define WANT 0x29d4b44db54470bful

enum { MAX_THREADS = 64 };

struct slice {
    uint64_t begin, end, sum;
} __attribute__((aligned(64)));

static struct slice slices[MAX_THREADS];

static inline uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ul;
    for (int round = 0; round < 4; round++) {
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ul;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebul;
        x ^= x >> 31;
    }
    return x;
}

static void *work(void *arg)
{
    struct slice *s = arg;
    uint64_t sum = 0;
    for (uint64_t i = s->begin; i < s->end; i++)
        sum += mix(i);
    s->sum = sum;
    return 0;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], 0, 10) : 2;
    if (n < 1 || n > MAX_THREADS) {
        printf("usage: parallel [threads, 1..%d]\n", MAX_THREADS);
        return 2;
    }
    pthread_t threads[MAX_THREADS];
    for (long t = 0; t < n; t++) {
        slices[t].begin = WORK * t / n;
        slices[t].end = WORK * (t + 1) / n;
        if (pthread_create(&threads[t], 0, work, &slices[t]) != 0) {
            printf("FAIL: pthread_create\n");
            return 1;
        }
    }
    uint64_t checksum = 0;
    for (long t = 0; t < n; t++) {
        pthread_join(threads[t], 0);
        checksum += slices[t].sum;
    }
    printf("%lu hashes: checksum %016llx\n", WORK, (unsigned long long)checksum);
    if (checksum != WANT) {
        printf("FAIL: want %016llx\n", (unsigned long long)WANT);
        return 1;
    }
    return 0;
}
