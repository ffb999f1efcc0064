/* A switch in a hot loop whose cases change with the phase of the run: the first half uses
 * cases 0-5, the second half 6-11 (and a default).  Tier 1 keeps the jump table's targets
 * that tier 0 saw inside the loop's region; the targets of the second phase must still be
 * reached through the other path.  Prints a hash; qemu-riscv64 is the reference.
 */
#include <stdint.h>
#include <stdio.h>

__attribute__((noinline)) static uint64_t step(unsigned op, uint64_t x, uint64_t i)
{
    switch (op) {
    case 0: return x + i;
    case 1: return x ^ (i << 7);
    case 2: return x * 0x9e3779b97f4a7c15ull;
    case 3: return x >> 3 | x << 61;
    case 4: return x - (i | 1);
    case 5: return ~x + 3;
    case 6: return x + (x >> 11);
    case 7: return x ^ 0xdeadbeefull;
    case 8: return x * 3 + 1;
    case 9: return x << 1 | x >> 63;
    case 10: return x & (x - 1) ? x - 1 : x + 7;
    case 11: return x | i;
    default: return x + 11;
    }
}

int main(void)
{
    enum { N = 4000000 };
    uint64_t x = 1;
    for (uint64_t i = 0; i < N; i++) {
        unsigned op = i < N / 2 ? (unsigned)(i % 6) : 6 + (unsigned)(i % 7);
        x = step(op, x, i);
    }
    printf("phases: %016llx\n", (unsigned long long)x);
    return 0;
}
