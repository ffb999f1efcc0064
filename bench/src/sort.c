/* sort: data-dependent branches and moves.  `size` pseudo-random 32-bit keys are sorted
 * twice, by a quicksort (median of three, insertion sort for short runs) and by a bottom-up
 * merge sort.  Self-checks: both outputs are in order, equal to each other, and hold the
 * same multiset of keys as the input (an order-free sum and xor of a hash of each key).
 */
#include <string.h>

#include "bench.h"

static void insertion_sort(uint32_t *a, long n)
{
    for (long i = 1; i < n; i++) {
        uint32_t v = a[i];
        long j = i;
        for (; j > 0 && a[j - 1] > v; j--)
            a[j] = a[j - 1];
        a[j] = v;
    }
}

static void swap(uint32_t *a, uint32_t *b)
{
    uint32_t t = *a;
    *a = *b;
    *b = t;
}

static void quicksort(uint32_t *a, long n)
{
    while (n > 16) {
        long mid = n / 2;
        if (a[mid] < a[0])
            swap(&a[mid], &a[0]);
        if (a[n - 1] < a[0])
            swap(&a[n - 1], &a[0]);
        if (a[n - 1] < a[mid])
            swap(&a[n - 1], &a[mid]);
        uint32_t pivot = a[mid];
        long i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i >= j)
                break;
            swap(&a[i++], &a[j--]);
        }
        /* recurse into the smaller side, loop on the larger: the stack stays shallow */
        if (j + 1 < n - j - 1) {
            quicksort(a, j + 1);
            a += j + 1, n -= j + 1;
        } else {
            quicksort(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    insertion_sort(a, n);
}

static void merge_sort(uint32_t *a, uint32_t *tmp, long n)
{
    for (long width = 1; width < n; width *= 2) {
        for (long lo = 0; lo < n; lo += 2 * width) {
            long mid = lo + width < n ? lo + width : n;
            long hi = lo + 2 * width < n ? lo + 2 * width : n;
            long i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                tmp[k++] = a[j] < a[i] ? a[j++] : a[i++];
            while (i < mid)
                tmp[k++] = a[i++];
            while (j < hi)
                tmp[k++] = a[j++];
        }
        memcpy(a, tmp, n * sizeof *a);
    }
}

/* An order-free fingerprint of a multiset of keys. */
static void fingerprint(const uint32_t *a, long n, uint64_t out[2])
{
    out[0] = out[1] = 0;
    for (long i = 0; i < n; i++) {
        uint64_t h = a[i] * 0x9e3779b97f4a7c15ull;
        out[0] += h ^ (h >> 29);
        out[1] ^= h * 0xbf58476d1ce4e5b9ull;
    }
}

static int in_order(const uint32_t *a, long n)
{
    for (long i = 1; i < n; i++)
        if (a[i - 1] > a[i])
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 2500000, 1);
    uint32_t *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *tmp = malloc(n * sizeof *tmp);
    bench_check(a && b && tmp, "allocating the arrays");
    uint64_t seed = 3, before[2], after[2];
    for (long i = 0; i < n; i++)
        a[i] = b[i] = (uint32_t)bench_rand(&seed) % (uint32_t)(n + 1); /* some duplicates */
    fingerprint(a, n, before);

    quicksort(a, n);
    merge_sort(b, tmp, n);
    bench_check(in_order(a, n), "quicksort output in order");
    bench_check(in_order(b, n), "merge sort output in order");
    bench_check(memcmp(a, b, n * sizeof *a) == 0, "quicksort and merge sort agree");
    fingerprint(a, n, after);
    bench_check(before[0] == after[0] && before[1] == after[1], "sorted keys are the input's");

    uint64_t sum = 0;
    for (long i = 0; i < n; i++)
        sum = sum * 31 + a[i];
    printf("sort %ld keys: %016llx\n", n, (unsigned long long)sum);
    return 0;
}
