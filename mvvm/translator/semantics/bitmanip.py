"""Zba, Zbb, Zbs and Zbc: the bit-manipulation extensions; Zbkb and Zbkx, their additions
for cryptography; Zicond, the conditional zero.

Most of these are a handful of wasm operators, so they are written as data: a short stack
program per mnemonic (`PROGRAMS`) over two operands, `A` (rs1) and `B` (rs2, or the shift
amount of an immediate form, so bclr and bclri share one program). wasm has what the
hardware has for clz/ctz/cpop/rotates/sign extension; the rest is built from masks:

- W forms (clzw, rolw, add.uw...) wrap to i32 or zero-extend the low word explicitly;
  wasm's i32 rotates and counts then match RISC-V's 32-bit ones.
- rev8 is a byte swap (wasm has none): swap bytes within halfwords, halfwords within
  words (masked rotates), then the words (one rotate).
- orc.b sets each nonzero byte to 0xff: the classic "has a nonzero byte" bit trick gives
  bit 7 of each nonzero byte; scaling the 0/1 per byte by 0xff spreads it (no carries).
- clmul, clmulr and clmulh are carry-less products, a wasm loop over the set bits of rs2
  (at most 64 iterations, a small, constant code size); clmulh is clmulr >> 1, since the
  carry-less product of two 64-bit values has at most 127 bits.

- brev8 reverses the bits of each byte: swap adjacent bits, pairs, then nibbles, each a
  masked shift both ways.
- xperm4 and xperm8 look each field of rs2 up among rs1's fields: a loop over the fields.

Shift amounts need no masking: wasm's shifts and rotates take the amount modulo the width,
as RISC-V's register forms do.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter, FieldValue
from mvvm.translator.semantics import semantic
from mvvm.wasm import encoder as w


@dataclass(frozen=True)
class K:
    """Push an i64 constant."""

    value: int


A, B = "rs1", "rs2"          # push operand a (rs1) / operand b (rs2 or the immediate)
SAVE, T = "save", "temp"     # local.set / local.get of one scratch i64
Program = tuple[int | str | K, ...]   # ints are wasm opcodes

NOT = (K(-1), w.I64_XOR)
ZEXT_W = (w.I32_WRAP_I64, w.I64_EXTEND_I32_U)
BIT = (K(1), B, w.I64_SHL)                    # 1 << b
LOW_7 = 0x7F7F7F7F7F7F7F7F
HIGH_BITS = 0x8080808080808080


def _sh_add(n: int, zext: bool) -> Program:
    """shNadd[.uw]: rs2 + (rs1 [zero-extended from 32 bits] << n)."""
    return (A, *(ZEXT_W if zext else ()), K(n), w.I64_SHL, B, w.I64_ADD)


def _select(compare: int) -> Program:
    """max/min: a if compare(a, b) else b."""
    return (A, B, A, B, compare, w.SELECT)


def _count_w(op: int) -> Program:
    """clzw/ctzw/cpopw: an i32 count of the low word; the count is never negative."""
    return (A, w.I32_WRAP_I64, op, w.I64_EXTEND_I32_U)


def _rotate_w(op: int) -> Program:
    """rolw/rorw/roriw: an i32 rotate of the low word, sign-extended like every W result."""
    return (A, w.I32_WRAP_I64, B, w.I32_WRAP_I64, op, w.I64_EXTEND_I32_S)


def _exchange(bits: int, mask: int) -> Program:
    """Exchange each `bits`-wide field of the saved value under mask with its neighbour
    above (one step of a bit reversal within bytes)."""
    return (T, K(bits), w.I64_SHR_U, K(mask), w.I64_AND,
            T, K(mask), w.I64_AND, K(bits), w.I64_SHL, w.I64_OR)


def _czero(on_nonzero: bool) -> Program:
    """czero.eqz/nez: 0 when rs2 is zero (eqz) or non-zero (nez), else rs1."""
    return (K(0), A, B, w.I64_EQZ, *((w.I32_EQZ,) if on_nonzero else ()), w.SELECT)


def _swap(bits: int, mask: int) -> Program:
    """Swap adjacent `bits`-wide fields of the saved value (one step of a byte reversal)."""
    return (T, K(bits), w.I64_ROTL, K(~mask), w.I64_AND,
            T, K(bits), w.I64_ROTR, K(mask), w.I64_AND, w.I64_OR)


PROGRAMS: dict[str, Program] = {
    # Zba
    "add.uw": (A, *ZEXT_W, B, w.I64_ADD),
    **{f"sh{n}add": _sh_add(n, False) for n in (1, 2, 3)},
    **{f"sh{n}add.uw": _sh_add(n, True) for n in (1, 2, 3)},
    "slli.uw": (A, *ZEXT_W, B, w.I64_SHL),
    # Zbb: logic with negate, counts, min/max, extensions, rotates, bytes
    "andn": (A, B, *NOT, w.I64_AND),
    "orn": (A, B, *NOT, w.I64_OR),
    "xnor": (A, B, w.I64_XOR, *NOT),
    "clz": (A, w.I64_CLZ),
    "ctz": (A, w.I64_CTZ),
    "cpop": (A, w.I64_POPCNT),
    "clzw": _count_w(w.I32_CLZ),
    "ctzw": _count_w(w.I32_CTZ),
    "cpopw": _count_w(w.I32_POPCNT),
    "max": _select(w.I64_GT_S),
    "maxu": _select(w.I64_GT_U),
    "min": _select(w.I64_LT_S),
    "minu": _select(w.I64_LT_U),
    "sext.b": (A, w.I64_EXTEND8_S),
    "sext.h": (A, w.I64_EXTEND16_S),
    "zext.h": (A, K(0xFFFF), w.I64_AND),
    "rol": (A, B, w.I64_ROTL),
    "ror": (A, B, w.I64_ROTR),
    "rori": (A, B, w.I64_ROTR),
    "rolw": _rotate_w(w.I32_ROTL),
    "rorw": _rotate_w(w.I32_ROTR),
    "roriw": _rotate_w(w.I32_ROTR),
    "orc.b": (A, K(LOW_7), w.I64_AND, K(LOW_7), w.I64_ADD, A, w.I64_OR, K(HIGH_BITS),
              w.I64_AND, K(7), w.I64_SHR_U, K(0xFF), w.I64_MUL),
    "rev8": (A, SAVE, *_swap(8, 0x00FF00FF00FF00FF), SAVE, *_swap(16, 0x0000FFFF0000FFFF),
             K(32), w.I64_ROTL),
    # Zbkb (rev8, rotates and the negated logic are Zbb's)
    "pack": (A, *ZEXT_W, B, K(32), w.I64_SHL, w.I64_OR),
    "packh": (A, K(0xFF), w.I64_AND, B, K(0xFF), w.I64_AND, K(8), w.I64_SHL, w.I64_OR),
    "packw": (A, K(0xFFFF), w.I64_AND, B, K(0xFFFF), w.I64_AND, K(16), w.I64_SHL, w.I64_OR,
              w.I32_WRAP_I64, w.I64_EXTEND_I32_S),
    "brev8": (A, SAVE, *_exchange(1, 0x5555555555555555), SAVE,
              *_exchange(2, 0x3333333333333333), SAVE, *_exchange(4, 0x0F0F0F0F0F0F0F0F)),
    # Zicond
    "czero.eqz": _czero(False),
    "czero.nez": _czero(True),
    # Zbs: single bits; the immediate forms run the same program with b = shamt
    **{name: (A, *BIT, *NOT, w.I64_AND) for name in ("bclr", "bclri")},
    **{name: (A, *BIT, w.I64_OR) for name in ("bset", "bseti")},
    **{name: (A, *BIT, w.I64_XOR) for name in ("binv", "binvi")},
    **{name: (A, B, w.I64_SHR_U, K(1), w.I64_AND) for name in ("bext", "bexti")},
}


def _run(e: Emitter, i: Instr, program: Program) -> None:
    """Emit a stack program; B is rs2 for register forms, the immediate for shift forms."""
    immediate = "shamt" in i.spec.operands
    scratch = e.temp() if SAVE in program else None
    for item in program:
        if item == A:
            e.x(i.rs1)
        elif item == B and immediate:
            e.imm(i.imm)
        elif item == B:
            e.x(i.rs2)
        elif item == SAVE:
            e.code.set(scratch)
        elif item == T:
            e.code.get(scratch)
        elif isinstance(item, K):
            e.code.i64_const(item.value)
        else:
            e.code.op(item)
    if scratch is not None:
        e.release((w.I64, scratch))


@semantic(*PROGRAMS)
def bitmanip(e: Emitter, i: Instr, pc: FieldValue) -> None:
    _run(e, i, PROGRAMS[i.name])
    e.set_x(i.rd)


# -- Zbc: carry-less multiplication --------------------------------------------------------

# name -> (reflected: walk rs2 from its top bit with rs1 moving right, extra final shift)
CLMUL = {"clmul": (False, 0), "clmulr": (True, 0), "clmulh": (True, 1)}


@semantic(*CLMUL)
def clmul(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """acc ^= a & (all ones if the current bit of b is set), shifting a and b each round.

    clmul takes b's bits from the bottom with a moving left (bit k of b adds a << k);
    clmulr takes them from the top with a moving right (bit 63-k adds a >> k). The loop
    stops once b has no bits left, so small multipliers are quick.
    """
    reflected, final_shift = CLMUL[i.name]
    a_shift, b_shift = (w.I64_SHR_U, w.I64_SHL) if reflected else (w.I64_SHL, w.I64_SHR_U)
    a, b, acc = e.temp(), e.temp(), e.temp()
    c = e.code
    e.x(i.rs1)
    c.set(a)
    e.x(i.rs2)
    c.set(b).i64_const(0).set(acc)
    c.block(w.BLOCK).block(w.LOOP)
    c.get(b).op(w.I64_EQZ).br(w.BR_IF, 1)
    c.get(acc).get(a).get(b)
    if not reflected:
        c.i64_const(63).op(w.I64_SHL)             # bit 0 to the sign bit
    c.i64_const(63).op(w.I64_SHR_S, w.I64_AND, w.I64_XOR).set(acc)
    c.get(a).i64_const(1).op(a_shift).set(a)
    c.get(b).i64_const(1).op(b_shift).set(b)
    c.br(w.BR, 0).op(w.END, w.END)
    c.get(acc)
    if final_shift:
        c.i64_const(final_shift).op(w.I64_SHR_U)
    e.set_x(i.rd)
    e.release((w.I64, a), (w.I64, b), (w.I64, acc))


# -- Zbkx: crossbar permutations -----------------------------------------------------------

XPERM = {"xperm4": 4, "xperm8": 8}          # name -> field width in bits


@semantic(*XPERM)
def xperm(e: Emitter, i: Instr, pc: FieldValue) -> None:
    """Each field of rs2 is an index into rs1's fields; the result's field is that one, or
    0 for an index past the last. A loop from rs2's top field down, shifting each result
    field in at the bottom."""
    width = XPERM[i.name]
    mask, fields = (1 << width) - 1, 64 // width
    a, b, acc, shift, index = e.temp(), e.temp(), e.temp(), e.temp(), e.temp()
    c = e.code
    e.x(i.rs1)
    c.set(a)
    e.x(i.rs2)
    c.set(b).i64_const(0).set(acc).i64_const(64).set(shift)
    c.block(w.LOOP)
    c.get(shift).i64_const(width).op(w.I64_SUB).set(shift)
    c.get(b).get(shift).op(w.I64_SHR_U).i64_const(mask).op(w.I64_AND).set(index)
    c.get(acc).i64_const(width).op(w.I64_SHL)
    c.get(a).get(index).i64_const(width).op(w.I64_MUL, w.I64_SHR_U).i64_const(mask)
    c.op(w.I64_AND).i64_const(0).get(index).i64_const(fields).op(w.I64_LT_U, w.SELECT)
    c.op(w.I64_OR).set(acc)
    c.get(shift).op(w.I32_WRAP_I64).br(w.BR_IF, 0).op(w.END)
    c.get(acc)
    e.set_x(i.rd)
    e.release((w.I64, a), (w.I64, b), (w.I64, acc), (w.I64, shift), (w.I64, index))
