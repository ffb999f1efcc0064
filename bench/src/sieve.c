/* sieve: the sieve of Eratosthenes over the odd numbers up to `size`, a byte per number:
 * strided stores over a large array, then a counting pass.  Self-checks: the prime-counting
 * function at every power of ten up to `size` (pi(10^k) is catalogued), and the top 500
 * numbers' flags against trial division.
 */
#include <string.h>

#include "bench.h"

static const long PI_POW10[] = {0, 4, 25, 168, 1229, 9592, 78498, 664579, 5761455, 50847534};

/* composite[i] is set when 2i+1 is composite. */
static unsigned char *sieve(long limit)
{
    long half = limit / 2 + 1;
    unsigned char *composite = calloc(half, 1);
    bench_check(composite != NULL, "allocating the sieve");
    composite[0] = 1; /* 1 is not prime */
    for (long p = 3; p * p <= limit; p += 2)
        if (!composite[p / 2])
            for (long m = p * p; m <= limit; m += 2 * p)
                composite[m / 2] = 1;
    return composite;
}

static int is_prime(const unsigned char *composite, long n)
{
    return n == 2 || (n > 2 && n % 2 == 1 && !composite[n / 2]);
}

static int trial_division(long n)
{
    if (n < 2)
        return 0;
    for (long d = 2; d * d <= n; d++)
        if (n % d == 0)
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    long limit = bench_size(argc, argv, 100000000, 1);
    unsigned char *composite = sieve(limit);

    long count = 0, largest = 0, power = 1;
    for (long n = 1; n <= limit; n++) {
        if (is_prime(composite, n))
            count++, largest = n;
        if (n == power) {
            int k = 0;
            for (long p = power; p > 1; p /= 10)
                k++;
            if (k < (int)(sizeof PI_POW10 / sizeof *PI_POW10))
                bench_check(count == PI_POW10[k], "pi(10^k) matches the catalogue");
            power *= 10;
        }
    }
    for (long n = limit > 500 ? limit - 500 : 0; n <= limit; n++)
        bench_check(is_prime(composite, n) == trial_division(n), "sieve agrees with trial division");
    printf("sieve to %ld: %ld primes, largest %ld\n", limit, count, largest);
    return 0;
}
