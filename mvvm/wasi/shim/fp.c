/* The FP slow path of translated code, inside the module: what mvvm.runtime.fp_soft
 * computes in Python for `mvvm run`, here in C for `mvvm wasm`.
 *
 * The same design: each operation turns its operands into exact values
 * (-1)**sign * m * 2**e, computes the exact result (or, for quotients and roots, enough
 * bits and a sticky bit), and rounds once. Python's integers are unbounded; here a
 * significand is 128 bits, and where an operand is shifted right to align with a much
 * larger one, the bits that fall off are OR-ed into bit 0 ("jammed"): they then only decide
 * inexactness, which is all they can decide, since every result keeps at least two bits
 * below the format's precision above them.
 *
 * The call is fp(op, a, b, c) with op = index * 8 + rounding mode; the index is the
 * operation's place in fp_soft.SLOW_OPS, which fp_ops.h (generated from it) names.
 */
#include "shim.h"
#include "fp_ops.h"

enum { NV = 0x10, DZ = 0x08, OF = 0x04, UF = 0x02, NX = 0x01 };
enum { RNE, RTZ, RDN, RUP, RMM };
enum { ZERO, FINITE, INF, QNAN, SNAN };

typedef unsigned __int128 u128;

typedef struct {
    int width, frac, bias, emin, exp_max;
} Format;

static const Format HALF = {16, 10, 15, -14, 31};
static const Format SINGLE = {32, 23, 127, -126, 255};
static const Format DOUBLE = {64, 52, 1023, -1022, 2047};

typedef struct {
    int cls, sign;
    u128 m;
    int e;
} Value;

typedef struct {
    uint64_t bits;
    int flags;
} Result;

static int bit_length(u128 m) {
    uint64_t hi = (uint64_t)(m >> 64), lo = (uint64_t)m;
    if (hi)
        return 128 - __builtin_clzll(hi);
    return lo ? 64 - __builtin_clzll(lo) : 0;
}

/* m >> shift, with every bit shifted out OR-ed into bit 0. */
static u128 shift_right_jam(u128 m, int shift) {
    if (shift <= 0)
        return m;
    if (shift >= 128)
        return m != 0;
    return (m >> shift) | ((m & (((u128)1 << shift) - 1)) != 0);
}

static uint64_t pack(const Format *f, int sign, uint64_t exp, uint64_t frac) {
    return (uint64_t)sign << (f->width - 1) | exp << f->frac | frac;
}

static uint64_t canonical_nan(const Format *f) {
    return pack(f, 0, f->exp_max, 1ull << (f->frac - 1));
}

static uint64_t infinity(const Format *f, int sign) { return pack(f, sign, f->exp_max, 0); }

static uint64_t negate(const Format *f, uint64_t bits) { return bits ^ 1ull << (f->width - 1); }

static Value unpack(const Format *f, uint64_t bits) {
    Value v = {FINITE, (int)(bits >> (f->width - 1) & 1), 0, 0};
    int exp = (int)(bits >> f->frac & (uint64_t)f->exp_max);
    uint64_t frac = bits & ((1ull << f->frac) - 1);
    if (exp == f->exp_max) {
        v.cls = frac == 0 ? INF : frac >> (f->frac - 1) ? QNAN : SNAN;
    } else if (exp == 0) {
        v.cls = frac == 0 ? ZERO : FINITE;
        v.m = frac;
        v.e = f->emin - f->frac;
    } else {
        v.m = frac | 1ull << f->frac;
        v.e = exp - f->bias - f->frac;
    }
    return v;
}

static int is_nan(Value v) { return v.cls == QNAN || v.cls == SNAN; }

static Result nan_result(const Format *f, int invalid, Value a, Value b, Value c) {
    int signaling = a.cls == SNAN || b.cls == SNAN || c.cls == SNAN;
    return (Result){canonical_nan(f), invalid || signaling ? NV : 0};
}

static const Value NONE = {ZERO, 0, 0, 0};

/* Round m * 2**e to a multiple of 2**q: the multiplier n, and whether it is inexact.
 * The caller makes sure n fits in 64 bits. */
static uint64_t round_at(u128 m, int e, int q, int sign, int rm, int *inexact) {
    if (q <= e) {
        *inexact = 0;
        return (uint64_t)(m << (e - q));
    }
    int shift = q - e;
    u128 n = shift >= 128 ? 0 : m >> shift;
    u128 rest = shift >= 128 ? m : m & (((u128)1 << shift) - 1);
    *inexact = rest != 0;
    if (rest == 0)
        return (uint64_t)n;
    int up;
    if (rm == RNE || rm == RMM) {
        u128 half = shift > 128 ? 0 : (u128)1 << (shift - 1);
        if (shift > 128)
            up = 0;                           /* rest < half: far below */
        else if (rm == RNE)
            up = rest > half || (rest == half && (n & 1));
        else
            up = rest >= half;
    } else {
        up = (rm == RDN && sign) || (rm == RUP && !sign);
    }
    return (uint64_t)n + up;
}

static uint64_t overflow(const Format *f, int sign, int rm) {
    int to_max = rm == RTZ || (rm == RDN && !sign) || (rm == RUP && sign);
    return to_max ? pack(f, sign, f->exp_max - 1, (1ull << f->frac) - 1) : infinity(f, sign);
}

/* Round the exact nonzero value (-1)**sign * m * 2**e into the format. */
static Result round_pack(const Format *f, int sign, u128 m, int e, int rm) {
    int top = e + bit_length(m) - 1, inexact;
    int q_unbounded = top - f->frac;
    uint64_t n = round_at(m, e, q_unbounded, sign, rm, &inexact);
    int tiny = (63 - __builtin_clzll(n)) + q_unbounded < f->emin;
    int q = q_unbounded > f->emin - f->frac ? q_unbounded : f->emin - f->frac;
    n = round_at(m, e, q, sign, rm, &inexact);
    if (n >> (f->frac + 1)) {                 /* rounding carried into a new binade */
        n >>= 1;
        q += 1;
    }
    int flags = inexact ? NX : 0;
    if (tiny && inexact)
        flags |= UF;
    if (n >> f->frac == 0)                    /* subnormal or zero */
        return (Result){pack(f, sign, 0, n), flags};
    int exp = q + f->frac + f->bias;
    if (exp >= f->exp_max)
        return (Result){overflow(f, sign, rm), OF | NX};
    return (Result){pack(f, sign, (uint64_t)exp, n & ((1ull << f->frac) - 1)), flags};
}

/* Put a nonzero significand's top bit at bit 125, so that a sum of two stays in 127 bits. */
static Value normalized(Value v) {
    int shift = 125 - (bit_length(v.m) - 1);
    v.m <<= shift;
    v.e -= shift;
    return v;
}

/* a + b for zero or finite operands, rounded once. */
static Result exact_sum(const Format *f, Value a, Value b, int rm) {
    if (a.cls == ZERO && b.cls == ZERO)
        return (Result){pack(f, a.sign == b.sign ? a.sign : rm == RDN, 0, 0), 0};
    if (b.cls == ZERO)
        return round_pack(f, a.sign, a.m, a.e, rm);
    if (a.cls == ZERO)
        return round_pack(f, b.sign, b.m, b.e, rm);
    a = normalized(a);
    b = normalized(b);
    if (a.e < b.e) {
        Value t = a;
        a = b;
        b = t;
    }
    b.m = shift_right_jam(b.m, a.e - b.e);
    if (a.sign == b.sign)
        return round_pack(f, a.sign, a.m + b.m, a.e, rm);
    if (a.m == b.m)
        return (Result){pack(f, rm == RDN, 0, 0), 0};
    if (a.m > b.m)
        return round_pack(f, a.sign, a.m - b.m, a.e, rm);
    return round_pack(f, b.sign, b.m - a.m, a.e, rm);
}

static Result add(const Format *f, uint64_t a, uint64_t b, int rm) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb))
        return nan_result(f, 0, va, vb, NONE);
    if (va.cls == INF || vb.cls == INF) {
        if (va.cls == INF && vb.cls == INF && va.sign != vb.sign)
            return nan_result(f, 1, NONE, NONE, NONE);
        return (Result){infinity(f, va.cls == INF ? va.sign : vb.sign), 0};
    }
    return exact_sum(f, va, vb, rm);
}

static Result mul(const Format *f, uint64_t a, uint64_t b, int rm) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb))
        return nan_result(f, 0, va, vb, NONE);
    int sign = va.sign ^ vb.sign;
    if (va.cls == INF || vb.cls == INF) {
        if (va.cls == ZERO || vb.cls == ZERO)
            return nan_result(f, 1, NONE, NONE, NONE);
        return (Result){infinity(f, sign), 0};
    }
    if (va.cls == ZERO || vb.cls == ZERO)
        return (Result){pack(f, sign, 0, 0), 0};
    return round_pack(f, sign, va.m * vb.m, va.e + vb.e, rm);
}

static Result divide(const Format *f, uint64_t a, uint64_t b, int rm) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb))
        return nan_result(f, 0, va, vb, NONE);
    int sign = va.sign ^ vb.sign;
    if (va.cls == vb.cls && (va.cls == INF || va.cls == ZERO))
        return nan_result(f, 1, NONE, NONE, NONE);
    if (va.cls == INF)
        return (Result){infinity(f, sign), 0};
    if (vb.cls == ZERO)
        return (Result){infinity(f, sign), DZ};
    if (va.cls == ZERO || vb.cls == INF)
        return (Result){pack(f, sign, 0, 0), 0};
    /* The dividend's top bit at 127 and the divisor's at 63 or below: a quotient of 64 bits
     * or more, far more than the 53 + 2 that rounding needs. */
    int k = 127 - (bit_length(va.m) - 1);
    u128 dividend = va.m << k;
    uint64_t divisor = (uint64_t)vb.m;
    u128 quotient = dividend / divisor;
    int rest = dividend % divisor != 0;
    return round_pack(f, sign, quotient | rest, va.e - vb.e - k, rm);
}

static u128 isqrt(u128 n) {
    u128 root = 0, bit = (u128)1 << 126;
    while (bit > n)
        bit >>= 2;
    while (bit) {
        if (n >= root + bit) {
            n -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

static Result square_root(const Format *f, uint64_t a, int rm) {
    Value va = unpack(f, a);
    if (is_nan(va))
        return nan_result(f, 0, va, NONE, NONE);
    if (va.cls == ZERO)
        return (Result){a, 0};
    if (va.sign)
        return nan_result(f, 1, NONE, NONE, NONE);
    if (va.cls == INF)
        return (Result){a, 0};
    u128 m = va.m;
    int e = va.e;
    if (e & 1) {
        m <<= 1;
        e -= 1;
    }
    int k = (126 - bit_length(m)) / 2;        /* an even shift that keeps m below 2**126 */
    m <<= 2 * k;
    e -= 2 * k;
    u128 root = isqrt(m);
    return round_pack(f, 0, root | (root * root != m), e / 2, rm);
}

/* a * b + c, rounded once (the caller negates operands for fmsub, fnmadd, fnmsub). */
static Result fused(const Format *f, uint64_t a, uint64_t b, uint64_t c, int rm) {
    Value va = unpack(f, a), vb = unpack(f, b), vc = unpack(f, c);
    int has_inf = va.cls == INF || vb.cls == INF, has_zero = va.cls == ZERO || vb.cls == ZERO;
    if (has_inf && has_zero)
        return nan_result(f, 1, NONE, NONE, NONE);
    if (is_nan(va) || is_nan(vb) || is_nan(vc))
        return nan_result(f, 0, va, vb, vc);
    int sign = va.sign ^ vb.sign;
    if (has_inf) {
        if (vc.cls == INF && vc.sign != sign)
            return nan_result(f, 1, NONE, NONE, NONE);
        return (Result){infinity(f, sign), 0};
    }
    if (vc.cls == INF)
        return (Result){c, 0};
    Value product = {has_zero ? ZERO : FINITE, sign, has_zero ? 0 : va.m * vb.m, va.e + vb.e};
    return exact_sum(f, product, vc, rm);
}

/* -- comparisons and min/max -------------------------------------------------------------- */

/* An integer that orders non-NaN values as they compare: -0 and +0 equal. */
static int64_t ordered_key(const Format *f, uint64_t bits) {
    uint64_t sign = 1ull << (f->width - 1);
    int64_t magnitude = (int64_t)(bits & (sign - 1));
    return bits & sign ? -magnitude : magnitude;
}

static Result compare(const Format *f, uint64_t a, uint64_t b, int relation) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb)) {
        int signals = relation != 0 || va.cls == SNAN || vb.cls == SNAN;
        return (Result){0, signals ? NV : 0};
    }
    int64_t ka = ordered_key(f, a), kb = ordered_key(f, b);
    int result = relation == 0 ? ka == kb : relation == 1 ? ka < kb : ka <= kb;
    return (Result){(uint64_t)result, 0};
}

static Result minmax(const Format *f, uint64_t a, uint64_t b, int maximum) {
    Value va = unpack(f, a), vb = unpack(f, b);
    int flags = va.cls == SNAN || vb.cls == SNAN ? NV : 0;
    if (is_nan(va) && is_nan(vb))
        return (Result){canonical_nan(f), flags};
    if (is_nan(va) || is_nan(vb))
        return (Result){is_nan(va) ? b : a, flags};
    int64_t ka = ordered_key(f, a), kb = ordered_key(f, b);
    if (ka == kb)                             /* equal values: only zeros differ, by sign */
        return (Result){(va.sign < vb.sign) == maximum ? a : b, 0};
    return (Result){(ka > kb) == maximum ? a : b, 0};
}

/* -- conversions -------------------------------------------------------------------------- */

typedef struct {
    int bits, is_signed;
} IntType;

static const IntType INT_TYPES[4] = {{32, 1}, {32, 0}, {64, 1}, {64, 0}};   /* w wu l lu */

/* The 64-bit register value of an fcvt result: 32-bit results are sign-extended. */
static uint64_t int_register(IntType t, uint64_t value) {
    return t.bits == 32 ? (uint64_t)(int64_t)(int32_t)(uint32_t)value : value;
}

static uint64_t int_limit(IntType t, int negative) {
    if (negative)
        return t.is_signed ? 1ull << (t.bits - 1) : 0;      /* the magnitude of the lowest */
    return t.is_signed ? (1ull << (t.bits - 1)) - 1 : t.bits == 64 ? ~0ull : (1ull << 32) - 1;
}

static uint64_t saturated(IntType t, int negative) {
    uint64_t magnitude = int_limit(t, negative);
    return int_register(t, negative ? -magnitude : magnitude);
}

static Result to_int(const Format *f, uint64_t a, int rm, IntType t) {
    Value v = unpack(f, a);
    if (is_nan(v))
        return (Result){saturated(t, 0), NV};
    if (v.cls == INF)
        return (Result){saturated(t, v.sign), NV};
    if (v.cls == ZERO)
        return (Result){0, 0};
    if (v.e + bit_length(v.m) > 64)             /* at least 2**64 */
        return (Result){saturated(t, v.sign), NV};
    int inexact;                                /* below 2**64: no carry out (see below) */
    uint64_t n = round_at(v.m, v.e, 0, v.sign, rm, &inexact);
    if (n > int_limit(t, v.sign))
        return (Result){saturated(t, v.sign), NV};
    return (Result){int_register(t, v.sign ? -n : n), inexact ? NX : 0};
}

static Result from_int(const Format *f, uint64_t reg, int rm, IntType t) {
    uint64_t value = t.bits == 32 ? (t.is_signed ? (uint64_t)(int64_t)(int32_t)reg
                                                 : (uint32_t)reg) : reg;
    int negative = t.is_signed && (int64_t)value < 0;
    uint64_t magnitude = negative ? -value : value;
    if (magnitude == 0)
        return (Result){0, 0};
    return round_pack(f, negative, magnitude, 0, rm);
}

static Result convert(const Format *src, const Format *dst, uint64_t a, int rm) {
    Value v = unpack(src, a);
    if (is_nan(v))
        return nan_result(dst, 0, v, NONE, NONE);
    if (v.cls == INF)
        return (Result){infinity(dst, v.sign), 0};
    if (v.cls == ZERO)
        return (Result){pack(dst, v.sign, 0, 0), 0};
    return round_pack(dst, v.sign, v.m, v.e, rm);
}

/* -- Zfa ----------------------------------------------------------------------------------- */

/* fli's constants as doubles, rounded to the format (2**16 overflows to +inf in half);
 * index 1 is the format's smallest normal number, 31 its canonical NaN. */
static const uint64_t FLI[32] = {
    0xbff0000000000000ull, 0, 0x3ef0000000000000ull, 0x3f00000000000000ull,
    0x3f70000000000000ull, 0x3f80000000000000ull, 0x3fb0000000000000ull, 0x3fc0000000000000ull,
    0x3fd0000000000000ull, 0x3fd4000000000000ull, 0x3fd8000000000000ull, 0x3fdc000000000000ull,
    0x3fe0000000000000ull, 0x3fe4000000000000ull, 0x3fe8000000000000ull, 0x3fec000000000000ull,
    0x3ff0000000000000ull, 0x3ff4000000000000ull, 0x3ff8000000000000ull, 0x3ffc000000000000ull,
    0x4000000000000000ull, 0x4004000000000000ull, 0x4008000000000000ull, 0x4010000000000000ull,
    0x4020000000000000ull, 0x4030000000000000ull, 0x4060000000000000ull, 0x4070000000000000ull,
    0x40e0000000000000ull, 0x40f0000000000000ull, 0x7ff0000000000000ull, 0,
};

static Result fli(const Format *f, uint64_t index) {
    index &= 31;
    if (index == 1)
        return (Result){pack(f, 0, 1, 0), 0};
    if (index == 31)
        return (Result){canonical_nan(f), 0};
    return (Result){convert(&DOUBLE, f, FLI[index], RNE).bits, 0};
}

/* fminm/fmaxm: any NaN operand gives the canonical NaN. */
static Result minmax_nan(const Format *f, uint64_t a, uint64_t b, int maximum) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb))
        return nan_result(f, 0, va, vb, NONE);
    return minmax(f, a, b, maximum);
}

/* fleq/fltq: NV only for a signaling NaN. */
static Result compare_quiet(const Format *f, uint64_t a, uint64_t b, int relation) {
    Value va = unpack(f, a), vb = unpack(f, b);
    if (is_nan(va) || is_nan(vb))
        return (Result){0, va.cls == SNAN || vb.cls == SNAN ? NV : 0};
    return compare(f, a, b, relation);
}

/* fround (exact = 0: no NX) and froundnx: to an integral value in the format, sign kept. */
static Result round_integral(const Format *f, uint64_t a, int rm, int exact) {
    Value v = unpack(f, a);
    if (is_nan(v))
        return nan_result(f, 0, v, NONE, NONE);
    if (v.cls != FINITE || v.e >= 0)
        return (Result){a, 0};
    int inexact;
    uint64_t n = round_at(v.m, v.e, 0, v.sign, rm, &inexact);
    int flags = exact && inexact ? NX : 0;
    if (n == 0)
        return (Result){pack(f, v.sign, 0, 0), flags};
    return (Result){round_pack(f, v.sign, n, 0, rm).bits, flags};
}

/* fcvtmod.w.d: truncated, the low 32 bits sign-extended; NV (alone) out of int32's range,
 * NaN and infinities giving 0, else NX when inexact. */
static Result convert_modular(uint64_t a) {
    Value v = unpack(&DOUBLE, a);
    if (v.cls != FINITE && v.cls != ZERO)
        return (Result){0, NV};
    if (v.cls == ZERO)
        return (Result){0, 0};
    int inexact = 0, length;
    uint64_t low;                               /* the magnitude's low 64 bits */
    if (v.e >= 0) {
        low = v.e >= 64 ? 0 : (uint64_t)(v.m << v.e);
        length = v.e + bit_length(v.m);
    } else {
        low = round_at(v.m, v.e, 0, v.sign, RTZ, &inexact);
        length = low ? 64 - __builtin_clzll(low) : 0;
    }
    int in_range = length <= 32 && (v.sign ? low <= 1ull << 31 : low < 1ull << 31);
    uint64_t value = int_register(INT_TYPES[0], v.sign ? -low : low);
    return (Result){value, !in_range ? NV : inexact ? NX : 0};
}

static Result zfa_op(const Format *f, int op, uint64_t a, uint64_t b, int rm) {
    switch (op) {
    case FP_ZFA_FLI: return fli(f, a);
    case FP_ZFA_FMINM: return minmax_nan(f, a, b, 0);
    case FP_ZFA_FMAXM: return minmax_nan(f, a, b, 1);
    case FP_ZFA_FROUND: return round_integral(f, a, rm, 0);
    case FP_ZFA_FROUNDNX: return round_integral(f, a, rm, 1);
    case FP_ZFA_FLEQ: return compare_quiet(f, a, b, 2);
    default: return compare_quiet(f, a, b, 1);
    }
}

/* -- the slow-path operations by index (fp_ops.h) ------------------------------------------ */

static Result format_op(const Format *f, int op, uint64_t a, uint64_t b, uint64_t c, int rm) {
    switch (op) {
    case FP_ADD: return add(f, a, b, rm);
    case FP_SUB: return add(f, a, negate(f, b), rm);
    case FP_MUL: return mul(f, a, b, rm);
    case FP_DIV: return divide(f, a, b, rm);
    case FP_SQRT: return square_root(f, a, rm);
    case FP_MADD: return fused(f, a, b, c, rm);
    case FP_MSUB: return fused(f, a, b, negate(f, c), rm);
    case FP_NMSUB: return fused(f, negate(f, a), b, c, rm);
    case FP_NMADD: return fused(f, negate(f, a), b, negate(f, c), rm);
    case FP_MIN: return minmax(f, a, b, 0);
    case FP_MAX: return minmax(f, a, b, 1);
    case FP_EQ: return compare(f, a, b, 0);
    case FP_LT: return compare(f, a, b, 1);
    case FP_LE: return compare(f, a, b, 2);
    }
    int conversion = op - FP_CVT_FIRST;       /* pairs: to w, from w, to wu, from wu, ... */
    IntType t = INT_TYPES[conversion / 2];
    return conversion & 1 ? from_int(f, a, rm, t) : to_int(f, a, rm, t);
}

EXPORT("fp") uint64_t fp(uint32_t op, uint64_t a, uint64_t b, uint64_t c) {
    static const Format *const ZFA_FORMATS[3] = {&SINGLE, &DOUBLE, &HALF};
    int index = (int)(op >> 3), rm = (int)(op & 7);
    Result r;
    if (index == FP_CVT_S_D)
        r = convert(&DOUBLE, &SINGLE, a, rm);
    else if (index == FP_CVT_D_S)
        r = convert(&SINGLE, &DOUBLE, a, rm);
    else if (index == FP_CVT_S_H)
        r = convert(&HALF, &SINGLE, a, rm);
    else if (index == FP_CVT_H_S)
        r = convert(&SINGLE, &HALF, a, rm);
    else if (index == FP_CVT_D_H)
        r = convert(&HALF, &DOUBLE, a, rm);
    else if (index == FP_CVT_H_D)
        r = convert(&DOUBLE, &HALF, a, rm);
    else if (index == FP_FCVTMOD_W_D)
        r = convert_modular(a);
    else if (index >= FP_ZFA_FIRST)
        r = zfa_op(ZFA_FORMATS[(index - FP_ZFA_FIRST) / FP_ZFA_PER_FORMAT],
                   (index - FP_ZFA_FIRST) % FP_ZFA_PER_FORMAT, a, b, rm);
    else if (index >= FP_HALF_FIRST)
        r = format_op(&HALF, index - FP_HALF_FIRST, a, b, c, rm);
    else if (index < FP_PER_FORMAT)
        r = format_op(&SINGLE, index, a, b, c, rm);
    else
        r = format_op(&DOUBLE, index - FP_PER_FORMAT, a, b, c, rm);
    if (r.flags)
        vm_set32(VM_FCSR, vm_get32(VM_FCSR) | (uint32_t)r.flags);
    return r.bits;
}
