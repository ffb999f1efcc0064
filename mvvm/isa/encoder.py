"""Encoding instructions from the table's rows: the inverse of `mvvm.isa.decoder`.

The tests build their code from `TABLE` with this, so every row the table gains is a row the
tests can produce, with no hand-written encodings to fall out of step. The interpreter uses
it to turn each compressed instruction into the 32-bit word of its expansion.
"""

from __future__ import annotations

from mvvm.isa.decoder import REGISTERS, free_bits
from mvvm.isa.instr import InsnSpec, Instr, Operands
from mvvm.isa.table import BRANCH, STORE, STORE_FP, TABLE

BY_NAME: dict[str, InsnSpec] = {spec.name: spec for spec in TABLE}

Fields = Operands          # the operand values to encode, named as an Instr names them
NO_OPERANDS = Fields()


def tokens(spec: InsnSpec) -> list[str]:
    return [t for t in spec.operands.split(",") if t]


def _imm_i(imm: int) -> int:
    return (imm & 0xFFF) << 20


def _imm_s(imm: int) -> int:
    return (imm >> 5 & 0x7F) << 25 | (imm & 0x1F) << 7


def _imm_b(imm: int) -> int:
    return ((imm >> 12 & 1) << 31 | (imm >> 5 & 0x3F) << 25 | (imm >> 1 & 0xF) << 8
            | (imm >> 11 & 1) << 7)


def _imm_j(imm: int) -> int:
    return ((imm >> 20 & 1) << 31 | (imm >> 1 & 0x3FF) << 21 | (imm >> 11 & 1) << 20
            | (imm >> 12 & 0xFF) << 12)


def _immediate(spec: InsnSpec, toks: set[str], f: Fields) -> int:
    """The immediate's bits in the word; the opcode fixes the format, as in the decoder."""
    opcode = spec.match & 0x7F
    if "upper" in toks:
        return f.imm & 0xFFFFF000
    if "target" in toks:
        return _imm_b(f.imm) if opcode == BRANCH else _imm_j(f.imm)
    if "shamt" in toks or "pred" in toks:
        return (f.imm & free_bits(spec)) << 20
    if "zimm" in toks:
        return (f.imm & 0x1F) << 15
    if toks & {"imm", "mem"}:
        return _imm_s(f.imm) if opcode in (STORE, STORE_FP) else _imm_i(f.imm)
    return 0


def encode(spec: InsnSpec | str, fields: Fields = NO_OPERANDS) -> int:
    """The 32-bit word for a row and its operand values."""
    if isinstance(spec, str):
        spec = BY_NAME[spec]
    toks = set(tokens(spec))
    raw = spec.match | _immediate(spec, toks, fields)
    for token in toks & REGISTERS.keys():
        name, shift = REGISTERS[token]
        raw |= (getattr(fields, name) & 0x1F) << shift
    if "csr" in toks:
        raw |= (fields.csr & 0xFFF) << 20
    if "rm" in toks:
        raw |= (fields.rm & 7) << 12
    if spec.ext == "A":
        raw |= fields.aq << 26 | fields.rl << 25
    assert raw & spec.mask == spec.match, (spec.name, fields)
    return raw


def encode_instr(instr: Instr) -> int:
    """The 32-bit word of a decoded instruction (a compressed one: of its expansion)."""
    return encode(instr.spec, instr)


def asm(name: str, **fields: int) -> int:
    """Shorthand for hand-written sequences: asm("addi", rd=5, rs1=0, imm=1)."""
    return encode(BY_NAME[name], Fields(**fields))
