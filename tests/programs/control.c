/* Control flow: loops, a dense switch (a jump table), deep recursion, indirect calls through
 * a table of function pointers, computed goto, setjmp/longjmp and qsort/bsearch with
 * comparators.  Prints what each part computed, checks it, and exits with the number of
 * failed checks.
 */
#include <setjmp.h>
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

static uint32_t lcg_state = 12345;

static uint32_t lcg(void)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return lcg_state >> 8;
}

static void loops(void)
{
    long long sum = 0;
    for (int i = 0; i < 1000; i++)
        for (int j = i; j < 1000; j += 7) {
            if ((i + j) % 5 == 0)
                continue;
            if (j > 900 && i % 2)
                break;
            sum += i ^ j;
        }
    check("nested loops", sum, 26275243);
    int n = 27, steps = 0;
    do {
        n = n % 2 ? 3 * n + 1 : n / 2;
        steps++;
    } while (n != 1);
    check("collatz(27) steps", steps, 111);
    unsigned count = 0;
    for (uint64_t x = 0xdeadbeefcafef00dull; x; x &= x - 1)
        count++;
    check("popcount", count, 42);
}

__attribute__((noinline)) static unsigned dense_switch(int k, unsigned x)
{
    switch (k) {
    case 0: return x + 17;
    case 1: return x * 3;
    case 2: return x ^ 0x55;
    case 3: return x - 1000;
    case 4: return x << 3;
    case 5: return x >> 2;
    case 6: return -x;
    case 7: return x * x;
    case 8: return x | 0x100;
    case 9: return x & 0xff;
    case 10: return x / 7;
    case 11: return x % 13;
    case 12: return ~x;
    case 13: return x + (unsigned)k;
    case 14: return x * 5 - 1;
    case 15: return x ^ (x >> 3);
    case 16: return x + 123456;
    case 17: return x - (unsigned)k * 2;
    case 18: return (x << 1) | 1;
    case 19: return x / 3 + 1;
    case 20: return x % 1000;
    case 21: return x ^ 0x7fff;
    case 22: return x * 11;
    case 23: return x + (x >> 1);
    case 24: return 12 - x;
    case 25: return x & ~0xf;
    case 26: return x ^ (unsigned)k;
    case 27: return x * 13 + 7;
    case 28: return x >> 5;
    case 29: return x - 77;
    case 30: return x % 97 * 3;
    case 31: return (x & 0xf0) >> 4;
    default: return 999;
    }
}

static void switches(void)
{
    unsigned long long acc = 0;
    for (int k = -3; k < 40; k++)
        for (unsigned x = 0; x < 50000; x += 997)
            acc = acc * 31 + (unsigned long long)dense_switch(k, x);
    check("switch hash", (long long)(acc % 1000000007), 158597703);
    printf("switch(7, 9) = %u, switch(24, 9) = %u, switch(-1, 9) = %u\n", dense_switch(7, 9),
           dense_switch(24, 9), dense_switch(-1, 9));
}

__attribute__((noinline)) static long depth(long n)
{
    volatile long keep = n;
    if (n == 0)
        return 0;
    return depth(n - 1) + (keep & 3);
}

__attribute__((noinline)) static unsigned ackermann(unsigned m, unsigned n)
{
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static int is_odd(unsigned n);
__attribute__((noinline)) static int is_even(unsigned n) { return n == 0 ? 1 : is_odd(n - 1); }
__attribute__((noinline)) static int is_odd(unsigned n) { return n == 0 ? 0 : is_even(n - 1); }

static void recursion(void)
{
    check("depth(100000)", depth(100000), 150000);
    check("ackermann(2, 300)", ackermann(2, 300), 603);
    check("ackermann(3, 5)", ackermann(3, 5), 253);
    check("is_even(10001)", is_even(10001), 0);
}

static long f_add(long a, long b) { return a + b; }
static long f_sub(long a, long b) { return a - b; }
static long f_mul(long a, long b) { return a * b; }
static long f_xor(long a, long b) { return a ^ b; }
static long f_min(long a, long b) { return a < b ? a : b; }
static long f_shl(long a, long b) { return (long)((unsigned long)a << (b & 15)); }

static long (*const table[])(long, long) = {f_add, f_sub, f_mul, f_xor, f_min, f_shl};

static void indirect_calls(void)
{
    long acc = 1;
    for (int i = 0; i < 600; i++) {
        long (*f)(long, long) = table[lcg() % 6];
        long arg = (long)(lcg() % 1000) - 500;
        acc = f(acc, arg) % 1000003;
    }
    check("function pointer table", acc, 349905);
    /* computed goto: a tiny bytecode interpreter */
    static const unsigned char code[] = {0, 0, 1, 2, 0, 1, 3};
    static void *const labels[] = {&&op_inc, &&op_dbl, &&op_neg, &&op_end};
    long v = 5;
    const unsigned char *pc = code;
    goto *labels[*pc++];
op_inc:
    v += 1;
    goto *labels[*pc++];
op_dbl:
    v *= 2;
    goto *labels[*pc++];
op_neg:
    v = -v;
    goto *labels[*pc++];
op_end:
    check("computed goto", v, -26);
}

static jmp_buf env;

#pragma GCC diagnostic ignored "-Winfinite-recursion"
static int jumps;

__attribute__((noinline)) static void dive(int n)
{
    volatile char pad[32];
    pad[n % 32] = (char)n;
    if (n == 0)
        longjmp(env, 1000 + pad[0]);
    dive(n - 1);
}

static void nonlocal(void)
{
    volatile int rounds = 0;
    int r = setjmp(env);
    jumps += r;
    if (rounds < 3) {
        rounds++;
        dive(50 * rounds);
    }
    check("setjmp value", r, 1000);
    check("jumps total", jumps, 3000);
    jmp_buf inner;
    volatile int second = 0;
    if ((r = setjmp(inner)) == 0) {
        second = 1;
        longjmp(inner, 0); /* 0 becomes 1 */
    }
    check("longjmp(env, 0) gives", r, 1);
    check("after longjmp", second, 1);
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorting(void)
{
    enum { N = 2000 };
    static int v[N];
    for (int i = 0; i < N; i++)
        v[i] = (int)(lcg() % 100000) - 50000;
    qsort(v, N, sizeof v[0], cmp_int);
    int sorted = 1;
    unsigned long long h = 0;
    for (int i = 0; i < N; i++) {
        if (i && v[i - 1] > v[i])
            sorted = 0;
        h = h * 1000003 + (unsigned)v[i];
    }
    check("qsort sorted", sorted, 1);
    printf("qsort first %d %d %d last %d %d hash %llx\n", v[0], v[1], v[2], v[N - 2], v[N - 1],
           h);
    int key = v[1234];
    int *found = bsearch(&key, v, N, sizeof v[0], cmp_int);
    check("bsearch finds", found && *found == key, 1);
    const char *words[] = {"pear", "apple", "fig", "banana", "cherry", "apricot", "date", "a", ""};
    size_t nw = sizeof words / sizeof words[0];
    qsort(words, nw, sizeof words[0], cmp_str);
    printf("words:");
    for (size_t i = 0; i < nw; i++)
        printf(" [%s]", words[i]);
    printf("\n");
}

int main(void)
{
    loops();
    switches();
    recursion();
    indirect_calls();
    nonlocal();
    sorting();
    printf("control: %d failures\n", failures);
    return failures;
}
