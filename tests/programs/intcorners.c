/* Integer corner cases of RV64IM, with the instructions forced through inline asm so that
 * the compiler cannot fold or avoid them: division by zero and overflow (defined results on
 * RISC-V, no trap), W-form arithmetic and shifts with their sign extension, the high
 * multiplies, set-less-than, and the sign or zero extension of narrow loads.
 *
 * Prints every result in hex, checks the architecturally defined ones, and exits with the
 * number of failed checks (0 when all hold).
 */
#include <stdint.h>
#include <stdio.h>

typedef int64_t i64;
typedef uint64_t u64;

static int failures;

static void check(const char *what, u64 got, u64 want)
{
    if (got != want) {
        failures++;
        printf("FAIL %s: got %016llx want %016llx\n", what, (unsigned long long)got,
               (unsigned long long)want);
    }
}

#define R_OP(name)                                                                      \
    static u64 op_##name(u64 a, u64 b)                                                  \
    {                                                                                   \
        u64 r;                                                                          \
        __asm__ volatile(#name " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));               \
        return r;                                                                       \
    }

R_OP(add) R_OP(sub) R_OP(addw) R_OP(subw)
R_OP(mul) R_OP(mulw) R_OP(mulh) R_OP(mulhsu) R_OP(mulhu)
R_OP(div) R_OP(divu) R_OP(rem) R_OP(remu)
R_OP(divw) R_OP(divuw) R_OP(remw) R_OP(remuw)
R_OP(sll) R_OP(srl) R_OP(sra) R_OP(sllw) R_OP(srlw) R_OP(sraw)
R_OP(slt) R_OP(sltu) R_OP(and) R_OP(or) R_OP(xor)

struct op {
    const char *name;
    u64 (*fn)(u64, u64);
};

static const struct op ops[] = {
    {"add", op_add},     {"sub", op_sub},     {"addw", op_addw},   {"subw", op_subw},
    {"mul", op_mul},     {"mulw", op_mulw},   {"mulh", op_mulh},   {"mulhsu", op_mulhsu},
    {"mulhu", op_mulhu}, {"div", op_div},     {"divu", op_divu},   {"rem", op_rem},
    {"remu", op_remu},   {"divw", op_divw},   {"divuw", op_divuw}, {"remw", op_remw},
    {"remuw", op_remuw}, {"sll", op_sll},     {"srl", op_srl},     {"sra", op_sra},
    {"sllw", op_sllw},   {"srlw", op_srlw},   {"sraw", op_sraw},   {"slt", op_slt},
    {"sltu", op_sltu},   {"and", op_and},     {"or", op_or},       {"xor", op_xor},
};

static const u64 corners[] = {
    0,
    1,
    (u64)-1,
    2,
    (u64)-7,
    31,
    63,
    0x7fffffff,
    0xffffffff80000000ull, /* INT32_MIN sign-extended */
    0x0000000080000000ull, /* INT32_MIN zero-extended */
    0x00000000ffffffffull,
    0x7fffffffffffffffull, /* INT64_MAX */
    0x8000000000000000ull, /* INT64_MIN */
    0x0123456789abcdefull,
    0xfedcba9876543210ull,
};
#define NCORNERS (sizeof corners / sizeof corners[0])

/* The whole table: one line per (op, a), the results for every b. */
static void table(void)
{
    for (unsigned o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        for (unsigned i = 0; i < NCORNERS; i++) {
            printf("%-6s %016llx:", ops[o].name, (unsigned long long)corners[i]);
            for (unsigned j = 0; j < NCORNERS; j++)
                printf(" %llx", (unsigned long long)ops[o].fn(corners[i], corners[j]));
            printf("\n");
        }
    }
}

static u64 sext32(u64 x) { return (u64)(i64)(int32_t)(uint32_t)x; }

/* What the ISA manual defines for division by zero and signed overflow. */
static void division_corners(void)
{
    const u64 INT64_MIN_ = 0x8000000000000000ull;
    const u64 INT32_MIN_ = 0xffffffff80000000ull;
    for (unsigned i = 0; i < NCORNERS; i++) {
        u64 x = corners[i];
        char what[64];
        snprintf(what, sizeof what, "div %llx/0", (unsigned long long)x);
        check(what, op_div(x, 0), (u64)-1);
        snprintf(what, sizeof what, "divu %llx/0", (unsigned long long)x);
        check(what, op_divu(x, 0), (u64)-1);
        snprintf(what, sizeof what, "rem %llx%%0", (unsigned long long)x);
        check(what, op_rem(x, 0), x);
        snprintf(what, sizeof what, "remu %llx%%0", (unsigned long long)x);
        check(what, op_remu(x, 0), x);
        snprintf(what, sizeof what, "divw %llx/0", (unsigned long long)x);
        check(what, op_divw(x, 0), (u64)-1);
        snprintf(what, sizeof what, "divuw %llx/0", (unsigned long long)x);
        check(what, op_divuw(x, 0), (u64)-1);
        snprintf(what, sizeof what, "remw %llx%%0", (unsigned long long)x);
        check(what, op_remw(x, 0), sext32(x));
        snprintf(what, sizeof what, "remuw %llx%%0", (unsigned long long)x);
        check(what, op_remuw(x, 0), sext32(x));
    }
    check("div INT64_MIN/-1", op_div(INT64_MIN_, (u64)-1), INT64_MIN_);
    check("rem INT64_MIN%-1", op_rem(INT64_MIN_, (u64)-1), 0);
    check("divw INT32_MIN/-1", op_divw(INT32_MIN_, (u64)-1), INT32_MIN_);
    check("remw INT32_MIN%-1", op_remw(INT32_MIN_, (u64)-1), 0);
    /* the W forms look only at the low 32 bits of their operands */
    check("divw 0x180000000/-1", op_divw(0x180000000ull, 0xffffffffull), INT32_MIN_);
    check("divw -7/2", op_divw((u64)-7, 2), (u64)-3);
    check("remw -7%2", op_remw((u64)-7, 2), (u64)-1);
    check("div -7/2", op_div((u64)-7, 2), (u64)-3);
    check("rem -7%2", op_rem((u64)-7, 2), (u64)-1);
    check("rem 7%-2", op_rem(7, (u64)-2), 1);
    check("divu -1/2", op_divu((u64)-1, 2), 0x7fffffffffffffffull);
    check("divuw -1/2", op_divuw((u64)-1, 2), 0x7fffffff);
    check("divuw 0xffffffff/1", op_divuw(0xffffffffull, 1), (u64)-1);
    check("remuw 0x1ffffffff%0x10", op_remuw(0x1ffffffffull, 0x10), 0xf);
    printf("div INT64_MIN/-1 = %llx, rem = %llx\n",
           (unsigned long long)op_div(INT64_MIN_, (u64)-1),
           (unsigned long long)op_rem(INT64_MIN_, (u64)-1));
    printf("divw INT32_MIN/-1 = %llx, remw = %llx\n",
           (unsigned long long)op_divw(INT32_MIN_, (u64)-1),
           (unsigned long long)op_remw(INT32_MIN_, (u64)-1));
    printf("div 1234/0 = %llx, rem 1234%%0 = %llx, divu = %llx, remu = %llx\n",
           (unsigned long long)op_div(1234, 0), (unsigned long long)op_rem(1234, 0),
           (unsigned long long)op_divu(1234, 0), (unsigned long long)op_remu(1234, 0));
}

static void overflow_corners(void)
{
    check("add INT64_MAX+1", op_add(0x7fffffffffffffffull, 1), 0x8000000000000000ull);
    check("sub INT64_MIN-1", op_sub(0x8000000000000000ull, 1), 0x7fffffffffffffffull);
    check("addw INT32_MAX+1", op_addw(0x7fffffff, 1), 0xffffffff80000000ull);
    check("addw 0xffffffff+1", op_addw(0xffffffff, 1), 0);
    check("subw INT32_MIN-1", op_subw(0xffffffff80000000ull, 1), 0x7fffffff);
    check("addw ignores high", op_addw(0x1234567800000001ull, 0xabcdef0000000002ull), 3);
    check("mulw 0x10000*0x10000", op_mulw(0x10000, 0x10000), 0);
    check("mulw 0x8000*0x10000", op_mulw(0x8000, 0x10000), 0xffffffff80000000ull);
    check("mul wraps", op_mul(0x100000000ull, 0x100000000ull), 0);
    /* C-level wrap through unsigned arithmetic */
    volatile uint32_t a32 = 0xffffffffu;
    volatile u64 a64 = ~0ull;
    check("u32 wrap", (u64)(uint32_t)(a32 + 1u), 0);
    check("u64 wrap", a64 + 1, 0);
    volatile int32_t s = INT32_MIN;
    check("neg INT32_MIN", (u64)(i64)(int32_t)(0u - (uint32_t)s), 0xffffffff80000000ull);
}

static void high_multiplies(void)
{
    for (unsigned i = 0; i < NCORNERS; i++) {
        for (unsigned j = 0; j < NCORNERS; j++) {
            u64 a = corners[i], b = corners[j];
            __int128 ss = (__int128)(i64)a * (i64)b;
            unsigned __int128 uu = (unsigned __int128)a * b;
            __int128 su = (__int128)(i64)a * (__int128)(unsigned __int128)b;
            char what[80];
            snprintf(what, sizeof what, "mulh %llx %llx", (unsigned long long)a,
                     (unsigned long long)b);
            check(what, op_mulh(a, b), (u64)(ss >> 64));
            snprintf(what, sizeof what, "mulhu %llx %llx", (unsigned long long)a,
                     (unsigned long long)b);
            check(what, op_mulhu(a, b), (u64)(uu >> 64));
            snprintf(what, sizeof what, "mulhsu %llx %llx", (unsigned long long)a,
                     (unsigned long long)b);
            check(what, op_mulhsu(a, b), (u64)(su >> 64));
            snprintf(what, sizeof what, "mul %llx %llx", (unsigned long long)a,
                     (unsigned long long)b);
            check(what, op_mul(a, b), (u64)uu);
        }
    }
    printf("mulh -1*-1 = %llx, mulhu = %llx, mulhsu = %llx\n",
           (unsigned long long)op_mulh((u64)-1, (u64)-1),
           (unsigned long long)op_mulhu((u64)-1, (u64)-1),
           (unsigned long long)op_mulhsu((u64)-1, (u64)-1));
}

#define IMM_OP(insn, a, imm)                                                            \
    ({                                                                                  \
        u64 r_;                                                                         \
        __asm__ volatile(insn " %0, %1, %2" : "=r"(r_) : "r"((u64)(a)), "i"(imm));      \
        r_;                                                                             \
    })

static void shifts(void)
{
    /* register shift amounts: only the low 5 (W) or 6 bits count */
    check("sllw 1<<33", op_sllw(1, 33), 2);
    check("sllw 1<<31", op_sllw(1, 31), 0xffffffff80000000ull);
    check("sllw 1<<32", op_sllw(1, 32), 1);
    check("srlw 0xffffffff80000000>>0", op_srlw(0xffffffff80000000ull, 0),
          0xffffffff80000000ull);
    check("srlw 0xffffffff80000000>>1", op_srlw(0xffffffff80000000ull, 1), 0x40000000);
    check("srlw 0xffffffff>>63", op_srlw(0xffffffff, 63), 1);
    check("sraw 0x80000000>>31", op_sraw(0x80000000, 31), (u64)-1);
    check("sraw 0x80000000>>36", op_sraw(0x80000000, 36), 0xfffffffff8000000ull);
    check("sraw 0x7fffffff00000000>>4", op_sraw(0x7fffffff00000000ull, 4), 0);
    check("sll 1<<65", op_sll(1, 65), 2);
    check("sll 1<<63", op_sll(1, 63), 0x8000000000000000ull);
    check("srl INT64_MIN>>127", op_srl(0x8000000000000000ull, 127), 1);
    check("sra INT64_MIN>>63", op_sra(0x8000000000000000ull, 63), (u64)-1);
    check("sra INT64_MIN>>64", op_sra(0x8000000000000000ull, 64), 0x8000000000000000ull);
    /* immediate forms */
    check("slliw 1,31", IMM_OP("slliw", 1, 31), 0xffffffff80000000ull);
    check("slliw 3,30", IMM_OP("slliw", 3, 30), 0xffffffffc0000000ull);
    check("srliw -1,0", IMM_OP("srliw", -1, 0), (u64)-1);
    check("srliw -1,1", IMM_OP("srliw", -1, 1), 0x7fffffff);
    check("sraiw 0x80000000,4", IMM_OP("sraiw", 0x80000000, 4), 0xfffffffff8000000ull);
    check("sraiw 0x1234567880000000,0", IMM_OP("sraiw", 0x1234567880000000ull, 0),
          0xffffffff80000000ull);
    check("slli 1,63", IMM_OP("slli", 1, 63), 0x8000000000000000ull);
    check("srli -1,63", IMM_OP("srli", -1, 63), 1);
    check("srai INT64_MIN,62", IMM_OP("srai", 0x8000000000000000ull, 62), (u64)-2);
    check("addiw 0x7fffffff,1", IMM_OP("addiw", 0x7fffffff, 1), 0xffffffff80000000ull);
    check("addiw 0xffffffff,0 (sext.w)", IMM_OP("addiw", 0xffffffff, 0), (u64)-1);
    check("addiw 0x80000000,-1", IMM_OP("addiw", 0x80000000, -1), 0x7fffffff);
    check("addi -1,-2048", IMM_OP("addi", -1, -2048), (u64)-2049);
    check("xori 0,-1 (not)", IMM_OP("xori", 0, -1), (u64)-1);
    check("andi -1,-16", IMM_OP("andi", -1, -16), (u64)-16);
    check("ori 0x100,2047", IMM_OP("ori", 0x100, 2047), 0x7ff);
    u64 shamts[] = {0, 1, 5, 31, 32, 33, 63, 64, 95};
    for (unsigned k = 0; k < sizeof shamts / sizeof shamts[0]; k++) {
        u64 x = 0x89abcdef87654321ull, n = shamts[k];
        printf("shift by %2llu: sll %016llx srl %016llx sra %016llx sllw %016llx srlw %016llx "
               "sraw %016llx\n",
               (unsigned long long)n, (unsigned long long)op_sll(x, n),
               (unsigned long long)op_srl(x, n), (unsigned long long)op_sra(x, n),
               (unsigned long long)op_sllw(x, n), (unsigned long long)op_srlw(x, n),
               (unsigned long long)op_sraw(x, n));
    }
}

static void comparisons(void)
{
    check("slt -1<1", op_slt((u64)-1, 1), 1);
    check("sltu -1<1", op_sltu((u64)-1, 1), 0);
    check("slt INT64_MIN<INT64_MAX", op_slt(0x8000000000000000ull, 0x7fffffffffffffffull), 1);
    check("sltu INT64_MIN<INT64_MAX", op_sltu(0x8000000000000000ull, 0x7fffffffffffffffull),
          0);
    check("slt -2<-1", op_slt((u64)-2, (u64)-1), 1);
    check("slt 5<5", op_slt(5, 5), 0);
    check("slti -5<-4", IMM_OP("slti", -5, -4), 1);
    check("slti 0<-1", IMM_OP("slti", 0, -1), 0);
    check("sltiu 5<-1 (imm sign-extended)", IMM_OP("sltiu", 5, -1), 1);
    check("sltiu -1<-1", IMM_OP("sltiu", -1, -1), 0);
    check("sltiu 0<1 (seqz)", IMM_OP("sltiu", 0, 1), 1);
    check("sltu 0<7 (snez)", op_sltu(0, 7), 1);
    /* branches, via C comparisons the compiler must emit on volatile operands */
    volatile i64 m1 = -1, p1 = 1;
    volatile u64 um1 = (u64)-1, up1 = 1;
    int bits = (m1 < p1) | (um1 < up1) << 1 | (m1 >= p1) << 2 | (um1 >= up1) << 3 |
               (m1 == (i64)um1) << 4 | (p1 != (i64)up1) << 5;
    check("branch bits", (u64)bits, 0x19);
    printf("branch bits %x\n", bits);
}

static void narrow_loads(void)
{
    volatile uint8_t b[8] = {0x80, 0x7f, 0xff, 0x01, 0x00, 0x80, 0xfe, 0xff};
    volatile int8_t *sb = (volatile int8_t *)b;
    volatile uint16_t *h = (volatile uint16_t *)b;
    volatile int16_t *sh = (volatile int16_t *)b;
    volatile uint32_t *w = (volatile uint32_t *)b;
    volatile int32_t *sw = (volatile int32_t *)b;
    check("lb 0x80", (u64)(i64)sb[0], (u64)-128);
    check("lbu 0x80", (u64)b[0], 0x80);
    check("lh 0x7f80", (u64)(i64)sh[0], 0x7f80);
    check("lh 0x01ff", (u64)(i64)sh[1], 0x01ff);
    check("lh 0x8000", (u64)(i64)sh[2], 0xffffffffffff8000ull);
    check("lhu 0xfffe", (u64)h[3], 0xfffe);
    check("lw 0x01ff7f80", (u64)(i64)sw[0], 0x01ff7f80);
    check("lw 0xfffe8000", (u64)(i64)sw[1], 0xfffffffffffe8000ull);
    check("lwu 0xfffe8000", (u64)w[1], 0xfffe8000ull);
    volatile union {
        u64 d;
        uint32_t w[2];
        uint16_t h[4];
        uint8_t b[8];
    } u = {0};
    u.b[3] = 0xaa;
    u.h[3] = 0xbeef;
    u.w[0] |= 0x11;
    check("narrow stores", u.d, 0xbeef0000aa000011ull);
}

int main(void)
{
    table();
    division_corners();
    overflow_corners();
    high_multiplies();
    shifts();
    comparisons();
    narrow_loads();
    printf("intcorners: %d failures\n", failures);
    return failures > 100 ? 100 : failures;
}
