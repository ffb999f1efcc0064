/* recursion: call-heavy code, calls and returns dominate: fib(size) by the doubly recursive
 * definition, and Ackermann's function, which recurses deeply.  Self-checks: fib against
 * the iterative loop, Ackermann against its closed forms A(2, n) = 2n + 3 and
 * A(3, n) = 2^(n+3) - 3.
 */
#include "bench.h"

/* noinline, and the argument read through a volatile in main: the compiler must not fold
 * the recursion away or turn it into a loop */
__attribute__((noinline)) static uint64_t fib(int n)
{
    return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2);
}

static uint64_t fib_loop(int n)
{
    uint64_t a = 0, b = 1;
    for (int i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b, b = t;
    }
    return a;
}

__attribute__((noinline)) static uint64_t ackermann(uint64_t m, uint64_t n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

int main(int argc, char **argv)
{
    volatile int size = (int)bench_size(argc, argv, 40, 1);
    int n = size;
    bench_check(n <= 90, "fib(n) fits in 64 bits for n <= 90");
    uint64_t f = fib(n);
    bench_check(f == fib_loop(n), "recursive fib equals the loop");

    int k = n / 4 + 1; /* A(3, k) makes about 4^k calls, a share of fib(n)'s 1.6^n */
    uint64_t a2 = ackermann(2, (uint64_t)n * 100), a3 = ackermann(3, k);
    bench_check(a2 == 2 * (uint64_t)n * 100 + 3, "A(2, n) == 2n + 3");
    bench_check(a3 == (1ull << (k + 3)) - 3, "A(3, k) == 2^(k+3) - 3");
    printf("recursion: fib(%d) = %llu, A(2, %d) = %llu, A(3, %d) = %llu\n", n,
           (unsigned long long)f, n * 100, (unsigned long long)a2, k, (unsigned long long)a3);
    return 0;
}
