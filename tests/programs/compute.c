/* A compute-bound run, for speed as much as for correctness: a sieve of Eratosthenes, a
 * hash loop mixing multiplies, shifts and rotates, and a small matrix product, each
 * summarised by a checksum.  The work is sized by argv[1], 1 to 4 (the default, about 0.3 s
 * under qemu-riscv64 at -O2).  Exits with 0 unless the prime count for the default size is
 * wrong.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static long sieve(unsigned n, uint64_t *checksum)
{
    static unsigned char composite[4000001];
    memset(composite, 0, n + 1);
    long count = 0;
    uint64_t h = 0;
    for (unsigned i = 2; i <= n; i++) {
        if (composite[i])
            continue;
        count++;
        h = h * 31 + i;
        for (unsigned long j = (unsigned long)i * i; j <= n; j += i)
            composite[j] = 1;
    }
    *checksum = h;
    return count;
}

static uint64_t hash_loop(unsigned rounds)
{
    /* xoshiro256** driving a multiply-rotate accumulator */
    uint64_t s[4] = {0x9e3779b97f4a7c15ull, 0xbf58476d1ce4e5b9ull, 0x94d049bb133111ebull, 1};
    uint64_t acc = 0;
    for (unsigned i = 0; i < rounds; i++) {
        uint64_t r = rotl(s[1] * 5, 7) * 9;
        uint64_t t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = rotl(s[3], 45);
        acc = rotl(acc ^ r, 13) * 0xff51afd7ed558ccdull + (r >> 33);
        acc ^= (uint32_t)acc / ((uint32_t)r | 1);
    }
    return acc;
}

static uint64_t matmul(int n)
{
    static int32_t a[64][64], b[64][64], c[64][64];
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            a[i][j] = (i * 7 + j * 3) % 17 - 8;
            b[i][j] = (i * 5 - j * 11) % 13;
        }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            int32_t sum = 0;
            for (int k = 0; k < n; k++)
                sum += a[i][k] * b[k][j];
            c[i][j] = sum;
        }
    uint64_t h = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            h = h * 1000003 + (uint32_t)c[i][j];
    return h;
}

int main(int argc, char **argv)
{
    unsigned scale = argc > 1 ? (unsigned)atoi(argv[1]) : 4;
    if (scale < 1 || scale > 4)
        scale = 4;
    uint64_t sieve_sum;
    long primes = sieve(1000000 * scale, &sieve_sum);
    printf("primes up to %u: %ld, checksum %016llx\n", 1000000 * scale, primes,
           (unsigned long long)sieve_sum);
    printf("hash loop: %016llx\n", (unsigned long long)hash_loop(8000000 * scale));
    uint64_t m = 0;
    for (unsigned i = 0; i < 4 * scale; i++)
        m = m * 31 + matmul(64 - (int)i);
    printf("matmul: %016llx\n", (unsigned long long)m);
    return scale == 4 && primes != 283146;
}
