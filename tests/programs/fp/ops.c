/* Every RV64F and RV64D instruction over corner operands, in every static rounding mode and
 * in the dynamic mode with each value of frm, printing the result's raw 64 bits and the
 * accrued fflags (cleared before each instruction, or set to NX alone with the "-nx"
 * sections, where an emulator may take shortcuts that do not compute NX).  The output is
 * compared exactly with qemu-riscv64, whose F and D are softfloat.
 *
 * Each instruction runs in one asm statement: raw register bits in (fmv.d.x, so singles can
 * be improperly NaN-boxed), fflags cleared, the instruction, fflags read, raw bits out.
 * binutils accepts no rounding mode on fcvt.d.w, fcvt.d.wu and fcvt.d.s (they are exact),
 * so those are written with .insn.
 */
#define RNG_SEED 0x9e3779b97f4a7c15ull
#include "fp_harness.h"

/* Text macros (rounding mode name, number) -> assembly. */
#define fadd_s_T(rm, n) "fadd.s ft3, ft0, ft1, " rm
#define fsub_s_T(rm, n) "fsub.s ft3, ft0, ft1, " rm
#define fmul_s_T(rm, n) "fmul.s ft3, ft0, ft1, " rm
#define fdiv_s_T(rm, n) "fdiv.s ft3, ft0, ft1, " rm
#define fsqrt_s_T(rm, n) "fsqrt.s ft3, ft0, " rm
#define fadd_d_T(rm, n) "fadd.d ft3, ft0, ft1, " rm
#define fsub_d_T(rm, n) "fsub.d ft3, ft0, ft1, " rm
#define fmul_d_T(rm, n) "fmul.d ft3, ft0, ft1, " rm
#define fdiv_d_T(rm, n) "fdiv.d ft3, ft0, ft1, " rm
#define fsqrt_d_T(rm, n) "fsqrt.d ft3, ft0, " rm
#define fmadd_s_T(rm, n) "fmadd.s ft3, ft0, ft1, ft2, " rm
#define fmsub_s_T(rm, n) "fmsub.s ft3, ft0, ft1, ft2, " rm
#define fnmsub_s_T(rm, n) "fnmsub.s ft3, ft0, ft1, ft2, " rm
#define fnmadd_s_T(rm, n) "fnmadd.s ft3, ft0, ft1, ft2, " rm
#define fmadd_d_T(rm, n) "fmadd.d ft3, ft0, ft1, ft2, " rm
#define fmsub_d_T(rm, n) "fmsub.d ft3, ft0, ft1, ft2, " rm
#define fnmsub_d_T(rm, n) "fnmsub.d ft3, ft0, ft1, ft2, " rm
#define fnmadd_d_T(rm, n) "fnmadd.d ft3, ft0, ft1, ft2, " rm
#define fcvt_s_d_T(rm, n) "fcvt.s.d ft3, ft0, " rm
#define fcvt_d_s_T(rm, n) ".insn r 0x53, " #n ", 0x21, ft3, ft0, x0"
#define fcvt_w_s_T(rm, n) "fcvt.w.s %0, ft0, " rm
#define fcvt_wu_s_T(rm, n) "fcvt.wu.s %0, ft0, " rm
#define fcvt_l_s_T(rm, n) "fcvt.l.s %0, ft0, " rm
#define fcvt_lu_s_T(rm, n) "fcvt.lu.s %0, ft0, " rm
#define fcvt_w_d_T(rm, n) "fcvt.w.d %0, ft0, " rm
#define fcvt_wu_d_T(rm, n) "fcvt.wu.d %0, ft0, " rm
#define fcvt_l_d_T(rm, n) "fcvt.l.d %0, ft0, " rm
#define fcvt_lu_d_T(rm, n) "fcvt.lu.d %0, ft0, " rm
#define fcvt_s_w_T(rm, n) "fcvt.s.w ft3, %2, " rm
#define fcvt_s_wu_T(rm, n) "fcvt.s.wu ft3, %2, " rm
#define fcvt_s_l_T(rm, n) "fcvt.s.l ft3, %2, " rm
#define fcvt_s_lu_T(rm, n) "fcvt.s.lu ft3, %2, " rm
#define fcvt_d_w_T(rm, n) ".insn r 0x53, " #n ", 0x69, ft3, %2, x0"
#define fcvt_d_wu_T(rm, n) ".insn r 0x53, " #n ", 0x69, ft3, %2, x1"
#define fcvt_d_l_T(rm, n) "fcvt.d.l ft3, %2, " rm
#define fcvt_d_lu_T(rm, n) "fcvt.d.lu ft3, %2, " rm

RM6(fadd_s, fadd_s_T, FRES)
RM6(fsub_s, fsub_s_T, FRES)
RM6(fmul_s, fmul_s_T, FRES)
RM6(fdiv_s, fdiv_s_T, FRES)
RM6(fsqrt_s, fsqrt_s_T, FRES)
RM6(fadd_d, fadd_d_T, FRES)
RM6(fsub_d, fsub_d_T, FRES)
RM6(fmul_d, fmul_d_T, FRES)
RM6(fdiv_d, fdiv_d_T, FRES)
RM6(fsqrt_d, fsqrt_d_T, FRES)
RM6(fmadd_s, fmadd_s_T, FRES)
RM6(fmsub_s, fmsub_s_T, FRES)
RM6(fnmsub_s, fnmsub_s_T, FRES)
RM6(fnmadd_s, fnmadd_s_T, FRES)
RM6(fmadd_d, fmadd_d_T, FRES)
RM6(fmsub_d, fmsub_d_T, FRES)
RM6(fnmsub_d, fnmsub_d_T, FRES)
RM6(fnmadd_d, fnmadd_d_T, FRES)
RM6(fcvt_s_d, fcvt_s_d_T, FRES)
RM6(fcvt_d_s, fcvt_d_s_T, FRES)
RM6(fcvt_w_s, fcvt_w_s_T, IRES)
RM6(fcvt_wu_s, fcvt_wu_s_T, IRES)
RM6(fcvt_l_s, fcvt_l_s_T, IRES)
RM6(fcvt_lu_s, fcvt_lu_s_T, IRES)
RM6(fcvt_w_d, fcvt_w_d_T, IRES)
RM6(fcvt_wu_d, fcvt_wu_d_T, IRES)
RM6(fcvt_l_d, fcvt_l_d_T, IRES)
RM6(fcvt_lu_d, fcvt_lu_d_T, IRES)
RM6(fcvt_s_w, fcvt_s_w_T, FRES)
RM6(fcvt_s_wu, fcvt_s_wu_T, FRES)
RM6(fcvt_s_l, fcvt_s_l_T, FRES)
RM6(fcvt_s_lu, fcvt_s_lu_T, FRES)
RM6(fcvt_d_w, fcvt_d_w_T, FRES)
RM6(fcvt_d_wu, fcvt_d_wu_T, FRES)
RM6(fcvt_d_l, fcvt_d_l_T, FRES)
RM6(fcvt_d_lu, fcvt_d_lu_T, FRES)

RM1(fsgnj_s, "fsgnj.s ft3, ft0, ft1", FRES)
RM1(fsgnjn_s, "fsgnjn.s ft3, ft0, ft1", FRES)
RM1(fsgnjx_s, "fsgnjx.s ft3, ft0, ft1", FRES)
RM1(fsgnj_d, "fsgnj.d ft3, ft0, ft1", FRES)
RM1(fsgnjn_d, "fsgnjn.d ft3, ft0, ft1", FRES)
RM1(fsgnjx_d, "fsgnjx.d ft3, ft0, ft1", FRES)
RM1(fmv_s, "fmv.s ft3, ft0", FRES)
RM1(fabs_s, "fabs.s ft3, ft0", FRES)
RM1(fneg_d, "fneg.d ft3, ft0", FRES)
RM1(fmin_s, "fmin.s ft3, ft0, ft1", FRES)
RM1(fmax_s, "fmax.s ft3, ft0, ft1", FRES)
RM1(fmin_d, "fmin.d ft3, ft0, ft1", FRES)
RM1(fmax_d, "fmax.d ft3, ft0, ft1", FRES)
RM1(feq_s, "feq.s %0, ft0, ft1", IRES)
RM1(flt_s, "flt.s %0, ft0, ft1", IRES)
RM1(fle_s, "fle.s %0, ft0, ft1", IRES)
RM1(feq_d, "feq.d %0, ft0, ft1", IRES)
RM1(flt_d, "flt.d %0, ft0, ft1", IRES)
RM1(fle_d, "fle.d %0, ft0, ft1", IRES)
RM1(fclass_s, "fclass.s %0, ft0", IRES)
RM1(fclass_d, "fclass.d %0, ft0", IRES)
RM1(fmv_x_w, "fmv.x.w %0, ft0", IRES)
RM1(fmv_w_x, "fmv.w.x ft3, %2", FRES)
RM1(fmv_x_d, "fmv.x.d %0, ft0", IRES)
RM1(fmv_d_x, "fmv.d.x ft3, %2", FRES)

/* Operand sets.  Singles are given as 64-bit register values (boxed, or deliberately not). */
static const uint64_t DOUBLES[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3ff8000000000000, 0x3fb999999999999a, 0x3fd5555555555555, 0x0000000000000001,
    0x000fffffffffffff, 0x0010000000000000, 0x8010000000000001, 0x7fefffffffffffff,
    0xffefffffffffffff, 0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000,
    0x7ff4000000000000, 0xfff8000000000001, 0x3ff0000000000001, 0x4340000000000000,
    0x4340000000000001, 0x41dfffffffe00000, 0x41e0000000000000, 0xc1e0000000100000,
    0x43e0000000000000, 0xc3e0000000000000, 0x43f0000000000000, 0x4004000000000000,
    0xc00c000000000000, 0x3fe0000000000000, 0xbfe8000000000000, 0x400921fb54442d18,
    0x0008000000000000, 0x3ca0000000000000, 0x7fe0000000000000, 0x41f0000000080000,
};
static const uint64_t SINGLES[] = {
    0xffffffff00000000, 0xffffffff80000000, 0xffffffff3f800000, 0xffffffffbf800000,
    0xffffffff3fc00000, 0xffffffff3dcccccd, 0xffffffff3eaaaaab, 0xffffffff00000001,
    0xffffffff007fffff, 0xffffffff00800000, 0xffffffff80800001, 0xffffffff7f7fffff,
    0xffffffffff7fffff, 0xffffffff7f800000, 0xffffffffff800000, 0xffffffff7fc00000,
    0xffffffff7fa00000, 0xffffffffffc00001, 0xffffffff3f800001, 0xffffffff4b800000,
    0xffffffff4f000000, 0xffffffffcf000000, 0xffffffff5f000000, 0xffffffff5f800000,
    0xffffffff40200000, 0xffffffffc0600000, 0xffffffff3f000000, 0xffffffffbf400000,
    0xffffffff40490fdb, 0xffffffff4f7fffff, 0x000000003f800000, 0x7ff8000000000000,
    0xfffffffe3f800000, 0x00000000ffffffff, 0xffffffff33800000, 0xffffffff7f000000,
};
static const uint64_t INTS[] = {
    0, 1, 2, 3, (uint64_t)-1, (uint64_t)-2, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000,
    0xffffffff7fffffff, 0xffffffff80000000, 0x1000001, 0x1000003, 0xfffffffffefffffd,
    0x20000000000001, 0x20000000000003, 0x7fffffffffffffff, 0x8000000000000000,
    0xffffffffffffffff, 0x0123456789abcdef, 0xfedcba9876543210, 0x7ffffe0000000000,
    0x8000008000000001, 0xfffffc0000000001, 0x00000000ff800001,
};
/* Fused multiply-adds whose exact result sits just off a midpoint of the result format,
 * where rounding a nearby intermediate first (in double) would land on the midpoint and
 * round the wrong way: (1 + 2^-12)^2 + 2^-70 in single, (1 + 2^-27)^2 + 2^-54 + 2^-106 in
 * double, and their mirror images.  Then results at the underflow threshold: exactly on
 * the midpoint below 2^-126 when rounded to double, just above it or just below it (tiny),
 * and in double an exact 2^-1022 and a tiny one. */
static const uint64_t FMA_EDGES_S[][3] = {
    {0xffffffff3f800800, 0xffffffff3f800800, 0xffffffff1c800000},
    {0xffffffff3f800800, 0xffffffff3f800800, 0xffffffff9c800000},
    {0xffffffffbf800800, 0xffffffff3f800800, 0xffffffff9c800000},
    {0xffffffff3f800800, 0xffffffff3f800c00, 0xffffffff1c800000},
    {0xffffffff1a000001, 0xffffffff997ffffe, 0xffffffff00800000},
    {0xffffffff1a0007fd, 0xffffffff997ff007, 0xffffffff00800000},
};
static const uint64_t FMA_EDGES_D[][3] = {
    {0x3ff0000002000000, 0x3ff0000002000000, 0x3c90000000000001},
    {0x3ff0000002000000, 0x3ff0000002000000, 0xbc90000000000001},
    {0xbff0000002000000, 0x3ff0000002000000, 0xbc90000000000001},
    {0x3ff0000002000000, 0x3ff0000003000000, 0x3c90000000000001},
    {0x3ff0000000000001, 0x0010000000000000, 0x8000000000000001},
    {0x3fefffffffffffff, 0x0010000000000000, 0x0000000000000000},
};
static const struct op OPS[] = {
    OP6(fadd_s, F2, SINGLE), OP6(fsub_s, F2, SINGLE), OP6(fmul_s, F2, SINGLE),
    OP6(fdiv_s, F2, SINGLE), OP6(fsqrt_s, F1, SINGLE), OP6(fadd_d, F2, DOUBLE),
    OP6(fsub_d, F2, DOUBLE), OP6(fmul_d, F2, DOUBLE), OP6(fdiv_d, F2, DOUBLE),
    OP6(fsqrt_d, F1, DOUBLE), OP6(fmadd_s, F3, SINGLE), OP6(fmsub_s, F3, SINGLE),
    OP6(fnmsub_s, F3, SINGLE), OP6(fnmadd_s, F3, SINGLE), OP6(fmadd_d, F3, DOUBLE),
    OP6(fmsub_d, F3, DOUBLE), OP6(fnmsub_d, F3, DOUBLE), OP6(fnmadd_d, F3, DOUBLE),
    OP6(fcvt_s_d, F1, DOUBLE), OP6(fcvt_d_s, F1, SINGLE), OP6(fcvt_w_s, F1, SINGLE),
    OP6(fcvt_wu_s, F1, SINGLE), OP6(fcvt_l_s, F1, SINGLE), OP6(fcvt_lu_s, F1, SINGLE),
    OP6(fcvt_w_d, F1, DOUBLE), OP6(fcvt_wu_d, F1, DOUBLE), OP6(fcvt_l_d, F1, DOUBLE),
    OP6(fcvt_lu_d, F1, DOUBLE), OP6(fcvt_s_w, I1, DOUBLE), OP6(fcvt_s_wu, I1, DOUBLE),
    OP6(fcvt_s_l, I1, DOUBLE), OP6(fcvt_s_lu, I1, DOUBLE), OP6(fcvt_d_w, I1, DOUBLE),
    OP6(fcvt_d_wu, I1, DOUBLE), OP6(fcvt_d_l, I1, DOUBLE), OP6(fcvt_d_lu, I1, DOUBLE),
    OP1(fsgnj_s, F2, SINGLE), OP1(fsgnjn_s, F2, SINGLE), OP1(fsgnjx_s, F2, SINGLE),
    OP1(fsgnj_d, F2, DOUBLE), OP1(fsgnjn_d, F2, DOUBLE), OP1(fsgnjx_d, F2, DOUBLE),
    OP1(fmv_s, F1, SINGLE), OP1(fabs_s, F1, SINGLE), OP1(fneg_d, F1, DOUBLE),
    OP1(fmin_s, F2, SINGLE), OP1(fmax_s, F2, SINGLE), OP1(fmin_d, F2, DOUBLE),
    OP1(fmax_d, F2, DOUBLE), OP1(feq_s, F2, SINGLE), OP1(flt_s, F2, SINGLE),
    OP1(fle_s, F2, SINGLE), OP1(feq_d, F2, DOUBLE), OP1(flt_d, F2, DOUBLE),
    OP1(fle_d, F2, DOUBLE), OP1(fclass_s, F1, SINGLE), OP1(fclass_d, F1, DOUBLE),
    OP1(fmv_x_w, F1, SINGLE), OP1(fmv_w_x, I1, DOUBLE), OP1(fmv_x_d, F1, DOUBLE),
    OP1(fmv_d_x, I1, DOUBLE),
};

/* Each (operation, mode) over its corner operands; the fused multiply-adds then print their
 * edge cases one by one. */
static void run_op(const struct op *op, op_fn fn, const char *mode)
{
    int single = op->source == SINGLE;
    const uint64_t *set = op->shape == I1 ? INTS : single ? SINGLES : DOUBLES;
    unsigned n = op->shape == I1 ? COUNT(INTS) : single ? COUNT(SINGLES) : COUNT(DOUBLES);
    unsigned count = 0;
    uint64_t hash = corner_results(op, fn, mode, set, n, &count);
    if (op->shape == F3)
        for (unsigned t = 0; t < COUNT(FMA_EDGES_D); t++) {
            const uint64_t *abc = single ? FMA_EDGES_S[t] : FMA_EDGES_D[t];
            unsigned flags;
            uint64_t r = fn(abc[0], abc[1], abc[2], &flags);
            printf("%s %s edge case %u: %016llx %02x\n", op->name, mode, t,
                   (unsigned long long)r, flags);
        }
    print_hash(op, mode, "", count, hash);
}

/* Random operands are shaped to reach rounding ties, exact results, cancellation,
 * subnormals, overflow and the edges of the integer ranges.  A double (or, with single
 * set, a boxed single) of a random shape. */
static uint64_t random_float(int single)
{
    unsigned frac = single ? 23 : 52, bias = single ? 127 : 1023;
    uint64_t emax = single ? 0xff : 0x7ff, r = rnd(), sign = r >> 63, exp, mant;
    uint64_t fmask = (1ull << frac) - 1;
    switch ((r >> 56) & 7) {
    case 0:                         /* any bit pattern */
        return single ? 0xffffffff00000000ull | (uint32_t)rnd() : rnd();
    case 1:                         /* few significant bits: exact results and ties */
        mant = (rnd() & 0xff) << (frac - 8);
        exp = bias - 3 + (r & 7);
        break;
    case 2:                         /* tiny or huge */
        exp = (r & 1) ? (r >> 8) % 4 : emax - 1 - (r >> 8) % 3;
        mant = rnd() & fmask;
        break;
    case 3:                         /* specials */
        exp = (r & 1) ? emax : 0;
        mant = (r & 2) ? 0 : (r & 4) ? 1ull << (frac - 1) : rnd() & fmask;
        break;
    case 4:                         /* near the integer limits, with halves and quarters */
        exp = bias + ((r & 1) ? 31 : 63) - (r >> 8) % 3;
        mant = (rnd() & fmask) & ~((1ull << (frac > 30 ? frac - 30 : 0)) - 1);
        if (r & 2)
            exp = bias + (r >> 8) % 4, mant &= ~((1ull << (frac - 3)) - 1);
        break;
    default:                        /* ordinary numbers of nearby magnitudes */
        exp = bias - 2 + (r >> 8) % 5;
        mant = rnd() & fmask;
        break;
    }
    uint64_t bits = sign << (frac + (single ? 8 : 11)) | exp << frac | mant;
    return single ? 0xffffffff00000000ull | bits : bits;
}

/* c close to -(a * b), for cancellation in fused multiply-adds: the exact product's
 * significand (integer multiply) with a perturbed last bit. */
static uint64_t cancelling_addend(uint64_t a, uint64_t b, int single)
{
    unsigned frac = single ? 23 : 52, bias = single ? 127 : 1023, width = single ? 32 : 64;
    uint64_t fmask = (1ull << frac) - 1, emask = single ? 0xff : 0x7ff;
    uint64_t ea = (a >> frac) & emask, eb = (b >> frac) & emask;
    if (ea == 0 || eb == 0 || ea == emask || eb == emask)
        return random_float(single);
    unsigned __int128 p = (unsigned __int128)((a & fmask) | (1ull << frac)) *
                          ((b & fmask) | (1ull << frac));
    int carry = (p >> (2 * frac + 1)) != 0;
    long e = (long)ea + (long)eb - bias + carry;
    if (e <= 0 || e >= (long)emask)
        return random_float(single);
    uint64_t mant = (uint64_t)(p >> (frac + carry)) & fmask;
    mant ^= rnd() & 3;
    uint64_t sign = ((a ^ b) >> (width - 1) & 1) ^ 1;
    uint64_t bits = sign << (width - 1) | (uint64_t)e << frac | mant;
    return single ? 0xffffffff00000000ull | bits : bits;
}

/* Random a, b and c; every second c cancels most of a * b. */
static void random_operands(const struct op *op, unsigned i, uint64_t abc[3])
{
    int single = op->source == SINGLE;
    /* just above 2^24 or 2^53 among the integers: rounding of int -> float */
    abc[0] = op->shape == I1 ? random_int(24, 40, 0xffff) : random_float(single);
    abc[1] = random_float(single);
    abc[2] = (i & 1) ? cancelling_addend(abc[0], abc[1], single) : random_float(single);
}

/* The CSRs: frm, fflags and fcsr read and written through each of their names. */
static void csr_checks(void)
{
    unsigned long v;
    __asm__ volatile("fscsr %0" : : "r"(0xffUL));
    __asm__ volatile("frcsr %0" : "=r"(v));
    printf("fcsr after writing 0xff: %lx\n", v);
    __asm__ volatile("frflags %0" : "=r"(v));
    printf("fflags: %lx\n", v);
    __asm__ volatile("frrm %0" : "=r"(v));
    printf("frm: %lx\n", v);
    __asm__ volatile("csrci fflags, 0x15");
    __asm__ volatile("frcsr %0" : "=r"(v));
    printf("fcsr after clearing NV UF NX: %lx\n", v);
    __asm__ volatile("fsrmi 2");
    __asm__ volatile("fsflagsi 0");
    __asm__ volatile("frcsr %0" : "=r"(v));
    printf("fcsr with frm=rdn, no flags: %lx\n", v);
    double x = 1.0, y = 3.0, z = 0.0;
    __asm__ volatile("fdiv.d %0, %0, %1" : "+f"(x) : "f"(y));
    __asm__ volatile("fdiv.d %0, %0, %1" : "+f"(y) : "f"(z));
    __asm__ volatile("frflags %0" : "=r"(v));
    union { double d; unsigned long long u; } bx = {x}, by = {y};
    printf("after 1/3 and 3/0 in rdn: %016llx %016llx flags %lx\n", bx.u, by.u, v);
    __asm__ volatile("fsflags %0, %1" : "=r"(v) : "r"(0x1fUL));
    printf("fsflags swap returned %lx\n", v);
    __asm__ volatile("fsrm %0, %1" : "=r"(v) : "r"(4UL));
    printf("fsrm swap returned %lx\n", v);
    __asm__ volatile("csrrs %0, fcsr, %1" : "=r"(v) : "r"(0x100UL));
    printf("fcsr (bits above 7 ignored): %lx\n", v);
    __asm__ volatile("frcsr %0" : "=r"(v));
    printf("fcsr now: %lx\n", v);
    __asm__ volatile("fscsr zero");
}

/* fp_ops corners|random|corners-nx|random-nx [-v]: one of the sections; -v prints every
 * result. */
int main(int argc, char **argv)
{
    int randomized = argc > 1 && argv[1][0] == 'r';
    initial_flags = argc > 1 && strstr(argv[1], "-nx") ? 1 : 0;
    verbose = argc > 2;
    if (!randomized)
        csr_checks();
    for (unsigned o = 0; o < COUNT(OPS); o++) {
        const struct op *op = &OPS[o];
        int modes = op->variants == 1 ? 1 : 5;
        unsigned samples = op->shape == F3 ? 3000 : 2000;
        for (int mode = 0; mode < modes; mode++) {
            set_frm(0);
            const char *name = op->variants == 1 ? "-" : MODE_NAMES[mode];
            if (randomized)
                run_random(op, op->fn[mode], name, 0, samples);
            else
                run_op(op, op->fn[mode], name);
        }
        if (op->variants == 1)
            continue;
        if (randomized) {
            run_random(op, op->fn[5], "dyn", 1, samples);
            continue;
        }
        for (unsigned frm = 0; frm < 5; frm++) {
            char name[8];
            snprintf(name, sizeof name, "dyn%u", frm);
            set_frm(frm);
            run_op(op, op->fn[5], name);
        }
    }
    set_frm(0);
    return 0;
}
