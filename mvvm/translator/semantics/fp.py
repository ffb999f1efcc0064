"""F, D, Zfh and Zfa semantics: every RV64F, RV64D, Zfhmin, Zfh and Zfa instruction
(flw/fld/fsw/fsd are in memory.py; flh/fsh are here, with the rest of half precision).

Results and accrued flags are bit-exact with a correctly rounded IEEE 754 implementation
under RISC-V's rules: canonical NaN results, NaN-boxed singles (an improperly boxed operand
reads as the canonical NaN), fmin/fmax's NaN and signed-zero rules, saturating fcvt, and
tininess detected after rounding. Each instruction has a wasm fast path for the common case
(round to nearest-even, ordinary operands and results) and falls back to one host call
(mvvm.runtime.fp_soft, exact integer arithmetic) for the rest. Per family:

- add, sub, mul, div, sqrt: wasm's operations, which round to nearest-even correctly.
  Infinite and NaN results go slow (NV, DZ, OF), as do zero and subnormal results (UF)
  except where they are certainly exact (sums, 0 * x, 0 / x, x / inf, sqrt(+-0)) and
  single products, which are exact in double: their UF is decided in wasm. Once the flags
  a special result can raise are all set, the engine's result stands, a NaN made canonical
  (flags are sticky: SlowPath.flags_set_already). Other rounding modes go slow. NX comes
  from an exact error: TwoSum for sums; a double product for single mul (a*b = r?), div
  (r*b = a?) and sqrt (r*r = a?); for doubles, the same questions in integers (the
  significands' odd parts multiplied must fit in 53 bits) plus one rounded product
  compared.
- fmadd, fmsub, fnmsub, fnmadd, truly fused: the engine's fused multiply-add (the host's
  FMA instruction) once NX is set and for a normal result. Otherwise an emulation with
  exact error terms, for NX and the midpoint cases. Singles: the product is exact in double; the
  sum is RN in double with its exact error (TwoSum), then RN to single, corrected in the
  one case where that double rounding errs (the double sum is a single midpoint). Doubles:
  after Boldo and Melquiond, a*b = uh + ul exactly (ul from the low 64 bits of the
  significands' integer product), c + uh = th + tl (TwoSum), v = RN(tl + ul), z = RN(th + v),
  with the same midpoint correction from the two error terms. Tiny products, subnormal
  factors and results that are not normal (except exact zeros) go slow.
- fcvt to integers: all in wasm, all five modes (a wasm rounding operation per mode, a
  br_table on frm for the dynamic mode), with saturation, NaN -> largest integer, NV out
  of range, NX when in range and inexact.
- fcvt from integers, and fcvt.s.d: wasm's conversion; when it is exact the mode does not
  matter, when inexact only RNE stays in wasm. fcvt.d.s and fcvt.d.w(u) are exact.
- fmin/fmax, feq/flt/fle: wasm, with NaN operands (the only source of their flags and of
  their special results) on the slow path. fsgnj*, fmv, fclass: integer operations, so NaN
  payloads are never touched by wasm float arithmetic.

Half precision (Zfh, Zfhmin) has no wasm type: flh/fsh, fmv, fsgnj and fclass are integer
code on the bits, as for S and D; everything that computes (arithmetic, fused, comparisons,
min/max, every fcvt) is one host call to fp_soft, which is generic in the format. Exact in
every mode and flag, by the same code as the S and D slow paths, and slow; half-precision
arithmetic is rare in the programs this runs (it is mostly storage: flh, fsh, fcvt).

Zfa for S and D: fminm/fmaxm and fleq/fltq are fmin/fmax and fle/flt with other NaN rules
(their NaN operands go slow anyway); fround/froundnx use wasm's round-to-integral operations
(RMM and the dynamic mode as fcvt to integers does); fcvtmod.w.d truncates in wasm within
the int32 range; fli is a constant (in tier 0, where the index is a run-time field, a host
call). Zfa's half-precision rows are host calls like the rest of Zfh.

No NaN computed by wasm float arithmetic ever reaches a register (each fast path sends NaN
results to the slow path), so none of this relies on Cranelift's NaN canonicalization.

Flags: always exact, for every program. NV, DZ, OF and UF come with special results, which
the slow path computes (or, for single underflow, the fast path). NX is needed on nearly
every operation, but it is sticky: its exact test runs only while NX is clear in fflags,
so once a program has had an inexact result (almost at once), an operation pays one load
and a predicted branch. Measured: 3-5% on examples/mandelbrot and on a libm-heavy loop,
against computing no NX at all. That did not justify the alternative, translating with
or without flags depending on whether the program can read them: glibc itself reads fflags
in printf, floor and every SET_RESTORE_ROUND, and flags raised before the first read is
translated would be lost.
"""

from __future__ import annotations

from collections.abc import Callable

from mvvm.isa import Instr
from mvvm.runtime import fp_soft
from mvvm.runtime.fp_soft import DZ, NV, NX, OF, SLOW_INDEX, UF, fli
from mvvm.translator.emitter import Emitter, Field, FieldValue
from mvvm.translator.fp_emit import (
    DOUBLE,
    FORMATS,
    HALF,
    HALF_BOX,
    NAN_BOX,
    SINGLE,
    BitsOperand,
    Fmt,
    IntOperand,
    Operand,
    Rounding,
    SlowPath,
    accrue_inexact,
    push_fused,
    push_is_finite,
    push_is_normal,
    push_is_zero,
    push_nx_clear,
    push_product_error,
    push_product_inexact,
    push_result_bits,
    push_tie_fixed,
    push_two_sum_error,
    raise_flags,
    set_float,
    unbox,
    unbox_half,
)
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w

FORMAT_NAMES = ("s", "d")


def _names(ops: object) -> list[str]:
    return [f"{op}.{p}" for op in ops for p in FORMAT_NAMES]


def _release(*operands: Operand) -> None:
    for operand in operands:
        operand.release()


# -- add, sub, mul, div, sqrt -------------------------------------------------------------

ARITH = {"fadd": "add", "fsub": "sub", "fmul": "mul", "fdiv": "div", "fsqrt": "sqrt"}
# For mul, div and sqrt, r is exact iff x * y = z exactly, with (x, y, z) named here.
PRODUCT_CHECK = {"fmul": ("a", "b", "r"), "fdiv": ("r", "b", "a"), "fsqrt": ("r", "r", "a")}


@semantic(*_names(ARITH))
def arith(e: Emitter, i: Instr, pc: FieldValue) -> None:
    op, p = i.name.split(".")
    fmt = FORMATS[p]
    rounding = Rounding(e, i, in_slow_path=True)
    operands = [Operand(e, fmt, reg) for reg in ((i.rs1,) if op == "fsqrt" else (i.rs1, i.rs2))]
    frame = SlowPath(e, i.name, operands, rounding, double=fmt is DOUBLE, rd=i.rd)
    if rounding.may_be_rne:
        frame.require_rne()
        _arith_fast(frame, fmt, op, operands)
    frame.finish()
    frame.set_result(fmt)
    rounding.release()
    _release(*operands)


def _arith_fast(frame: SlowPath, fmt: Fmt, op: str, operands: list[Operand]) -> None:
    e, c = frame.e, frame.c
    r = e.temp(fmt.ftype)
    for operand in operands:
        c.get(operand.value)
    c.op(fmt.f[ARITH[op]]).set(r)
    if op in ("fadd", "fsub"):                  # zero and subnormal sums are exact
        push_is_finite(c, fmt, r)
        c.op(w.I32_EQZ)
        frame.special_if(fmt, r)
        accrue_inexact(e, lambda: _sum_inexact(e, fmt, operands, r, op == "fsub"))
    elif op == "fmul" and fmt is SINGLE:        # exact in double, down to underflow
        product = e.temp(w.F64)
        c.get(operands[0].value).op(w.F64_PROMOTE_F32).get(operands[1].value)
        c.op(w.F64_PROMOTE_F32, w.F64_MUL).set(product)
        _single_from_exact(frame, r, product)
        e.release((w.F64, product))
    else:
        _special_product(frame, fmt, op, operands, r)
        accrue_inexact(e, lambda: _product_inexact(e, fmt, op, operands, r))
    frame.done_float(fmt, r)
    e.release((fmt.ftype, r))


# Tininess (after rounding) of a single: its exact value is below the midpoint between
# 2**-126 and the 24-bit number just under it, which RNE would round up to 2**-126.
SINGLE_TINY = 2.0 ** -126 - 2.0 ** -151


def _single_from_exact(frame: SlowPath, r: int, exact: int, error: int | None = None) -> None:
    """Finish a single result r = RN(exact + error) whose exact value is the double `exact`
    plus, for fma, the double `error` below its last bit. Infinities and NaNs go slow;
    everything finite stays here: subnormal results (and +-0, +-2**-126) get NX and UF
    computed on the spot, normal ones NX only."""
    e, c = frame.e, frame.c

    def inexact() -> None:
        c.get(r).op(w.F64_PROMOTE_F32).get(exact).op(w.F64_NE)
        if error is not None:
            c.get(error)
            DOUBLE.fconst(c, 0.0)
            c.op(w.F64_NE, w.I32_OR)

    push_is_finite(c, SINGLE, r)
    c.op(w.I32_EQZ)
    frame.special_if(SINGLE, r)
    c.get(r).op(w.F32_ABS)
    SINGLE.fconst(c, SINGLE.min_normal)
    c.op(w.F32_LE).hint(False)
    frame.open(w.IF)
    c.i32_const(UF | NX).i32_const(NX)
    _push_single_tiny(c, exact, error)
    c.op(w.SELECT).i32_const(0)
    inexact()
    c.op(w.SELECT)
    raise_flags(e)
    frame.done_float(SINGLE, r)
    frame.close()
    accrue_inexact(e, inexact)


def _push_single_tiny(c: w.Code, exact: int, error: int | None) -> None:
    """i32: |exact + error| < SINGLE_TINY, error only deciding when |exact| is on it."""
    c.get(exact).op(w.F64_ABS)
    DOUBLE.fconst(c, SINGLE_TINY)
    c.op(w.F64_LT)
    if error is None:
        return
    c.get(exact).op(w.F64_ABS)
    DOUBLE.fconst(c, SINGLE_TINY)
    c.op(w.F64_EQ)
    for value in (exact, error):                # error toward zero: the signs differ
        c.get(value)
        DOUBLE.fconst(c, 0.0)
        c.op(w.F64_LT)
    c.op(w.I32_NE).get(error)
    DOUBLE.fconst(c, 0.0)
    c.op(w.F64_NE, w.I32_AND, w.I32_AND, w.I32_OR)


def _special_product(frame: SlowPath, fmt: Fmt, op: str, operands: list[Operand],
                     r: int) -> None:
    """Unless r is normal: done if r is a zero that is certainly exact (0 * x, 0 / x,
    x / inf, sqrt(+-0)), else special (a quotient's infinity may be a division by zero).
    For doubles, a subnormal dividend or radicand goes slow too: the exactness test that
    follows multiplies back, which would round; in the steady FP state, where NX is set
    and there is no such test, it stays. The test is hinted unlikely, as SlowPath's are:
    spectralnorm's quotients jumped over the zero tests to go on (12% of its time)."""
    c = frame.c
    push_is_normal(c, fmt, r)
    c.op(w.I32_EQZ).hint(False)
    frame.open(w.IF)
    push_is_zero(c, fmt, r)
    if op != "fsqrt":
        a, b = operands[0].value, operands[1].value
        push_is_zero(c, fmt, a)
        if op == "fmul":
            push_is_zero(c, fmt, b)
        else:
            c.get(b).op(fmt.f["abs"])
            fmt.fconst(c, float("inf"))
            c.op(fmt.f["eq"])
        c.op(w.I32_OR, w.I32_AND)
    c.op(w.I32_EQZ)
    frame.special_if(fmt, r, OF | NX | DZ if op == "fdiv" else OF | NX)
    frame.done_float(fmt, r)
    frame.close()
    if fmt is DOUBLE and op != "fmul" and not frame.e.assume_steady:
        operands[0].push_bits()
        c.i64_const(DOUBLE.sign - 1).op(w.I64_AND).i64_const(1).op(w.I64_SUB)
        c.i64_const(DOUBLE.frac_mask).op(w.I64_LT_U)
        frame.to_slow_if()


def _sum_inexact(e: Emitter, fmt: Fmt, operands: list[Operand], r: int,
                 subtract: bool) -> None:
    push_two_sum_error(e, fmt, operands[0].value, operands[1].value, r, subtract)
    fmt.fconst(e.code, 0.0)
    e.code.op(fmt.f["ne"])


def _product_inexact(e: Emitter, fmt: Fmt, op: str, operands: list[Operand], r: int) -> None:
    """i32: for mul, div, sqrt, whether x * y = z fails exactly (PRODUCT_CHECK)."""
    c = e.code
    values = {"a": operands[0].value, "r": r, "b": operands[-1].value}
    x, y, z = (values[name] for name in PRODUCT_CHECK[op])
    if fmt is SINGLE:                           # exact in double
        c.get(x).op(w.F64_PROMOTE_F32).get(y).op(w.F64_PROMOTE_F32, w.F64_MUL)
        c.get(z).op(w.F64_PROMOTE_F32, w.F64_NE)
        return
    bits = {"a": operands[0].push_bits, "b": operands[-1].push_bits,
            "r": lambda: c.get(r).op(w.I64_REINTERPRET_F64)}
    push_x, push_y = (bits[name] for name in PRODUCT_CHECK[op][:2])
    push_product_inexact(e, push_x, push_y)
    if op != "fmul":                            # r = RN(a * b) is a given for fmul
        c.get(x).get(y).op(w.F64_MUL).get(z).op(w.F64_NE, w.I32_OR)


# -- fused multiply-add ---------------------------------------------------------------------

# name -> (negate the product, negate the addend)
FUSED = {"fmadd": (False, False), "fmsub": (False, True), "fnmsub": (True, False),
         "fnmadd": (True, True)}


@semantic(*_names(FUSED))
def fused(e: Emitter, i: Instr, pc: FieldValue) -> None:
    op, p = i.name.split(".")
    fmt = FORMATS[p]
    rounding = Rounding(e, i, in_slow_path=True)
    operands = [Operand(e, fmt, reg) for reg in (i.rs1, i.rs2, i.rs3)]
    frame = SlowPath(e, i.name, operands, rounding, double=fmt is DOUBLE, rd=i.rd)
    if rounding.may_be_rne:
        frame.require_rne()
        _fma_fused(frame, fmt, operands, *FUSED[op])
        if not frame.left_to_tier0():
            emulate = _fma_single if fmt is SINGLE else _fma_double
            emulate(frame, operands, *FUSED[op])
    frame.finish()
    frame.set_result(fmt)
    rounding.release()
    _release(*operands)


def _f64_temps(e: Emitter, count: int) -> list[int]:
    return [e.temp(w.F64) for _ in range(count)]


def _fma_fused(frame: SlowPath, fmt: Fmt, operands: list[Operand], negate_product: bool,
               negate_addend: bool) -> None:
    """The path nearly every fused operation takes: the engine's own fused multiply-add,
    once NX is set (so that exactness does not matter) and for a normal result (no UF, OF
    or NV). Otherwise fall through to the emulation, which has the exact error terms."""
    e, c = frame.e, frame.c
    r = e.temp(fmt.ftype)
    frame.open(w.BLOCK)
    a, b, c3 = (operand.value for operand in operands)
    push_fused(e, fmt, a, b, c3, negate_product, negate_addend)
    c.set(r)
    push_nx_clear(e)
    push_is_normal(c, fmt, r)
    c.op(w.I32_EQZ, w.I32_OR).hint(False).br(w.BR_IF, 0)
    frame.done_float(fmt, r)
    frame.close()
    push_is_normal(c, fmt, r)
    c.op(w.I32_EQZ)
    frame.open(w.IF)
    frame.flags_set_already(fmt, r)     # else the emulation's error terms decide
    if frame.left_to_tier0():
        _zero_product(frame, fmt, r, a, b)
    frame.close()
    e.release((fmt.ftype, r))


def _zero_product(frame: SlowPath, fmt: Fmt, r: int, a: int, b: int) -> None:
    """Where no emulation follows (SlowPath.left_to_tier0): done with r when the product
    is an exact zero (a factor zero, neither infinite: r finite), since r is then the
    addend, exactly, and raises no flag. Mandelbrot's real-axis row keeps its imaginary
    part at 0 * x + 0 and went to tier 0 at every pass. The factors are tested as
    min(|a|, |b|) == 0, a float: a test of an invariant factor alone was hoisted out of the
    loop into an integer register (linsolve ran 16% slower). r is the fast path's own
    value, so the join adds no definition of the result."""
    c = frame.c
    c.get(a).op(fmt.f["abs"]).get(b).op(fmt.f["abs"], fmt.f["min"])
    fmt.fconst(c, 0.0)
    c.op(fmt.f["eq"]).get(r).op(fmt.f["abs"])
    fmt.fconst(c, float("inf"))
    c.op(fmt.f["lt"], w.I32_AND)
    frame.open(w.IF)
    frame.done_float(fmt, r)
    frame.close()


def _fma_single(frame: SlowPath, operands: list[Operand], negate_product: bool,
                negate_addend: bool) -> None:
    """The product is exact in double; the sum s = RN(p + c) in double has the exact error
    err (TwoSum); RN to single of s is the result but for a double-rounding midpoint."""
    e, c = frame.e, frame.c
    a, b, c3 = (operand.value for operand in operands)
    product, addend, total, error, gap = _f64_temps(e, 5)
    r = e.temp(w.F32)
    c.get(a).op(w.F64_PROMOTE_F32).get(b).op(w.F64_PROMOTE_F32, w.F64_MUL)
    if negate_product:
        c.op(w.F64_NEG)
    c.set(product).get(c3).op(w.F64_PROMOTE_F32)
    if negate_addend:
        c.op(w.F64_NEG)
    c.tee(addend).get(product).op(w.F64_ADD).tee(total).op(w.F32_DEMOTE_F64).set(r)
    push_two_sum_error(e, DOUBLE, product, addend, total)
    c.set(error).get(total).get(r).op(w.F64_PROMOTE_F32, w.F64_SUB).set(gap)
    push_tie_fixed(e, SINGLE, r, gap, error)
    c.set(r)
    _single_from_exact(frame, r, total, error)
    frame.done_float(SINGLE, r)
    e.release((w.F32, r), *((w.F64, t) for t in (product, addend, total, error, gap)))


def _fma_double(frame: SlowPath, operands: list[Operand], negate_product: bool,
                negate_addend: bool) -> None:
    """As Boldo and Melquiond's emulation, with the last rounding done directly:
    a*b = uh + ul exactly (ul from an integer product); c + uh = th + tl (TwoSum);
    v = RN(tl + ul) with error ve; z = RN(th + v) with error ez, then the rare
    double-rounding midpoint fixed with ve. Tiny products and subnormal factors (where the
    error term is not a normal double) take `_fma_double_small_product`."""
    e, c = frame.e, frame.c
    a, b, c3 = operands
    a2, uh, c2 = _f64_temps(e, 3)
    exponents = (e.temp(), e.temp())
    c.get(a.value)
    if negate_product:
        c.op(w.F64_NEG)
    c.tee(a2).get(b.value).op(w.F64_MUL).set(uh).get(c3.value)
    if negate_addend:
        c.op(w.F64_NEG)
    c.set(c2)
    for operand, exponent in zip((a, b), exponents, strict=True):
        operand.push_bits()
        c.i64_const(52).op(w.I64_SHR_U).i64_const(0x7FF).op(w.I64_AND).tee(exponent)
        c.op(w.I64_EQZ)
    c.op(w.I32_OR).get(exponents[0]).get(exponents[1]).op(w.I64_ADD).i64_const(1140)
    c.op(w.I64_LT_U, w.I32_OR)
    _fma_double_small_product(frame, a2, b.value, c2, uh)
    z, ve, ez = _fma_double_sum(e, (a.push_bits, b.push_bits), exponents, uh, c2)
    _normal_or_exact_zero(frame, DOUBLE, z, (ve, ez))

    def inexact() -> None:
        for error in (ve, ez):
            c.get(error)
            DOUBLE.fconst(c, 0.0)
            c.op(w.F64_NE)
        c.op(w.I32_OR)

    accrue_inexact(e, inexact)
    frame.done_float(DOUBLE, z)
    e.release(*((w.F64, t) for t in (a2, uh, c2, ve, z, ez)), *((w.I64, t) for t in exponents))


def _fma_double_sum(e: Emitter, bits: tuple[Callable[[], None], Callable[[], None]],
                    exponents: tuple[int, int], uh: int, c2: int) -> tuple[int, int, int]:
    """z = RN(a*b + c2) and its error terms ve and ez (doubles in new temps, both zero
    when z is exact), for uh = RN(a*b) whose exponents allow `push_product_error` (bits:
    what pushes a's and b's)."""
    c = e.code
    ul, th, tl, v, ve, z, ez = _f64_temps(e, 7)
    push_product_error(e, *bits, exponents, uh)
    c.set(ul).get(c2).get(uh).op(w.F64_ADD).set(th)
    push_two_sum_error(e, DOUBLE, c2, uh, th)
    c.tee(tl).get(ul).op(w.F64_ADD).set(v)
    push_two_sum_error(e, DOUBLE, tl, ul, v)
    c.set(ve).get(th).get(v).op(w.F64_ADD).set(z)
    push_two_sum_error(e, DOUBLE, th, v, z)
    c.set(ez)
    push_tie_fixed(e, DOUBLE, z, ez, ve)
    c.set(z)
    e.release(*((w.F64, t) for t in (ul, th, tl, v)))
    return z, ve, ez


def _normal_or_exact_zero(frame: SlowPath, fmt: Fmt, r: int, zeros: tuple[int, ...]) -> None:
    """Go slow unless r is normal, or a zero whose error terms (doubles) are all zero: an
    exact cancellation, which RNE makes +0 (or -0 + -0 = -0), as wasm's add does."""
    c = frame.c
    push_is_normal(c, fmt, r)
    push_is_zero(c, fmt, r)
    for term in zeros:
        push_is_zero(c, DOUBLE, term)
        c.op(w.I32_AND)
    c.op(w.I32_OR, w.I32_EQZ)
    frame.to_slow_if()


def _fma_double_small_product(frame: SlowPath, a2: int, b: int, c2: int, uh: int) -> None:
    """Pop the i32 "product too small or a factor subnormal (or zero)": then finish here
    if the product is an exact zero (the sum is c, or a signed zero by the rules of
    addition, which wasm's add follows) or the result is exact (`_fma_double_scaled`),
    else take the slow path: an inexact result there raises flags, which once set let
    the steady loop copy go on (`flags_set_already`), but an exact one raises none.
    Where the slow path leaves for tier 0 (SlowPath.leaves), tier 0 scales instead, and
    the region's code stays as small as it was."""
    c = frame.c
    frame.open(w.IF)
    push_is_zero(c, DOUBLE, a2)
    push_is_zero(c, DOUBLE, b)
    c.op(w.I32_OR)
    push_is_zero(c, DOUBLE, uh)
    push_is_finite(c, DOUBLE, c2)
    c.op(w.I32_AND, w.I32_AND)
    frame.open(w.IF)
    c.get(c2).get(uh).op(w.F64_ADD)
    push_result_bits(c, DOUBLE)
    frame.done()
    frame.close()
    if not frame.leaves():
        _fma_double_scaled(frame, a2, b, c2)
    frame.to_slow()
    frame.close()


def _fma_double_scaled(frame: SlowPath, a2: int, b: int, c2: int) -> None:
    """Done if a2*b + c2 is exact, for a product too small for the emulation (a factor
    subnormal, or the exponents' sum below 1140): scaled by 2**k (a subnormal factor by
    2**64, then a's exponent up to that sum; c2 by the same 2**k), the sum is one the
    emulation computes, and the result is exact if its error terms are zero and it scales
    back to the same double. An exact result raises no flag, so unlike an inexact one it
    never finds its flags set already (`flags_set_already`): fma(2**-1060, k, 2**-1060),
    an exact subnormal, went to the host at every pass (tests/programs/fp/cancel.c ran 20
    times qemu's time)."""
    e, c = frame.e, frame.c
    sa, sb, sc, uh = _f64_temps(e, 4)
    exponents = ea, eb = e.temp(), e.temp()
    lift, lo, hi = e.temp(), e.temp(), e.temp()
    _normalised(e, a2, sa, ea)
    _normalised(e, b, sb, eb)
    c.op(w.I64_ADD).set(hi)
    c.i64_const(1140).get(ea).op(w.I64_SUB).get(eb).op(w.I64_SUB).tee(lift)
    c.i64_const(0).get(lift).i64_const(0).op(w.I64_GT_S, w.SELECT).set(lift)
    c.get(sa).op(w.I64_REINTERPRET_F64).get(lift).i64_const(52).op(w.I64_SHL, w.I64_ADD)
    c.op(w.F64_REINTERPRET_I64).set(sa)
    c.get(ea).get(lift).op(w.I64_ADD).set(ea)
    c.get(hi).get(lift).op(w.I64_ADD).tee(hi).i64_const(1).op(w.I64_SHR_U).set(lo)
    c.get(hi).get(lo).op(w.I64_SUB).set(hi)         # k = lo + hi, each at most 633
    _scale(c, c2, (lo, hi), 1)
    c.set(sc).get(sa).get(sb).op(w.F64_MUL).set(uh)
    push_is_finite(c, DOUBLE, sc)
    push_is_finite(c, DOUBLE, uh)
    c.op(w.I32_AND)
    frame.open(w.IF)
    z, ve, ez = _fma_double_sum(e, (lambda: c.get(sa).op(w.I64_REINTERPRET_F64),
                                    lambda: c.get(sb).op(w.I64_REINTERPRET_F64)),
                                exponents, uh, sc)
    _scale(c, z, (lo, hi), -1)
    c.set(sc)
    _scale(c, sc, (hi, lo), 1)
    c.get(z).op(w.F64_EQ)
    for error in (ve, ez):
        push_is_zero(c, DOUBLE, error)
        c.op(w.I32_AND)
    frame.open(w.IF)
    frame.done_float(DOUBLE, sc)
    frame.close()
    frame.close()
    e.release(*((w.F64, t) for t in (sa, sb, sc, uh, z, ve, ez)),
              *((w.I64, t) for t in (ea, eb, lift, lo, hi)))


def _normalised(e: Emitter, value: int, scaled: int, exponent: int) -> None:
    """scaled = value, times 2**64 if it is subnormal; exponent: scaled's biased exponent.
    Pushes the i64 power of two it took: 64 or 0."""
    c, tiny = e.code, e.temp(w.I32)
    c.get(value).op(w.I64_REINTERPRET_F64).i64_const(DOUBLE.exp_mask)
    c.op(w.I64_AND, w.I64_EQZ).set(tiny).get(value)
    DOUBLE.fconst(c, 2.0 ** 64)
    c.op(w.F64_MUL).get(value).get(tiny).op(w.SELECT).tee(scaled)
    c.op(w.I64_REINTERPRET_F64).i64_const(52).op(w.I64_SHR_U).i64_const(0x7FF)
    c.op(w.I64_AND).set(exponent)
    c.get(tiny).op(w.I64_EXTEND_I32_U).i64_const(6).op(w.I64_SHL)
    e.release((w.I32, tiny))


def _scale(c: w.Code, value: int, powers: tuple[int, int], sign: int) -> None:
    """Push value * 2**(sign * p) for each i64 local p of powers in turn (each at most
    1022: a normal power of two), rounding at each step."""
    c.get(value)
    for power in powers:
        c.i64_const(1023).get(power).op(w.I64_ADD if sign > 0 else w.I64_SUB)
        c.i64_const(52).op(w.I64_SHL, w.F64_REINTERPRET_I64, w.F64_MUL)


# -- conversions ------------------------------------------------------------------------

# integer type -> (lowest value, one past the highest, as doubles; saturating truncation;
# result of a NaN)
TO_INT = {
    "w": (-2.0 ** 31, 2.0 ** 31, w.I32_TRUNC_SAT_F64_S, 0x7FFFFFFF),
    "wu": (0.0, 2.0 ** 32, w.I32_TRUNC_SAT_F64_U, -1),
    "l": (-2.0 ** 63, 2.0 ** 63, w.I64_TRUNC_SAT_F64_S, (1 << 63) - 1),
    "lu": (0.0, 2.0 ** 64, w.I64_TRUNC_SAT_F64_U, -1),
}
ROUND_TO_INTEGRAL = {0: w.F64_NEAREST, 1: w.F64_TRUNC, 2: w.F64_FLOOR, 3: w.F64_CEIL}
RMM = 4


@semantic(*(f"fcvt.{t}.{p}" for t in TO_INT for p in FORMAT_NAMES))
def to_int(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Round to an integral double in the mode, then range-check and truncate exactly.
    Single operands are promoted first (exactly)."""
    _, kind, p = i.name.split(".")
    low, high, truncate, nan_result = TO_INT[kind]
    c = e.code
    rounding = Rounding(e, i)
    x = Operand(e, FORMATS[p], i.rs1)
    xd, y, ok = e.temp(w.F64), e.temp(w.F64), e.temp(w.I32)
    c.get(x.value)
    if p == "s":
        c.op(w.F64_PROMOTE_F32)
    c.set(xd)
    _round_integral(e, rounding, xd)
    c.tee(y)
    DOUBLE.fconst(c, low)
    c.op(w.F64_GE).get(y)
    DOUBLE.fconst(c, high)
    c.op(w.F64_LT, w.I32_AND).set(ok)
    c.get(y).get(xd).op(w.F64_NE).i32_const(NV).get(ok).op(w.SELECT)
    raise_flags(e)
    c.get(y).fc(truncate)
    if kind in ("w", "wu"):
        c.op(w.I64_EXTEND_I32_S)               # RV64 sign-extends W results, even WU's
    c.i64_const(nan_result).get(y).get(y).op(w.F64_EQ, w.SELECT)
    e.set_x(i.rd)
    rounding.release()
    x.release()
    e.release((w.F64, xd), (w.F64, y), (w.I32, ok))


def _round_integral(e: Emitter, rounding: Rounding, x: int) -> None:
    """Push x rounded to an integral double in the instruction's mode."""
    c = e.code
    if rounding.static is not None:
        _round_integral_static(e, rounding.static, x)
        return
    c.block(w.BLOCK, w.F64)
    for _ in range(5):
        c.block(w.BLOCK)
    rounding.push()
    c.op(w.BR_TABLE).extend(bytes([5, 0, 1, 2, 3, 4, 4]))
    for mode in range(5):
        c.op(w.END)
        _round_integral_static(e, mode, x)
        c.br(w.BR, 4 - mode)
    c.op(w.END)


def _round_integral_static(e: Emitter, mode: int, x: int) -> None:
    c = e.code
    if mode != RMM:
        c.get(x).op(ROUND_TO_INTEGRAL[mode])
        return
    t = e.temp(w.F64)                           # ties away: trunc, +-1 if |x - trunc| >= 0.5
    c.get(x).op(w.F64_TRUNC).tee(t)
    DOUBLE.fconst(c, 1.0)
    c.get(x).op(w.F64_COPYSIGN, w.F64_ADD).get(t).get(x).get(t).op(w.F64_SUB, w.F64_ABS)
    DOUBLE.fconst(c, 0.5)
    c.op(w.F64_GE, w.SELECT)
    e.release((w.F64, t))


# integer type -> (how to widen the register's low bits to i64, signed?)
FROM_INT = {
    "w": ((w.I32_WRAP_I64, w.I64_EXTEND_I32_S), True),
    "wu": ((w.I32_WRAP_I64, w.I64_EXTEND_I32_U), False),
    "l": ((), True),
    "lu": ((), False),
}


@semantic(*(f"fcvt.{p}.{t}" for t in FROM_INT for p in FORMAT_NAMES))
def from_int(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """wasm's conversion rounds to nearest-even; it is exact (and then right in every mode)
    iff |n| without its trailing zeros fits in the format's precision."""
    _, p, kind = i.name.split(".")
    fmt = FORMATS[p]
    widen, signed = FROM_INT[kind]
    c = e.code
    rounding = Rounding(e, i)
    n = e.temp()
    e.x(i.rs1)
    c.op(*widen).set(n)
    convert = fmt.f["from_i64_u" if kind == "lu" else "from_i64_s"]
    if fmt is DOUBLE and kind in ("w", "wu"):  # 32-bit integers are all doubles
        c.get(n).op(convert)
        e.set_f_value(i.rd)
    else:
        frame = SlowPath(e, i.name, [IntOperand(e, i.rs1)], rounding,
                         double=fmt is DOUBLE, rd=i.rd)
        r, magnitude = e.temp(fmt.ftype), e.temp()
        c.get(n).op(convert).set(r)
        if signed:
            c.i64_const(0).get(n).op(w.I64_SUB).get(n).get(n).i64_const(0).op(w.I64_LT_S)
            c.op(w.SELECT)
        else:
            c.get(n)
        c.tee(magnitude).get(magnitude).op(w.I64_CTZ, w.I64_SHR_U)
        c.i64_const(1 << (fmt.frac + 1)).op(w.I64_GE_U)
        frame.inexact_if()
        frame.done_float(fmt, r)
        frame.finish()
        frame.set_result(fmt)
        e.release((fmt.ftype, r), (w.I64, magnitude))
    rounding.release()
    e.release((w.I64, n))


@semantic("fcvt.s.d")
def narrow(e: Emitter, i: Instr, pc: FieldValue) -> None:
    c = e.code
    rounding = Rounding(e, i)
    a = Operand(e, DOUBLE, i.rs1)
    frame = SlowPath(e, i.name, [a], rounding)
    r = e.temp(w.F32)
    c.get(a.value).op(w.F32_DEMOTE_F64).set(r)
    push_is_normal(c, SINGLE, r)
    push_is_zero(c, DOUBLE, a.value)            # +-0 narrows exactly; a tiny value does not
    c.op(w.I32_OR, w.I32_EQZ)
    frame.to_slow_if()
    c.get(r).op(w.F64_PROMOTE_F32).get(a.value).op(w.F64_NE)
    frame.inexact_if()
    frame.done_float(SINGLE, r)
    frame.finish()
    set_float(e, SINGLE, i.rd)
    rounding.release()
    a.release()
    e.release((w.F32, r))


@semantic("fcvt.d.s")
def widen(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Exact; a NaN goes slow, for NV on a signaling one and the canonical result."""
    c = e.code
    rounding = Rounding(e, i)
    a = Operand(e, SINGLE, i.rs1)
    frame = SlowPath(e, i.name, [a], rounding)
    c.get(a.value).get(a.value).op(w.F32_NE)
    frame.to_slow_if()
    c.get(a.value).op(w.F64_PROMOTE_F32)
    push_result_bits(c, DOUBLE)
    frame.done()
    frame.finish()
    set_float(e, DOUBLE, i.rd)
    rounding.release()
    a.release()


# -- min/max and comparisons: NaN operands go slow --------------------------------------

# Zfa's fminm/fmaxm and fleq/fltq differ from fmin/fmax and fle/flt only with NaN operands.
MINMAX = {"fmin": "min", "fmax": "max", "fminm": "min", "fmaxm": "max"}
COMPARE = {"feq": "eq", "flt": "lt", "fle": "le", "fleq": "le", "fltq": "lt"}


def _ordered_or_slow(frame: SlowPath, a: Operand, b: Operand) -> None:
    c, fmt = frame.c, a.fmt
    c.get(a.value).get(a.value).op(fmt.f["ne"]).get(b.value).get(b.value).op(fmt.f["ne"])
    c.op(w.I32_OR)
    frame.to_slow_if()


@semantic(*_names(MINMAX), *_names(COMPARE))
def min_max_compare(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """wasm's min/max order -0 below +0 as RISC-V does; NaN operands go slow, where NV for
    signaling NaNs (fmin, fmax, feq, and Zfa's fminm, fmaxm, fleq, fltq) or any NaN (flt,
    fle) is raised, and fminm/fmaxm give the canonical NaN."""
    op, p = i.name.split(".")
    fmt = FORMATS[p]
    c = e.code
    a, b = Operand(e, fmt, i.rs1), Operand(e, fmt, i.rs2)
    frame = SlowPath(e, i.name, [a, b])
    _ordered_or_slow(frame, a, b)
    c.get(a.value).get(b.value)
    if op in MINMAX:
        c.op(fmt.f[MINMAX[op]])
        push_result_bits(c, fmt)
    else:
        c.op(fmt.f[COMPARE[op]], w.I64_EXTEND_I32_U)
    frame.done()
    frame.finish()
    if op in MINMAX:
        set_float(e, fmt, i.rd)
    else:
        e.set_x(i.rd)
    _release(a, b)


# -- bit operations: sign injection, moves, classification --------------------------------

SIGN_INJECTION = ("fsgnj", "fsgnjn", "fsgnjx")


def _push_bits(e: Emitter, fmt: Fmt, reg: int) -> None:
    if fmt is SINGLE:
        unbox(e, reg)
    elif fmt is HALF:
        unbox_half(e, reg)
    else:
        e.f(reg)


BIT_FORMATS = {**FORMATS, "h": HALF}
SOFT_FORMATS = {"s": fp_soft.SINGLE, "d": fp_soft.DOUBLE, "h": fp_soft.HALF}


@semantic(*_names(SIGN_INJECTION), *(f"{op}.h" for op in SIGN_INJECTION))
def sign_injection(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """rs1's magnitude with rs2's sign (fsgnj), its negation (fsgnjn), or rs1's sign xor
    rs2's (fsgnjx), on the (unboxed) bits: no flags, NaNs are not canonicalized."""
    op, p = i.name.split(".")
    fmt, c = BIT_FORMATS[p], e.code
    _push_bits(e, fmt, i.rs1)
    if op != "fsgnjx":
        fmt.iconst(c, ~fmt.sign)
        c.op(fmt.i["and"])
    _push_bits(e, fmt, i.rs2)
    if op == "fsgnjn":
        fmt.iconst(c, fmt.sign)
        c.op(fmt.i["xor"])
    fmt.iconst(c, fmt.sign)
    c.op(fmt.i["and"], fmt.i["xor"] if op == "fsgnjx" else fmt.i["or"])
    if fmt is SINGLE:
        c.op(w.I64_EXTEND_I32_U)
    set_float(e, fmt, i.rd)


@semantic("fmv.x.w", "fmv.x.d", "fmv.x.h")
def move_to_int(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """fmv.x.w sign-extends the low 32 bits, fmv.x.h the low 16, boxed or not."""
    e.f(i.rs1)
    if i.name == "fmv.x.w":
        e.code.op(w.I32_WRAP_I64, w.I64_EXTEND_I32_S)
    elif i.name == "fmv.x.h":
        e.code.op(w.I64_EXTEND16_S)
    e.set_x(i.rd)


@semantic("fmv.w.x", "fmv.d.x", "fmv.h.x")
def move_to_float(e: Emitter, i: Instr, pc: FieldValue) -> None:
    e.x(i.rs1)
    if i.name == "fmv.w.x":
        e.code.i64_const(NAN_BOX).op(w.I64_OR)
    elif i.name == "fmv.h.x":
        e.code.i64_const(0xFFFF).op(w.I64_AND).i64_const(HALF_BOX).op(w.I64_OR)
    e.set_f(i.rd)


@semantic(*(f"fclass.{p}" for p in (*FORMAT_NAMES, "h")))
def classify(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """1 << k: for |x|'s bits a, k = 4 + (a != 0) + (a >= min normal) + (a >= inf) for a
    positive x (zero, subnormal, normal, infinity), 7 - that for a negative one, and 8 or
    9 for signaling or quiet NaNs."""
    fmt, c = BIT_FORMATS[i.name[-1]], e.code
    bits, magnitude, k = e.temp(fmt.itype), e.temp(fmt.itype), e.temp(w.I32)
    _push_bits(e, fmt, i.rs1)
    c.tee(bits)
    fmt.iconst(c, ~fmt.sign)
    c.op(fmt.i["and"]).set(magnitude)
    c.i32_const(4)
    for op, bound in (("ne", 0), ("ge_u", 1 << fmt.frac), ("ge_u", fmt.exp_mask)):
        c.get(magnitude)
        fmt.iconst(c, bound)
        c.op(fmt.i[op], w.I32_ADD)
    c.set(k).i64_const(1).i32_const(7).get(k).op(w.I32_SUB).get(k).get(bits)
    fmt.iconst(c, fmt.sign)
    c.op(fmt.i["ge_u"], w.SELECT).set(k)
    c.i32_const(8).get(magnitude)
    fmt.iconst(c, fmt.exp_mask | 1 << (fmt.frac - 1))
    c.op(fmt.i["ge_u"], w.I32_ADD).get(k).get(magnitude)
    fmt.iconst(c, fmt.exp_mask)
    c.op(fmt.i["gt_u"], w.SELECT, w.I64_EXTEND_I32_U, w.I64_SHL)
    e.set_x(i.rd)
    e.release((fmt.itype, bits), (fmt.itype, magnitude), (w.I32, k))


# -- half precision: the host for everything that computes ---------------------------------


def _host_formats(name: str) -> tuple[str, str]:
    """(result, source) precision of a host-computed instruction: "s", "d", "h", or "x"
    for an integer register. fcvt.X.Y converts Y to X; feq/flt/fle write an integer."""
    parts = name.split(".")
    if parts[0] == "fcvt":
        result, source = parts[1], parts[2]
    else:
        result = source = parts[-1]
        if parts[0] in COMPARE:
            result = "x"
    return ("x" if result in TO_INT else result), ("x" if source in FROM_INT else source)


SOURCE_FIELDS = {"fs1": "rs1", "fs2": "rs2", "fs3": "rs3", "rs1": "rs1"}
HALF_HOST = [name for name in SLOW_INDEX if "h" in name.split(".")[1:] and name != "fli.h"]


@semantic(*HALF_HOST)
def half_host(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Everything of Zfh that computes: one host call, which returns the result's bits (or
    integer value) and accrues the flags. An instruction with a rounding mode traps on a
    reserved dynamic one before the call."""
    result, source = _host_formats(i.name)
    sources = [t for t in i.spec.operands.split(",")[1:] if t in SOURCE_FIELDS]
    operands: list[BitsOperand | IntOperand] = [
        IntOperand(e, i.rs1) if source == "x"
        else BitsOperand(e, BIT_FORMATS[source], getattr(i, SOURCE_FIELDS[t])) for t in sources]
    rounding = Rounding(e, i, in_slow_path=True) if i.spec.operands.endswith(",rm") else None
    frame = SlowPath(e, i.name, operands, rounding)
    frame.finish()
    if result == "x":
        e.set_x(i.rd)
    else:
        set_float(e, BIT_FORMATS[result], i.rd)
    if rounding is not None:
        rounding.release()


# -- Zfa: fli, fround, froundnx, fcvtmod.w.d (fminm, fmaxm, fleq, fltq are above) ---------


class _ConstantIndex:
    """fli's constant index in tier 0, decoded at run time (a register field: number * 8),
    as the slow path's argument."""

    def __init__(self, e: Emitter, field: Field) -> None:
        self.e, self.field = e, field

    def push_i64(self) -> None:
        self.e.code.get(self.field.local).i32_const(3).op(w.I32_SHR_U, w.I64_EXTEND_I32_U)


@semantic("fli.s", "fli.d", "fli.h")
def load_constant(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """The constant itself in compiled code; the interpreter, which knows the index only at
    run time, asks the host for it."""
    fmt = BIT_FORMATS[i.name[-1]]
    if isinstance(i.rs1, Field):
        frame = SlowPath(e, i.name, [_ConstantIndex(e, i.rs1)])
        frame.finish()
    else:
        e.code.i64_const(fli(SOFT_FORMATS[i.name[-1]], i.rs1))
    set_float(e, fmt, i.rd)


@semantic(*_names(("fround", "froundnx")))
def round_integral(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """wasm's nearest/trunc/floor/ceil are IEEE roundToIntegral in RNE/RTZ/RDN/RUP (signed
    zeros kept), RMM is computed (`_round_integral`); singles are rounded as doubles, exactly.
    froundnx adds NX when the value changed. NaNs go slow (canonical NaN, NV if signaling)."""
    op, p = i.name.split(".")
    fmt, c = FORMATS[p], e.code
    rounding = Rounding(e, i)
    a = Operand(e, fmt, i.rs1)
    frame = SlowPath(e, i.name, [a], rounding)
    x, r = e.temp(w.F64), e.temp(w.F64)
    c.get(a.value).get(a.value).op(fmt.f["ne"])
    frame.to_slow_if()
    c.get(a.value)
    if fmt is SINGLE:
        c.op(w.F64_PROMOTE_F32)
    c.set(x)
    _round_integral(e, rounding, x)
    c.set(r)
    if op == "froundnx":
        accrue_inexact(e, lambda: c.get(r).get(x).op(w.F64_NE))
    c.get(r)
    if fmt is SINGLE:
        c.op(w.F32_DEMOTE_F64)
    push_result_bits(c, fmt)
    frame.done()
    frame.finish()
    set_float(e, fmt, i.rd)
    rounding.release()
    a.release()
    e.release((w.F64, x), (w.F64, r))


@semantic("fcvtmod.w.d")
def convert_modular(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """In the int32 range (|x| < 2**31), a truncation as fcvt.w.d rtz; the rest (NV, the
    low 32 bits of large integers, NaNs) goes slow."""
    c = e.code
    a = Operand(e, DOUBLE, i.rs1)
    frame = SlowPath(e, i.name, [a])
    y = e.temp(w.F64)
    c.get(a.value).op(w.F64_ABS)
    DOUBLE.fconst(c, 2.0 ** 31)
    c.op(w.F64_LT, w.I32_EQZ)
    frame.to_slow_if()
    c.get(a.value).op(w.F64_TRUNC).set(y)
    accrue_inexact(e, lambda: c.get(y).get(a.value).op(w.F64_NE))
    c.get(y).fc(w.I32_TRUNC_SAT_F64_S).op(w.I64_EXTEND_I32_S)
    frame.done()
    frame.finish()
    e.set_x(i.rd)
    a.release()
    e.release((w.F64, y))
