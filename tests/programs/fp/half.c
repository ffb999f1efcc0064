/* Every Zfhmin and Zfh instruction over corner and random operands, in every static rounding
 * mode and in the dynamic mode under each value of frm, printing a hash of the results' raw
 * 64 bits and the accrued fflags per (instruction, mode), or every line with -v.  The output
 * is compared exactly with qemu-riscv64 -cpu rv64,Zfh=true (softfloat).
 *
 * As in ops.c, each instruction is one asm statement: raw register bits in (fmv.d.x, so
 * halves can be improperly NaN-boxed), fflags set to the section's initial value, the
 * instruction, fflags read, raw bits out.  The exact widenings (fcvt.s.h, fcvt.d.h) take
 * no rounding mode in binutils, so they are written with .insn.  flh and fsh go through
 * memory; fsh stores the low 16 bits of any register, boxed or not.
 * Build: -march=rv64gc_zfh.
 */
/* flh and fsh address this cell (%6 in the asm). */
#define ASM_EXTRA_INPUTS , "r"(cell)
#define ASM_EXTRA_CLOBBERS , "memory"
#define RNG_SEED 0x2545f4914f6cdd1dull
#include "fp_harness.h"

static uint16_t cell[4];

#define fadd_h_T(rm, n) "fadd.h ft3, ft0, ft1, " rm
#define fsub_h_T(rm, n) "fsub.h ft3, ft0, ft1, " rm
#define fmul_h_T(rm, n) "fmul.h ft3, ft0, ft1, " rm
#define fdiv_h_T(rm, n) "fdiv.h ft3, ft0, ft1, " rm
#define fsqrt_h_T(rm, n) "fsqrt.h ft3, ft0, " rm
#define fmadd_h_T(rm, n) "fmadd.h ft3, ft0, ft1, ft2, " rm
#define fmsub_h_T(rm, n) "fmsub.h ft3, ft0, ft1, ft2, " rm
#define fnmsub_h_T(rm, n) "fnmsub.h ft3, ft0, ft1, ft2, " rm
#define fnmadd_h_T(rm, n) "fnmadd.h ft3, ft0, ft1, ft2, " rm
#define fcvt_h_s_T(rm, n) "fcvt.h.s ft3, ft0, " rm
#define fcvt_h_d_T(rm, n) "fcvt.h.d ft3, ft0, " rm
#define fcvt_s_h_T(rm, n) ".insn r 0x53, " #n ", 0x20, ft3, ft0, x2"
#define fcvt_d_h_T(rm, n) ".insn r 0x53, " #n ", 0x21, ft3, ft0, x2"
#define fcvt_w_h_T(rm, n) "fcvt.w.h %0, ft0, " rm
#define fcvt_wu_h_T(rm, n) "fcvt.wu.h %0, ft0, " rm
#define fcvt_l_h_T(rm, n) "fcvt.l.h %0, ft0, " rm
#define fcvt_lu_h_T(rm, n) "fcvt.lu.h %0, ft0, " rm
#define fcvt_h_w_T(rm, n) "fcvt.h.w ft3, %2, " rm
#define fcvt_h_wu_T(rm, n) "fcvt.h.wu ft3, %2, " rm
#define fcvt_h_l_T(rm, n) "fcvt.h.l ft3, %2, " rm
#define fcvt_h_lu_T(rm, n) "fcvt.h.lu ft3, %2, " rm

RM6(fadd_h, fadd_h_T, FRES)
RM6(fsub_h, fsub_h_T, FRES)
RM6(fmul_h, fmul_h_T, FRES)
RM6(fdiv_h, fdiv_h_T, FRES)
RM6(fsqrt_h, fsqrt_h_T, FRES)
RM6(fmadd_h, fmadd_h_T, FRES)
RM6(fmsub_h, fmsub_h_T, FRES)
RM6(fnmsub_h, fnmsub_h_T, FRES)
RM6(fnmadd_h, fnmadd_h_T, FRES)
RM6(fcvt_h_s, fcvt_h_s_T, FRES)
RM6(fcvt_h_d, fcvt_h_d_T, FRES)
RM6(fcvt_s_h, fcvt_s_h_T, FRES)
RM6(fcvt_d_h, fcvt_d_h_T, FRES)
RM6(fcvt_w_h, fcvt_w_h_T, IRES)
RM6(fcvt_wu_h, fcvt_wu_h_T, IRES)
RM6(fcvt_l_h, fcvt_l_h_T, IRES)
RM6(fcvt_lu_h, fcvt_lu_h_T, IRES)
RM6(fcvt_h_w, fcvt_h_w_T, FRES)
RM6(fcvt_h_wu, fcvt_h_wu_T, FRES)
RM6(fcvt_h_l, fcvt_h_l_T, FRES)
RM6(fcvt_h_lu, fcvt_h_lu_T, FRES)

RM1(fsgnj_h, "fsgnj.h ft3, ft0, ft1", FRES)
RM1(fsgnjn_h, "fsgnjn.h ft3, ft0, ft1", FRES)
RM1(fsgnjx_h, "fsgnjx.h ft3, ft0, ft1", FRES)
RM1(fmin_h, "fmin.h ft3, ft0, ft1", FRES)
RM1(fmax_h, "fmax.h ft3, ft0, ft1", FRES)
RM1(feq_h, "feq.h %0, ft0, ft1", IRES)
RM1(flt_h, "flt.h %0, ft0, ft1", IRES)
RM1(fle_h, "fle.h %0, ft0, ft1", IRES)
RM1(fclass_h, "fclass.h %0, ft0", IRES)
RM1(fmv_x_h, "fmv.x.h %0, ft0", IRES)
RM1(fmv_h_x, "fmv.h.x ft3, %2", FRES)
/* fsh then flh of the same cell: the low 16 bits, reloaded NaN-boxed */
RM1(fsh_flh, "fsh ft0, 2(%6)\n\tflh ft3, 2(%6)", FRES)
/* flh of what an integer store put there */
RM1(flh_sh, "sh %2, 4(%6)\n\tflh ft3, 4(%6)", FRES)

/* Operands as 64-bit register values: halves boxed, or deliberately not. */
#define H(x) (0xffffffffffff0000ull | (x))
static const uint64_t HALVES[] = {
    H(0x0000), H(0x8000), H(0x3c00), H(0xbc00), H(0x3e00), H(0x2e66), H(0x3555), H(0x0001),
    H(0x03ff), H(0x0400), H(0x8401), H(0x7bff), H(0xfbff), H(0x7c00), H(0xfc00), H(0x7e00),
    H(0x7d00), H(0xfe01), H(0x3c01), H(0x6400), H(0x6401), H(0x7800), H(0x4100), H(0xc300),
    H(0x3800), H(0xba00), H(0x4248), H(0x0200), H(0x3bff), H(0x1400), H(0x77ff), H(0x5bff),
    0x0000000000003c00, 0x7ff8000000000000, 0xfffffffffffe3c00, 0xffffffff00003c00,
};
static const uint64_t SINGLES[] = {
    0xffffffff00000000, 0xffffffff80000000, 0xffffffff3f800000, 0xffffffffbf800000,
    0xffffffff3fc00000, 0xffffffff3dcccccd, 0xffffffff3eaaaaab, 0xffffffff00000001,
    0xffffffff477fe000, 0xffffffff477ff000, 0xffffffff477fefff, 0xffffffff47800000,
    0xffffffff38800000, 0xffffffff387fc000, 0xffffffff33800000, 0xffffffff33000000,
    0xffffffff33000001, 0xffffffffb3c00000, 0xffffffff7f800000, 0xffffffff7fc00000,
    0xffffffff7fa00000, 0xffffffff3f801000, 0xffffffff3f801001, 0xffffffff3f803000,
    0x000000003f800000, 0xffffffff7f7fffff,
};
static const uint64_t DOUBLES[] = {
    0x0000000000000000, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000,
    0x3fb999999999999a, 0x40effc0000000000, 0x40effe0000000000, 0x40effdffffffffff,
    0x40f0000000000000, 0x3f10000000000000, 0x3f0ff80000000000, 0x3e70000000000000,
    0x3e60000000000000, 0x3e60000000000001, 0xbe78000000000000, 0x7ff0000000000000,
    0x7ff8000000000000, 0x7ff4000000000000, 0x3ff0020000000000, 0x3ff0020000000001,
    0x3ff0060000000000, 0x0000000000000001, 0x7fefffffffffffff, 0xc0effc0000000000,
};
static const uint64_t INTS[] = {
    0, 1, 2, 3, (uint64_t)-1, (uint64_t)-2, 2047, 2049, 2051, 4097, 65504, 65519, 65520,
    65536, (uint64_t)-65504, (uint64_t)-65520, 0x7fffffff, 0x80000000, 0xffffffff,
    0x100000000, 0x7fffffffffffffff, 0x8000000000000000, 0x0123456789abcdef, 0xffff0000ffe0,
};
static const struct op OPS[] = {
    OP6(fadd_h, F2, HALF), OP6(fsub_h, F2, HALF), OP6(fmul_h, F2, HALF),
    OP6(fdiv_h, F2, HALF), OP6(fsqrt_h, F1, HALF), OP6(fmadd_h, F3, HALF),
    OP6(fmsub_h, F3, HALF), OP6(fnmsub_h, F3, HALF), OP6(fnmadd_h, F3, HALF),
    OP6(fcvt_h_s, F1, SINGLE), OP6(fcvt_h_d, F1, DOUBLE), OP6(fcvt_s_h, F1, HALF),
    OP6(fcvt_d_h, F1, HALF), OP6(fcvt_w_h, F1, HALF), OP6(fcvt_wu_h, F1, HALF),
    OP6(fcvt_l_h, F1, HALF), OP6(fcvt_lu_h, F1, HALF), OP6(fcvt_h_w, I1, HALF),
    OP6(fcvt_h_wu, I1, HALF), OP6(fcvt_h_l, I1, HALF), OP6(fcvt_h_lu, I1, HALF),
    OP1(fsgnj_h, F2, HALF), OP1(fsgnjn_h, F2, HALF), OP1(fsgnjx_h, F2, HALF),
    OP1(fmin_h, F2, HALF), OP1(fmax_h, F2, HALF), OP1(feq_h, F2, HALF), OP1(flt_h, F2, HALF),
    OP1(fle_h, F2, HALF), OP1(fclass_h, F1, HALF), OP1(fmv_x_h, F1, HALF),
    OP1(fmv_h_x, I1, HALF), OP1(fsh_flh, F1, HALF), OP1(flh_sh, I1, HALF),
};

static const uint64_t *operand_set(const struct op *op, unsigned *n)
{
    if (op->shape == I1) {
        *n = COUNT(INTS);
        return INTS;
    }
    if (op->source == SINGLE) {
        *n = COUNT(SINGLES);
        return SINGLES;
    }
    if (op->source == DOUBLE) {
        *n = COUNT(DOUBLES);
        return DOUBLES;
    }
    *n = COUNT(HALVES);
    return HALVES;
}

static void run_op(const struct op *op, op_fn fn, const char *mode)
{
    unsigned n, count = 0;
    const uint64_t *set = operand_set(op, &n);
    uint64_t hash = corner_results(op, fn, mode, set, n, &count);
    print_hash(op, mode, "", count, hash);
}

/* A random operand of the op's source precision, shaped like ops.c's: any pattern, few
 * significant bits (ties, exact results), tiny or huge, specials, or nearby magnitudes. */
static uint64_t random_float(int source)
{
    unsigned frac = source == HALF ? 10 : source == SINGLE ? 23 : 52;
    unsigned width = source == HALF ? 16 : source == SINGLE ? 32 : 64;
    uint64_t emax = source == HALF ? 0x1f : source == SINGLE ? 0xff : 0x7ff;
    uint64_t bias = emax >> 1, r = rnd(), exp, mant, fmask = (1ull << frac) - 1;
    uint64_t box = width == 64 ? 0 : ~0ull << width;
    switch ((r >> 56) & 7) {
    case 0:
        return box | (rnd() & ~box);
    case 1:
        mant = (rnd() & 0x3f) << (frac - 6);
        exp = bias - 3 + (r & 7);
        break;
    case 2:
        exp = (r & 1) ? (r >> 8) % 3 : emax - 1 - (r >> 8) % 3;
        mant = rnd() & fmask;
        break;
    case 3:
        exp = (r & 1) ? emax : 0;
        mant = (r & 2) ? 0 : (r & 4) ? 1ull << (frac - 1) : rnd() & fmask;
        break;
    case 4:                     /* around the half's range and precision, in S and D */
        exp = (source == HALF ? 15 : bias) + (r >> 8) % 34 - 25;
        mant = rnd() & fmask & ~((1ull << (frac > 12 ? frac - 12 : 0)) - 1);
        break;
    default:
        exp = bias - 2 + (r >> 8) % 5;
        mant = rnd() & fmask;
        break;
    }
    return box | ((r >> 63) << (width - 1)) | exp << frac | mant;
}

static void random_operands(const struct op *op, unsigned i, uint64_t abc[3])
{
    (void)i;
    /* integers around 2^11 to 2^16: the rounding of int -> half */
    abc[0] = op->shape == I1 ? random_int(11, 6, 0x3f) : random_float(op->source);
    abc[1] = random_float(op->source);
    abc[2] = random_float(op->source);
}

/* Sections: "corners" or "random", with "-nx" starting each instruction with NX set. */
int main(int argc, char **argv)
{
    const char *section = argc > 1 ? argv[1] : "corners";
    verbose = argc > 2 && strcmp(argv[2], "-v") == 0;
    int random = strncmp(section, "random", 6) == 0;
    initial_flags = strstr(section, "-nx") ? 1 : 0;
    for (unsigned o = 0; o < COUNT(OPS); o++) {
        const struct op *op = &OPS[o];
        for (int v = 0; v < op->variants; v++) {
            const char *mode = op->variants == 1 ? "-" : v < 5 ? MODE_NAMES[v] : "dyn";
            if (v == 5) {
                for (unsigned long frm = 0; frm < 5 && !random; frm++) {
                    set_frm(frm);
                    run_op(op, op->fn[v], MODE_NAMES[frm]);
                }
                if (random)
                    run_random(op, op->fn[v], mode, 1, 600);
                set_frm(0);
            } else if (random) {
                run_random(op, op->fn[v], mode, 0, 600);
            } else {
                run_op(op, op->fn[v], mode);
            }
        }
    }
    return 0;
}
