"""Exact IEEE 754 binary16/32/64 arithmetic on bit patterns, with RISC-V's conventions.

Translated code computes the common case in wasm (round to nearest-even, normal results);
everything else comes here through one host call: NaN and infinite operands, results that
overflow, underflow or are zero, rounding modes other than RNE, FMA operands whose error terms
would not be exact in doubles. Each operation turns its operands into exact integers
(m * 2**e), computes the exact result (a quotient or square root with a sticky bit), and rounds
once, so results and flags are those of a correctly rounded implementation.

RISC-V's choices, all implemented here: a NaN result is always the canonical NaN; tininess is
detected after rounding (underflow = tiny and inexact); float-to-integer conversions saturate
and turn NaN into the largest integer, raising only NV when out of range; fmin/fmax are
IEEE 754-2019 minimumNumber/maximumNumber with -0 < +0; feq signals only on signaling NaNs,
flt/fle on any NaN; the multiplicands inf * 0 raise NV even when the addend is a quiet NaN.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from math import isqrt

NV, DZ, OF, UF, NX = 0x10, 0x08, 0x04, 0x02, 0x01
RNE, RTZ, RDN, RUP, RMM = range(5)
MASK64 = (1 << 64) - 1

# Operand classes.
ZERO, FINITE, INF, QNAN, SNAN = range(5)


@dataclass(frozen=True)
class Format:
    """An IEEE binary interchange format, by width and fraction bits."""

    width: int
    frac: int

    @property
    def exp_bits(self) -> int:
        return self.width - 1 - self.frac

    @property
    def bias(self) -> int:
        return (1 << (self.exp_bits - 1)) - 1

    @property
    def emin(self) -> int:
        return 1 - self.bias

    @property
    def exp_max(self) -> int:
        """The all-ones exponent field of infinities and NaNs."""
        return (1 << self.exp_bits) - 1

    @property
    def canonical_nan(self) -> int:
        return self.exp_max << self.frac | 1 << (self.frac - 1)

    def pack(self, sign: int, exp: int, frac: int) -> int:
        return sign << (self.width - 1) | exp << self.frac | frac

    def inf(self, sign: int) -> int:
        return self.pack(sign, self.exp_max, 0)

    def max_finite(self, sign: int) -> int:
        return self.pack(sign, self.exp_max - 1, (1 << self.frac) - 1)


HALF = Format(16, 10)
SINGLE = Format(32, 23)
DOUBLE = Format(64, 52)


@dataclass(frozen=True)
class Value:
    """An unpacked operand: for ZERO and FINITE, the value is (-1)**sign * m * 2**e."""

    cls: int
    sign: int
    m: int = 0
    e: int = 0


def unpack(fmt: Format, bits: int) -> Value:
    sign = bits >> (fmt.width - 1) & 1
    exp = bits >> fmt.frac & fmt.exp_max
    frac = bits & ((1 << fmt.frac) - 1)
    if exp == fmt.exp_max:
        if frac == 0:
            return Value(INF, sign)
        return Value(QNAN if frac >> (fmt.frac - 1) else SNAN, sign)
    if exp == 0:
        return Value(ZERO if frac == 0 else FINITE, sign, frac, fmt.emin - fmt.frac)
    return Value(FINITE, sign, frac | 1 << fmt.frac, exp - fmt.bias - fmt.frac)


Result = tuple[int, int]          # (bits, accrued flags)


def _nan_result(fmt: Format, *values: Value, invalid: bool = False) -> Result:
    """The canonical NaN, with NV for a signaling NaN operand or an invalid operation."""
    signaling = any(v.cls == SNAN for v in values)
    return fmt.canonical_nan, NV if invalid or signaling else 0


def _is_nan(v: Value) -> bool:
    return v.cls in (QNAN, SNAN)


def _round_at(m: int, e: int, q: int, sign: int, rm: int) -> tuple[int, bool]:
    """Round m * 2**e to a multiple of 2**q: (n, inexact) with the result n * 2**q."""
    if q <= e:
        return m << (e - q), False
    shift = q - e
    n, rest = m >> shift, m & ((1 << shift) - 1)
    if rest == 0:
        return n, False
    half = 1 << (shift - 1)
    if rm == RNE:
        up = rest > half or (rest == half and n & 1 == 1)
    elif rm == RMM:
        up = rest >= half
    else:
        up = (rm == RDN and sign == 1) or (rm == RUP and sign == 0)
    return n + up, True


def round_pack(fmt: Format, sign: int, m: int, e: int, rm: int) -> Result:
    """Round the exact nonzero value (-1)**sign * m * 2**e into fmt.

    An inexact quotient or root arrives with a sticky bit OR-ed into m's lowest bit, and with
    at least two bits below fmt's precision, so the jammed bit decides only inexactness.
    """
    top = e + m.bit_length() - 1
    q_unbounded = top - fmt.frac
    n, _ = _round_at(m, e, q_unbounded, sign, rm)
    tiny = n.bit_length() - 1 + q_unbounded < fmt.emin
    q = max(q_unbounded, fmt.emin - fmt.frac)
    n, inexact = _round_at(m, e, q, sign, rm)
    if n >> (fmt.frac + 1):                     # rounding carried into a new binade
        n, q = n >> 1, q + 1
    flags = NX if inexact else 0
    if tiny and inexact:
        flags |= UF
    if n >> fmt.frac == 0:                      # subnormal or zero
        return fmt.pack(sign, 0, n), flags
    exp = q + fmt.frac + fmt.bias
    if exp >= fmt.exp_max:
        return _overflow(fmt, sign, rm), OF | NX
    return fmt.pack(sign, exp, n & ((1 << fmt.frac) - 1)), flags


def _overflow(fmt: Format, sign: int, rm: int) -> int:
    """Infinity, or the largest finite value when the mode rounds toward it."""
    to_max = rm == RTZ or (rm == RDN and sign == 0) or (rm == RUP and sign == 1)
    return fmt.max_finite(sign) if to_max else fmt.inf(sign)


def _exact_sum(fmt: Format, a: Value, b: Value, rm: int) -> Result:
    """a + b for zero or finite operands, rounded once."""
    if a.cls == ZERO and b.cls == ZERO:
        sign = a.sign if a.sign == b.sign else int(rm == RDN)
        return fmt.pack(sign, 0, 0), 0
    e = min(x.e for x in (a, b) if x.cls == FINITE)
    total = sum((-x.m if x.sign else x.m) << (x.e - e) for x in (a, b) if x.cls == FINITE)
    if total == 0:
        return fmt.pack(int(rm == RDN), 0, 0), 0
    return round_pack(fmt, int(total < 0), abs(total), e, rm)


def add(fmt: Format, a: int, b: int, rm: int) -> Result:
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        return _nan_result(fmt, va, vb)
    if va.cls == INF or vb.cls == INF:
        if va.cls == INF and vb.cls == INF and va.sign != vb.sign:
            return _nan_result(fmt, invalid=True)
        return fmt.inf(va.sign if va.cls == INF else vb.sign), 0
    return _exact_sum(fmt, va, vb, rm)


def _negate(fmt: Format, bits: int) -> int:
    return bits ^ 1 << (fmt.width - 1)


def sub(fmt: Format, a: int, b: int, rm: int) -> Result:
    return add(fmt, a, _negate(fmt, b), rm)


def mul(fmt: Format, a: int, b: int, rm: int) -> Result:
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        return _nan_result(fmt, va, vb)
    sign = va.sign ^ vb.sign
    classes = {va.cls, vb.cls}
    if INF in classes:
        if ZERO in classes:
            return _nan_result(fmt, invalid=True)
        return fmt.inf(sign), 0
    if ZERO in classes:
        return fmt.pack(sign, 0, 0), 0
    return round_pack(fmt, sign, va.m * vb.m, va.e + vb.e, rm)


def div(fmt: Format, a: int, b: int, rm: int) -> Result:
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        return _nan_result(fmt, va, vb)
    sign = va.sign ^ vb.sign
    if va.cls == vb.cls and va.cls in (INF, ZERO):
        return _nan_result(fmt, invalid=True)
    if va.cls == INF:
        return fmt.inf(sign), 0
    if vb.cls == ZERO:
        return fmt.inf(sign), DZ
    if va.cls == ZERO or vb.cls == INF:
        return fmt.pack(sign, 0, 0), 0
    k = max(0, fmt.frac + 3 + vb.m.bit_length() - va.m.bit_length())
    quotient, rest = divmod(va.m << k, vb.m)
    return round_pack(fmt, sign, quotient | (rest != 0), va.e - vb.e - k, rm)


def sqrt(fmt: Format, a: int, rm: int) -> Result:
    va = unpack(fmt, a)
    if _is_nan(va):
        return _nan_result(fmt, va)
    if va.cls == ZERO:
        return a, 0
    if va.sign:
        return _nan_result(fmt, invalid=True)
    if va.cls == INF:
        return a, 0
    m, e = va.m, va.e
    if e & 1:
        m, e = m << 1, e - 1
    k = max(0, fmt.frac + 4 - m.bit_length() // 2)
    m, e = m << 2 * k, e - 2 * k
    root = isqrt(m)
    return round_pack(fmt, 0, root | (root * root != m), e // 2, rm)


def fma(fmt: Format, a: int, b: int, c: int, rm: int) -> Result:
    """a * b + c with one rounding (the caller negates operands for fmsub/fnmadd/fnmsub)."""
    va, vb, vc = unpack(fmt, a), unpack(fmt, b), unpack(fmt, c)
    classes = {va.cls, vb.cls}
    if INF in classes and ZERO in classes:
        return _nan_result(fmt, invalid=True)
    if _is_nan(va) or _is_nan(vb) or _is_nan(vc):
        return _nan_result(fmt, va, vb, vc)
    sign = va.sign ^ vb.sign
    if INF in classes:
        if vc.cls == INF and vc.sign != sign:
            return _nan_result(fmt, invalid=True)
        return fmt.inf(sign), 0
    if vc.cls == INF:
        return c, 0
    product = Value(ZERO, sign) if ZERO in classes else Value(FINITE, sign, va.m * vb.m,
                                                              va.e + vb.e)
    return _exact_sum(fmt, product, vc, rm)


# -- comparisons, min/max, classification --------------------------------------------------


def _ordered_key(v: Value) -> int | float:
    """A sort key for zero or finite values (and infinities); -0 and +0 compare equal."""
    if v.cls == INF:
        return float("-inf") if v.sign else float("inf")
    if v.cls == ZERO:
        return 0
    return v.m << (v.e + 1100) if not v.sign else -(v.m << (v.e + 1100))


def compare(fmt: Format, a: int, b: int, relation: str) -> Result:
    """feq/flt/fle: 0 or 1; NV for a signaling NaN (feq) or for any NaN (flt, fle)."""
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        signals = relation != "eq" or SNAN in (va.cls, vb.cls)
        return 0, NV if signals else 0
    ka, kb = _ordered_key(va), _ordered_key(vb)
    result = {"eq": ka == kb, "lt": ka < kb, "le": ka <= kb}[relation]
    return int(result), 0


def minmax(fmt: Format, a: int, b: int, maximum: bool) -> Result:
    va, vb = unpack(fmt, a), unpack(fmt, b)
    flags = NV if SNAN in (va.cls, vb.cls) else 0
    if _is_nan(va) and _is_nan(vb):
        return fmt.canonical_nan, flags
    if _is_nan(va) or _is_nan(vb):
        return (b if _is_nan(va) else a), flags
    ka, kb = _ordered_key(va), _ordered_key(vb)
    if ka == kb:                                # equal values: only zeros differ, by sign
        return (a if (va.sign < vb.sign) == maximum else b), 0
    return (a if (ka > kb) == maximum else b), 0


def classify(fmt: Format, a: int) -> int:
    """fclass: one bit of ten."""
    v = unpack(fmt, a)
    if v.cls == SNAN:
        return 1 << 8
    if v.cls == QNAN:
        return 1 << 9
    subnormal = v.cls == FINITE and a >> fmt.frac & fmt.exp_max == 0
    rank = {ZERO: 0, FINITE: 2 - subnormal, INF: 3}[v.cls]
    return 1 << (3 - rank if v.sign else 4 + rank)


# -- conversions -------------------------------------------------------------------------


@dataclass(frozen=True)
class IntType:
    """An integer operand or result of fcvt: W, WU, L or LU."""

    bits: int
    signed: bool

    @property
    def low(self) -> int:
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        return (1 << (self.bits - 1 if self.signed else self.bits)) - 1

    def register(self, value: int) -> int:
        """The 64-bit register value: 32-bit results are sign-extended, even WU's."""
        value &= (1 << self.bits) - 1
        if value >> (self.bits - 1):
            value -= 1 << self.bits
        return value & MASK64

    def operand(self, register: int) -> int:
        """The integer an fcvt reads from the low `bits` of a register."""
        value = register & ((1 << self.bits) - 1)
        if self.signed and value >> (self.bits - 1):
            value -= 1 << self.bits
        return value


INT_TYPES = {"w": IntType(32, True), "wu": IntType(32, False), "l": IntType(64, True),
             "lu": IntType(64, False)}


def to_int(fmt: Format, a: int, rm: int, to: IntType) -> Result:
    v = unpack(fmt, a)
    if _is_nan(v):
        return to.register(to.high), NV
    if v.cls == INF:
        return to.register(to.low if v.sign else to.high), NV
    if v.cls == ZERO:
        return 0, 0
    n, inexact = _round_at(v.m, v.e, 0, v.sign, rm)
    value = -n if v.sign else n
    if not to.low <= value <= to.high:
        return to.register(to.low if v.sign else to.high), NV
    return to.register(value), NX if inexact else 0


def from_int(fmt: Format, register: int, rm: int, source: IntType) -> Result:
    value = source.operand(register)
    if value == 0:
        return 0, 0
    return round_pack(fmt, int(value < 0), abs(value), 0, rm)


def convert(src: Format, dst: Format, a: int, rm: int) -> Result:
    """fcvt between two formats (s, d, h): exact when widening, rounded once when narrowing."""
    v = unpack(src, a)
    if _is_nan(v):
        return _nan_result(dst, v)
    if v.cls == INF:
        return dst.inf(v.sign), 0
    if v.cls == ZERO:
        return dst.pack(v.sign, 0, 0), 0
    return round_pack(dst, v.sign, v.m, v.e, rm)


# -- Zfa ---------------------------------------------------------------------------------

# fli's constants by index, as doubles; None is the format's smallest normal number.
FLI = (-1.0, None, 2.0 ** -16, 2.0 ** -15, 2.0 ** -8, 2.0 ** -7, 0.0625, 0.125, 0.25, 0.3125,
       0.375, 0.4375, 0.5, 0.625, 0.75, 0.875, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 8.0,
       16.0, 128.0, 256.0, 2.0 ** 15, 2.0 ** 16, float("inf"), float("nan"))


def fli(fmt: Format, index: int) -> int:
    """The bits of fli's constant; 2**16 is +inf in half precision (RNE overflows)."""
    value = FLI[index & 31]
    if value is None:
        return fmt.pack(0, 1, 0)
    if value != value:
        return fmt.canonical_nan
    double = int.from_bytes(struct.pack("<d", value), "little")
    return convert(DOUBLE, fmt, double, RNE)[0]


def minmax_nan(fmt: Format, a: int, b: int, maximum: bool) -> Result:
    """fminm/fmaxm: as fmin/fmax, but any NaN operand gives the canonical NaN."""
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        return _nan_result(fmt, va, vb)
    return minmax(fmt, a, b, maximum)


def compare_quiet(fmt: Format, a: int, b: int, relation: str) -> Result:
    """fleq/fltq: as fle/flt, but NV only for a signaling NaN (as feq)."""
    va, vb = unpack(fmt, a), unpack(fmt, b)
    if _is_nan(va) or _is_nan(vb):
        return 0, NV if SNAN in (va.cls, vb.cls) else 0
    return compare(fmt, a, b, relation)


def round_integral(fmt: Format, a: int, rm: int, exact: bool) -> Result:
    """fround (exact=False: no NX) and froundnx: a rounded to an integral value in its own
    format, keeping its sign (-0.25 rounds to -0)."""
    v = unpack(fmt, a)
    if _is_nan(v):
        return _nan_result(fmt, v)
    if v.cls != FINITE or v.e >= 0:              # zeros, infinities, integers
        return a, 0
    n, inexact = _round_at(v.m, v.e, 0, v.sign, rm)
    flags = NX if exact and inexact else 0
    if n == 0:
        return fmt.pack(v.sign, 0, 0), flags
    return round_pack(fmt, v.sign, n, 0, rm)[0], flags


def convert_modular(a: int) -> Result:
    """fcvtmod.w.d: a double truncated to an integer, whose low 32 bits (sign-extended) are
    the result; NaN and infinities give 0. NV when the integer is not an int32 (NX not
    then), else NX when inexact."""
    v = unpack(DOUBLE, a)
    if v.cls in (INF, QNAN, SNAN):
        return 0, NV
    if v.cls == ZERO:
        return 0, 0
    n, inexact = _round_at(v.m, v.e, 0, v.sign, RTZ)
    value = -n if v.sign else n
    flags = NV if not -(1 << 31) <= value < 1 << 31 else NX if inexact else 0
    return INT_TYPES["w"].register(value), flags


def _zfa_ops(p: str, fmt: Format) -> dict[str, SlowOp]:
    return {
        f"fli.{p}": lambda a, b, c, rm: (fli(fmt, a), 0),
        f"fminm.{p}": lambda a, b, c, rm: minmax_nan(fmt, a, b, False),
        f"fmaxm.{p}": lambda a, b, c, rm: minmax_nan(fmt, a, b, True),
        f"fround.{p}": lambda a, b, c, rm: round_integral(fmt, a, rm, False),
        f"froundnx.{p}": lambda a, b, c, rm: round_integral(fmt, a, rm, True),
        f"fleq.{p}": lambda a, b, c, rm: compare_quiet(fmt, a, b, "le"),
        f"fltq.{p}": lambda a, b, c, rm: compare_quiet(fmt, a, b, "lt"),
    }


# -- the slow-path operations by mnemonic ----------------------------------------------

SlowOp = Callable[[int, int, int, int], Result]        # (a, b, c, rm) -> (bits, flags)


def _float_ops(p: str, fmt: Format) -> dict[str, SlowOp]:
    neg = lambda x: _negate(fmt, x)  # noqa: E731 - a one-line helper for the table below
    ops: dict[str, SlowOp] = {
        f"fadd.{p}": lambda a, b, c, rm: add(fmt, a, b, rm),
        f"fsub.{p}": lambda a, b, c, rm: sub(fmt, a, b, rm),
        f"fmul.{p}": lambda a, b, c, rm: mul(fmt, a, b, rm),
        f"fdiv.{p}": lambda a, b, c, rm: div(fmt, a, b, rm),
        f"fsqrt.{p}": lambda a, b, c, rm: sqrt(fmt, a, rm),
        f"fmadd.{p}": lambda a, b, c, rm: fma(fmt, a, b, c, rm),
        f"fmsub.{p}": lambda a, b, c, rm: fma(fmt, a, b, neg(c), rm),
        f"fnmsub.{p}": lambda a, b, c, rm: fma(fmt, neg(a), b, c, rm),
        f"fnmadd.{p}": lambda a, b, c, rm: fma(fmt, neg(a), b, neg(c), rm),
        f"fmin.{p}": lambda a, b, c, rm: minmax(fmt, a, b, False),
        f"fmax.{p}": lambda a, b, c, rm: minmax(fmt, a, b, True),
    }
    for rel in ("eq", "lt", "le"):
        ops[f"f{rel}.{p}"] = lambda a, b, c, rm, rel=rel: compare(fmt, a, b, rel)
    for name, it in INT_TYPES.items():
        ops[f"fcvt.{name}.{p}"] = lambda a, b, c, rm, it=it: to_int(fmt, a, rm, it)
        ops[f"fcvt.{p}.{name}"] = lambda a, b, c, rm, it=it: from_int(fmt, a, rm, it)
    return ops


_CONVERSIONS = (("s", SINGLE, "d", DOUBLE), ("d", DOUBLE, "s", SINGLE),
                ("s", SINGLE, "h", HALF), ("h", HALF, "s", SINGLE),
                ("d", DOUBLE, "h", HALF), ("h", HALF, "d", DOUBLE))

SLOW_OPS: dict[str, SlowOp] = {
    **_float_ops("s", SINGLE),
    **_float_ops("d", DOUBLE),
    **{f"fcvt.{p}.{q}": lambda a, b, c, rm, src=src, dst=dst: convert(src, dst, a, rm)
       for p, dst, q, src in _CONVERSIONS},
    **_float_ops("h", HALF),
    **_zfa_ops("s", SINGLE),
    **_zfa_ops("d", DOUBLE),
    **_zfa_ops("h", HALF),
    "fcvtmod.w.d": lambda a, b, c, rm: convert_modular(a),
}
SLOW_INDEX: dict[str, int] = {name: index for index, name in enumerate(SLOW_OPS)}
