"""Reference models for rows that neither Unicorn nor qemu 7.2 implements (Zicond, Zimop,
Zawrs, Zicbom, Zicboz, Zfa), written from the specs' text: the expected final state of a
directed case."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from fractions import Fraction

from difftest.directed import Case
from difftest.machine import SCRATCH, State
from mvvm.isa.table import CACHE_BLOCK

# rd = f(x[rs1], x[rs2])
RESULTS: dict[str, Callable[[int, int], int]] = {
    "czero.eqz": lambda a, b: 0 if b == 0 else a,      # rd = rs2 == 0 ? 0 : rs1
    "czero.nez": lambda a, b: a if b == 0 else 0,      # rd = rs2 != 0 ? 0 : rs1
    **{f"mop.r.{n}": lambda a, b: 0 for n in range(32)},     # until redefined: rd = 0
    **{f"mop.rr.{n}": lambda a, b: 0 for n in range(8)},
}
# No architectural effect a case can see: the waits may return at once, and a cache's
# write-back or flush changes no memory contents.
NO_EFFECT = frozenset({"wrs.nto", "wrs.sto", "cbo.clean", "cbo.flush"})


# -- Zfa: values as exact fractions, independent of MVVM's fp_soft -------------------------

NV, NX = 0x10, 0x01
# precision suffix -> (exponent bits, fraction bits, register bits that must be ones above)
FORMATS = {"h": (5, 10, 16), "s": (8, 23, 32), "d": (11, 52, 64)}
# The Zfa spec's table of fli constants; None is the format's minimum positive normal. In
# half precision 2**16 is not representable: the spec gives +inf.
FLI = (Fraction(-1), None, Fraction(1, 2**16), Fraction(1, 2**15), Fraction(1, 2**8),
       Fraction(1, 2**7), Fraction(1, 16), Fraction(1, 8), Fraction(1, 4), Fraction(5, 16),
       Fraction(3, 8), Fraction(7, 16), Fraction(1, 2), Fraction(5, 8), Fraction(3, 4),
       Fraction(7, 8), Fraction(1), Fraction(5, 4), Fraction(3, 2), Fraction(7, 4),
       Fraction(2), Fraction(5, 2), Fraction(3), Fraction(4), Fraction(8), Fraction(16),
       Fraction(128), Fraction(256), Fraction(2**15), Fraction(2**16), "inf", "nan")


class Float:
    """A value of one precision: "nan" (quiet or signaling), "inf", or a finite fraction
    with its sign (so that -0 is told from +0)."""

    def __init__(self, p: str, register: int) -> None:
        exp_bits, frac_bits, width = FORMATS[p]
        if width < 64 and register >> width != (1 << (64 - width)) - 1:
            register = (1 << (exp_bits + frac_bits)) - (1 << frac_bits) + (1 << (frac_bits - 1))
        bits = register & ((1 << width) - 1)
        self.p, self.bits = p, bits
        self.sign = bits >> (width - 1)
        exp, frac = bits >> frac_bits & ((1 << exp_bits) - 1), bits & ((1 << frac_bits) - 1)
        bias = (1 << (exp_bits - 1)) - 1
        self.kind = "finite"
        if exp == (1 << exp_bits) - 1:
            self.kind = "inf" if frac == 0 else "nan"
            self.signaling = frac != 0 and frac >> (frac_bits - 1) == 0
            return
        self.signaling = False
        m = frac | (1 << frac_bits if exp else 0)
        self.value = Fraction(m) * Fraction(2) ** (max(exp, 1) - bias - frac_bits)
        if self.sign:
            self.value = -self.value

    @property
    def nan(self) -> bool:
        return self.kind == "nan"


def _canonical_nan(p: str) -> int:
    exp_bits, frac_bits, _ = FORMATS[p]
    return (1 << (exp_bits + frac_bits)) - (1 << frac_bits) + (1 << (frac_bits - 1))


def _encode(p: str, value: Fraction, sign: int) -> int:
    """The bits of a value the format represents exactly (or +-inf for "inf")."""
    exp_bits, frac_bits, width = FORMATS[p]
    bias = (1 << (exp_bits - 1)) - 1
    top = sign << (width - 1)
    if value == "inf":
        return top | ((1 << exp_bits) - 1) << frac_bits
    magnitude = abs(value)
    if magnitude == 0:
        return top
    exp = max(math.floor(math.log2(magnitude)), 1 - bias)
    while magnitude >= Fraction(2) ** (exp + 1):
        exp += 1
    while exp > 1 - bias and magnitude < Fraction(2) ** exp:
        exp -= 1
    m = magnitude / Fraction(2) ** (exp - frac_bits)
    assert m.denominator == 1, (p, value)
    m = int(m)
    if m >> frac_bits == 0:                         # subnormal
        return top | m
    return top | (exp + bias) << frac_bits | (m - (1 << frac_bits))


def _box(p: str, bits: int) -> int:
    width = FORMATS[p][2]
    return bits | (((1 << 64) - 1) ^ ((1 << width) - 1))


def _round(value: Fraction, rm: int) -> int:
    """value rounded to an integer: RNE, RTZ, RDN, RUP, RMM."""
    low = math.floor(value)
    rest = value - low
    if rm == 1:
        return math.trunc(value)
    if rm == 2:
        return low
    if rm == 3:
        return math.ceil(value)
    if rest != Fraction(1, 2):
        return low + (rest > Fraction(1, 2))
    if rm == 4:                                     # ties away from zero
        return low + (value > 0)
    return low + (low % 2)                          # ties to even


def _fli(p: str, index: int) -> tuple[int, int]:
    value = FLI[index]
    if value == "nan":
        return _canonical_nan(p), 0
    exp_bits, frac_bits, _ = FORMATS[p]
    if value is None:
        return 1 << frac_bits, 0
    if p == "h" and value == 2**16:
        return _encode(p, "inf", 0), 0
    return _encode(p, value, int(value != "inf" and value < 0)), 0


def _minmax(p: str, a: Float, b: Float, maximum: bool) -> tuple[int, int]:
    flags = NV if a.signaling or b.signaling else 0
    if a.nan or b.nan:
        return _canonical_nan(p), flags
    def key(x: Float) -> tuple:
        if x.kind == "inf":
            return (-1 if x.sign else 1, 0, 0)
        return (0, x.value, -x.sign)               # -0 below +0
    pick = max if maximum else min
    return pick((a, b), key=key).bits, flags


def _less(a: Float, b: Float, equal: bool) -> tuple[int, int]:
    flags = NV if a.signaling or b.signaling else 0
    if a.nan or b.nan:
        return 0, flags
    def key(x: Float) -> Fraction | float:
        return (-math.inf if x.sign else math.inf) if x.kind == "inf" else x.value
    return int(key(a) <= key(b) if equal else key(a) < key(b)), flags


def _fround(p: str, a: Float, rm: int, exact: bool) -> tuple[int, int]:
    if a.nan:
        return _canonical_nan(p), NV if a.signaling else 0
    if a.kind == "inf":
        return a.bits, 0
    n = _round(a.value, rm)
    flags = NX if exact and n != a.value else 0
    return _encode(p, Fraction(n), a.sign), flags


def _fcvtmod(a: Float) -> tuple[int, int]:
    if a.kind != "finite":
        return 0, NV
    n = math.trunc(a.value)
    low = n & 0xFFFFFFFF
    result = low - (1 << 32) if low >> 31 else low
    if not -(1 << 31) <= n < 1 << 31:
        return result, NV
    return result, NX if n != a.value else 0


def _zfa(case: Case, state: State) -> State:
    name, fields = case.spec.name, case.fields
    op, _, p = name.rpartition(".")
    frm = state.fcsr >> 5 & 7
    rm = frm if fields.rm == 7 else fields.rm
    a = Float("d" if op == "fcvtmod.w" else p, state.f[fields.rs1])
    b = Float(p, state.f[fields.rs2]) if op in ("fminm", "fmaxm", "fleq", "fltq") else a
    if op == "fli":
        bits, flags = _fli(p, fields.rs1)
    elif op in ("fminm", "fmaxm"):
        bits, flags = _minmax(p, a, b, op == "fmaxm")
    elif op in ("fround", "froundnx"):
        bits, flags = _fround(p, a, rm, op == "froundnx")
    elif op in ("fleq", "fltq"):
        value, flags = _less(a, b, op == "fleq")
        return replace(state.with_x(**{f"x{fields.rd}": value}), fcsr=state.fcsr | flags)
    else:
        value, flags = _fcvtmod(a)
        return replace(state.with_x(**{f"x{fields.rd}": value}), fcsr=state.fcsr | flags)
    f = list(state.f)
    f[fields.rd] = _box(p, bits)
    return replace(state, f=tuple(f), fcsr=state.fcsr | flags)


def outcome(case: Case, state: State) -> State:
    """The state after the case's one instruction, from the state before it."""
    name, fields = case.spec.name, case.fields
    if case.spec.ext == "Zfa":
        return _zfa(case, state)
    if name in NO_EFFECT:
        return state
    if name == "cbo.zero":
        start = (state.x[fields.rs1] & -CACHE_BLOCK) - SCRATCH
        scratch = bytearray(state.scratch)
        scratch[start:start + CACHE_BLOCK] = bytes(CACHE_BLOCK)
        return replace(state, scratch=bytes(scratch))
    result = RESULTS[name](state.x[fields.rs1], state.x[fields.rs2])
    return state.with_x(**{f"x{fields.rd}": result})
