/* The harness shared by ops.c (F and D) and half.c (Zfhmin and Zfh): the asm wrappers that
 * run one instruction per rounding mode on raw register bits and read its fflags, the table
 * entry of an instruction, the hashing and printing of results over corner operands and
 * over random ones, and the xorshift generator behind those.  Each program brings its own
 * instructions, operand sets and operand shapes, and before including this defines
 * RNG_SEED (each has its own, so its random sections stay as they were), and optionally
 * ASM_EXTRA_INPUTS and ASM_EXTRA_CLOBBERS for more asm operands (half.c's memory cell). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* fflags before each instruction: 0, or NX (1) in the "-nx" sections. */
static unsigned long initial_flags;

typedef uint64_t (*op_fn)(uint64_t a, uint64_t b, uint64_t c, unsigned *flags);

#ifndef ASM_EXTRA_INPUTS
#define ASM_EXTRA_INPUTS
#endif
#ifndef ASM_EXTRA_CLOBBERS
#define ASM_EXTRA_CLOBBERS
#endif

/* Operands a, b, c are in ft0, ft1, ft2 (and a also in %2 for integer sources); the
 * result is ft3, or %0 for integer results. */
#define ASM(NAME, TEXT, TAIL)                                                               \
    static uint64_t NAME(uint64_t a, uint64_t b, uint64_t c, unsigned *fl)                  \
    {                                                                                       \
        uint64_t r = 0;                                                                     \
        unsigned long f;                                                                    \
        __asm__ volatile("fmv.d.x ft0, %2\n\tfmv.d.x ft1, %3\n\tfmv.d.x ft2, %4\n\t"        \
                         "fsflags %5\n\t" TEXT "\n\tfrflags %1\n\t" TAIL                    \
                         : "+&r"(r), "=&r"(f)                                               \
                         : "r"(a), "r"(b), "r"(c), "r"(initial_flags) ASM_EXTRA_INPUTS      \
                         : "ft0", "ft1", "ft2", "ft3" ASM_EXTRA_CLOBBERS);                  \
        *fl = (unsigned)f;                                                                  \
        return r;                                                                           \
    }
#define FRES "fmv.x.d %0, ft3"
#define IRES ""

/* Six variants: rne, rtz, rdn, rup, rmm (static) and dyn.  T(name, number) is the text. */
#define RM6(NAME, T, TAIL)                                                                  \
    ASM(NAME##_0, T("rne", 0), TAIL) ASM(NAME##_1, T("rtz", 1), TAIL)                       \
    ASM(NAME##_2, T("rdn", 2), TAIL) ASM(NAME##_3, T("rup", 3), TAIL)                       \
    ASM(NAME##_4, T("rmm", 4), TAIL) ASM(NAME##_7, T("dyn", 7), TAIL)                       \
    static const op_fn NAME[6] = {NAME##_0, NAME##_1, NAME##_2, NAME##_3, NAME##_4, NAME##_7};
#define RM1(NAME, TEXT, TAIL) ASM(NAME##_x, TEXT, TAIL) static const op_fn NAME[1] = {NAME##_x};

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

enum { F1, F2, F3, I1 };        /* operands: 1, 2 or 3 floats, or 1 integer */
enum { DOUBLE, SINGLE, HALF };  /* the precision of the FP operands */

struct op {
    const char *name;
    const op_fn *fn;
    int variants;               /* 6 (rounding modes) or 1 */
    int shape;
    int source;                 /* DOUBLE, SINGLE or HALF */
};

#define OP6(n, shape, src) {#n, n, 6, shape, src}
#define OP1(n, shape, src) {#n, n, 1, shape, src}

static const char *const MODE_NAMES[] = {"rne", "rtz", "rdn", "rup", "rmm"};
static int verbose;

static void set_frm(unsigned long mode)
{
    __asm__ volatile("fsrm %0" : : "r"(mode));
}

/* Each (operation, mode) prints a count and a hash (FNV-1a over 64-bit words) of its
 * results and flags; with -v, every line too. */
#define HASH_START 0xcbf29ce484222325ull

static uint64_t hash_result(uint64_t hash, uint64_t r, unsigned flags)
{
    return (hash ^ r ^ ((uint64_t)flags << 56)) * 0x100000001b3ull;
}

static void print_hash(const struct op *op, const char *mode, const char *what, unsigned count,
                       uint64_t hash)
{
    printf("%s %s%s: %u results, hash %016llx\n", op->name, mode, what, count,
           (unsigned long long)hash);
}

/* Corner operands: all pairs of the set's n values; for the fused (ternary) operations
 * every second b and every third c, to keep the run short.  Returns the hash; adds to
 * *count. */
static uint64_t corner_results(const struct op *op, op_fn fn, const char *mode,
                               const uint64_t *set, unsigned n, unsigned *count)
{
    unsigned nb = op->shape == F2 || op->shape == F3 ? n : 1;
    unsigned nc = op->shape == F3 ? n : 1;
    uint64_t hash = HASH_START;
    for (unsigned i = 0; i < n; i++)
        for (unsigned j = 0; j < nb; j += op->shape == F3 ? 2 : 1)
            for (unsigned k = 0; k < nc; k += 3) {
                uint64_t a = set[i], b = set[j], c = op->shape == F3 ? set[(k + i) % n] : 0;
                unsigned flags;
                uint64_t r = fn(a, b, c, &flags);
                hash = hash_result(hash, r, flags);
                ++*count;
                if (verbose)
                    printf("%s %s %016llx %016llx %016llx = %016llx %02x\n", op->name, mode,
                           (unsigned long long)a, (unsigned long long)b,
                           (unsigned long long)c, (unsigned long long)r, flags);
            }
    return hash;
}

/* Random operands, made with integer arithmetic only (so they do not depend on the FP
 * being tested): xorshift64*, from the program's seed. */
#ifndef RNG_SEED
#error "define RNG_SEED before including fp_harness.h"
#endif
static uint64_t rng_state = RNG_SEED;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* An integer operand: any bits, a sign-extended word, a small one, or (for the rounding of
 * int -> float) a power of two from 2^low to 2^(low + span - 1) with noise bits below. */
static uint64_t random_int(unsigned low, unsigned span, uint64_t noise)
{
    uint64_t r = rnd();
    switch (r & 3) {
    case 0:
        return rnd();
    case 1:
        return ((1ull << (low + (r >> 8) % span)) | (rnd() & noise)) * ((r & 4) ? 1 : -1);
    case 2:
        return (int64_t)(int32_t)rnd();
    default:
        return rnd() >> (r >> 58);
    }
}

/* The i-th random a, b, c for op: each program shapes its own. */
static void random_operands(const struct op *op, unsigned i, uint64_t abc[3]);

static void run_random(const struct op *op, op_fn fn, const char *mode, int dynamic,
                       unsigned count)
{
    uint64_t hash = HASH_START;
    for (unsigned i = 0; i < count; i++) {
        uint64_t abc[3];
        random_operands(op, i, abc);
        if (dynamic)
            set_frm(i % 5);
        unsigned flags;
        uint64_t r = fn(abc[0], abc[1], abc[2], &flags);
        hash = hash_result(hash, r, flags);
        if (verbose)
            printf("%s %s%u %016llx %016llx %016llx = %016llx %02x\n", op->name, mode,
                   dynamic ? i % 5 : 0, (unsigned long long)abc[0], (unsigned long long)abc[1],
                   (unsigned long long)abc[2], (unsigned long long)r, flags);
    }
    print_hash(op, mode, " random", count, hash);
}
