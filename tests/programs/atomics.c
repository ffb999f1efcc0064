/* The A extension as a single thread sees it (glibc itself uses it for locks and once-only
 * initialisation): every AMO in its .w and .d forms over corner operands, showing the old
 * value returned (sign-extended for .w) and the value left in memory, LR/SC retry loops, and
 * the C11 atomics the compiler builds from them (not the sub-word ones: gcc 12 calls
 * libatomic for those).  Exits with the number of failed checks.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

static int failures;

static void check(const char *what, uint64_t got, uint64_t want)
{
    if (got != want) {
        failures++;
        printf("FAIL %s: got %016llx want %016llx\n", what, (unsigned long long)got,
               (unsigned long long)want);
    }
}

#define AMO(insn, width)                                                                \
    static uint64_t do_##insn(volatile void *p, uint64_t v)                             \
    {                                                                                   \
        uint64_t old;                                                                   \
        __asm__ volatile(#insn "." #width " %0, %2, (%1)"                               \
                         : "=r"(old)                                                    \
                         : "r"(p), "r"(v)                                               \
                         : "memory");                                                   \
        return old;                                                                     \
    }

AMO(amoswap, w) AMO(amoadd, w) AMO(amoand, w) AMO(amoor, w) AMO(amoxor, w)
AMO(amomin, w) AMO(amomax, w) AMO(amominu, w) AMO(amomaxu, w)

#undef AMO
#define AMO(insn, width)                                                                \
    static uint64_t do_##insn##_d(volatile void *p, uint64_t v)                         \
    {                                                                                   \
        uint64_t old;                                                                   \
        __asm__ volatile(#insn "." #width " %0, %2, (%1)"                               \
                         : "=r"(old)                                                    \
                         : "r"(p), "r"(v)                                               \
                         : "memory");                                                   \
        return old;                                                                     \
    }

AMO(amoswap, d) AMO(amoadd, d) AMO(amoand, d) AMO(amoor, d) AMO(amoxor, d)
AMO(amomin, d) AMO(amomax, d) AMO(amominu, d) AMO(amomaxu, d)

struct amo {
    const char *name;
    uint64_t (*w)(volatile void *, uint64_t);
    uint64_t (*d)(volatile void *, uint64_t);
};

static const struct amo amos[] = {
    {"swap", do_amoswap, do_amoswap_d}, {"add", do_amoadd, do_amoadd_d},
    {"and", do_amoand, do_amoand_d},    {"or", do_amoor, do_amoor_d},
    {"xor", do_amoxor, do_amoxor_d},    {"min", do_amomin, do_amomin_d},
    {"max", do_amomax, do_amomax_d},    {"minu", do_amominu, do_amominu_d},
    {"maxu", do_amomaxu, do_amomaxu_d},
};

static const uint64_t corners[] = {
    0, 1, (uint64_t)-1, 0x7fffffff, 0x80000000, 0xffffffff80000000ull,
    0x8000000000000000ull, 0x7fffffffffffffffull, 0x00000001fffffffeull,
};
#define N (sizeof corners / sizeof corners[0])

static void table(void)
{
    /* memory words with neighbours, to see that .w touches only its 4 bytes */
    static volatile uint32_t words[3];
    static volatile uint64_t dwords[3];
    for (unsigned o = 0; o < sizeof amos / sizeof amos[0]; o++)
        for (unsigned i = 0; i < N; i++) {
            printf("amo%s.w %016llx:", amos[o].name, (unsigned long long)corners[i]);
            for (unsigned j = 0; j < N; j++) {
                words[0] = words[2] = 0x5a5a5a5a;
                words[1] = (uint32_t)corners[i];
                uint64_t old = amos[o].w(&words[1], corners[j]);
                printf(" %llx/%x", (unsigned long long)old, words[1]);
                check("neighbours of .w", (uint64_t)words[0] << 32 | words[2],
                      0x5a5a5a5a5a5a5a5aull);
                check(".w old value is sign-extended", old,
                      (uint64_t)(int64_t)(int32_t)(uint32_t)corners[i]);
            }
            printf("\n");
        }
    for (unsigned o = 0; o < sizeof amos / sizeof amos[0]; o++)
        for (unsigned i = 0; i < N; i++) {
            printf("amo%s.d %016llx:", amos[o].name, (unsigned long long)corners[i]);
            for (unsigned j = 0; j < N; j++) {
                dwords[1] = corners[i];
                uint64_t old = amos[o].d(&dwords[1], corners[j]);
                printf(" %llx", (unsigned long long)dwords[1]);
                check(".d old value", old, corners[i]);
            }
            printf("\n");
        }
}

static void spot_checks(void)
{
    static volatile uint32_t w;
    static volatile uint64_t d;
    w = 0x7fffffff;
    check("amoadd.w wraps", do_amoadd(&w, 1), 0x7fffffff);
    check("amoadd.w result", w, 0x80000000);
    w = 0xffffffff;
    check("amomin.w signed", (do_amomin(&w, 5), w), 0xffffffff);
    w = 0xffffffff;
    check("amominu.w unsigned", (do_amominu(&w, 5), w), 5);
    w = 0x80000000;
    check("amomax.w signed", (do_amomax(&w, 0xffffffff), w), 0xffffffff);
    d = 0x8000000000000000ull;
    check("amomax.d signed", (do_amomax_d(&d, 1), d), 1);
    d = 0x8000000000000000ull;
    check("amomaxu.d unsigned", (do_amomaxu_d(&d, 1), d), 0x8000000000000000ull);
    /* the .w operand uses only its low 32 bits */
    w = 1;
    check("amoadd.w low bits of operand", (do_amoadd(&w, 0x1234567800000002ull), w), 3);
}

static void lr_sc(void)
{
    static volatile uint64_t d = 40;
    static volatile uint32_t w = 0xfffffff0;
    uint64_t old, fail;
    int tries = 0;
    do {
        __asm__ volatile("lr.d %0, (%2)\n\tsc.d %1, %3, (%2)"
                         : "=&r"(old), "=&r"(fail)
                         : "r"(&d), "r"((uint64_t)42)
                         : "memory");
    } while (fail && ++tries < 100);
    check("lr.d old", old, 40);
    check("sc.d stored", d, 42);
    check("sc.d eventually succeeds", fail, 0);
    tries = 0;
    do {
        __asm__ volatile("lr.w %0, (%2)\n\taddi %0, %0, 1\n\tsc.w %1, %0, (%2)"
                         : "=&r"(old), "=&r"(fail)
                         : "r"(&w)
                         : "memory");
    } while (fail && ++tries < 100);
    check("lr.w value sign-extended (+1)", old, 0xfffffffffffffff1ull);
    check("sc.w stored", w, 0xfffffff1);
    printf("lr/sc: d %llu w %x\n", (unsigned long long)d, w);
}

static void c11(void)
{
    static _Atomic long counter;
    static _Atomic int flag;
    for (int i = 0; i < 1000; i++)
        atomic_fetch_add(&counter, i);
    long expected = 499500;
    check("fetch_add total", (uint64_t)atomic_load(&counter), (uint64_t)expected);
    check("cas succeeds", atomic_compare_exchange_strong(&counter, &expected, -1), 1);
    expected = 5;
    check("cas fails", atomic_compare_exchange_strong(&counter, &expected, 7), 0);
    check("cas failure loads current", (uint64_t)expected, (uint64_t)-1);
    check("exchange", (uint64_t)atomic_exchange(&flag, 3), 0);
    check("fetch_or", (uint64_t)atomic_fetch_or(&flag, 4), 3);
    atomic_store(&flag, -2);
    check("fetch_sub int", (uint64_t)(int64_t)atomic_fetch_sub(&flag, 0x7fffffff), (uint64_t)-2);
    check("fetch_sub int wraps", (uint64_t)(int64_t)atomic_load(&flag), 0x7fffffff);
    atomic_thread_fence(memory_order_seq_cst);
    printf("c11: counter %ld flag %d\n", atomic_load(&counter), atomic_load(&flag));
}

int main(void)
{
    table();
    spot_checks();
    lr_sc();
    c11();
    printf("atomics: %d failures\n", failures);
    return failures > 100 ? 100 : failures;
}
