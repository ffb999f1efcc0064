/* Calls that tier 1 copies into the caller's region (mvvm/translator/region.py), run in a
 * hot loop: `pair` is small and calls a leaf (`mix`, copied too) and a function that calls
 * (`spread`, which stays a wasm call from the copy); `pair` is called from two sites, so
 * each of its returns must find its own way back; `escape` is small too, and at one pass
 * the function it calls (`leave`, a wasm call from the copy) comes back by longjmp to
 * neither call site; `even` and `odd` call each other, so the region of one copies the
 * other, whose call of the region's entry is a jump back to it.  Exits 0 when the
 * checksum is what the same arithmetic gives without the calls.
 */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>

#define PASSES 300000
#define ESCAPE 123457
#define DEPTH 40

static jmp_buf out;

static inline __attribute__((always_inline)) uint64_t mixed(uint64_t x)
{
    return (x ^ (x >> 29)) * 0x9e3779b97f4a7c15u;
}

__attribute__((noinline)) static uint64_t mix(uint64_t x)
{
    return mixed(x);
}

__attribute__((noinline)) static uint64_t spread(uint64_t x)
{
    return mix(x + 1) ^ mix(x + 2);
}

__attribute__((noinline)) static uint64_t pair(uint64_t x, uint64_t y)
{
    return mix(x) + spread(y);
}

__attribute__((noinline)) static void leave(uint64_t x)
{
    if (x == ESCAPE)
        longjmp(out, 1);
}

__attribute__((noinline)) static uint64_t escape(uint64_t x)
{
    leave(x);
    return mix(x) >> 3;
}

__attribute__((noinline)) static uint64_t odd(uint64_t n);

__attribute__((noinline)) static uint64_t even(uint64_t n)
{
    return n == 0 ? 1 : odd(n - 1) + 2;
}

__attribute__((noinline)) static uint64_t odd(uint64_t n)
{
    return n == 0 ? 0 : even(n - 1) * 3 % 1000003;
}

/* The same sum, without calls of the functions above. */
static uint64_t expected(void)
{
    uint64_t sum = 0, evens[DEPTH], odds[DEPTH];
    evens[0] = 1, odds[0] = 0;
    for (int n = 1; n < DEPTH; n++)
        evens[n] = odds[n - 1] + 2, odds[n] = evens[n - 1] * 3 % 1000003;
    for (uint64_t i = 0; i < PASSES; i++) {
        uint64_t a = i, b = i * 3;
        sum += evens[i % DEPTH] + odds[(i + 7) % DEPTH];
        sum = sum * 7 + mixed(a) + (mixed(b + 1) ^ mixed(b + 2));
        sum ^= mixed(b) + (mixed(a + 1) ^ mixed(a + 2));
        sum += i == ESCAPE ? 1000 : mixed(i) >> 3;
    }
    return sum;
}

int main(void)
{
    volatile uint64_t i;
    uint64_t sum = 0;
    for (i = 0; i < PASSES; i++) {
        sum += even(i % DEPTH) + odd((i + 7) % DEPTH);
        sum = sum * 7 + pair(i, i * 3);
        sum ^= pair(i * 3, i);
        if (setjmp(out)) {
            sum += 1000;
            continue;
        }
        sum += escape(i);
    }
    printf("copied calls: %d passes, checksum %016llx\n", PASSES, (unsigned long long)sum);
    return sum == expected() ? 0 : 1;
}
