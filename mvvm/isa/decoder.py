"""Decoding raw instruction bits into `Instr`, on the translator's hot path.

Every distinct raw value is decoded once and cached.  A cache miss does not scan the table:
rows are bucketed by opcode+funct3 (compressed: quadrant+funct3), built from TABLE and the RVC
forms at import, and a bucket holds only a few rows, most specific first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple, TypeVar

from mvvm.isa import rvc
from mvvm.isa.instr import InsnSpec, Instr
from mvvm.isa.table import BRANCH, STORE, STORE_FP, TABLE

_KEY32 = 0x707F  # opcode and funct3
_KEY16 = 0xE003  # quadrant and funct3
_RESERVED_RM = (5, 6)
_Row = TypeVar("_Row", InsnSpec, rvc.CForm)


def _keys(match: int, mask: int, key_mask: int) -> Iterator[int]:
    """Every bucket key a pattern can fall into: key bits outside its mask take all values."""
    free = [1 << b for b in range(key_mask.bit_length()) if (key_mask & ~mask) >> b & 1]
    for n in range(1 << len(free)):
        yield match & key_mask | sum(bit for i, bit in enumerate(free) if n >> i & 1)


def _buckets(rows: Iterable[_Row], key_mask: int) -> dict[int, tuple[_Row, ...]]:
    """Rows grouped by bucket key, the most specific mask first so special encodings win."""
    groups: dict[int, list[_Row]] = {}
    for row in rows:
        for key in _keys(row.match, row.mask, key_mask):
            groups.setdefault(key, []).append(row)
    return {k: tuple(sorted(v, key=lambda r: -r.mask.bit_count())) for k, v in groups.items()}


def _sext32(raw: int) -> int:
    return raw - ((raw & 0x80000000) << 1)


class Term(NamedTuple):
    """One piece of an immediate: ((raw, sign-extended if signed) >> shift & mask) << left."""

    signed: bool
    shift: int
    mask: int
    left: int = 0


# Each immediate format as the OR of its terms. The decoder evaluates them here and the
# interpreter emits them as wasm, so the bit layouts are written once.
IMM_TERMS: dict[str, tuple[Term, ...]] = {
    "i": (Term(True, 20, -1),),
    "s": (Term(True, 20, ~0x1F), Term(False, 7, 0x1F)),
    "b": (Term(True, 19, ~0xFFF), Term(False, 0, 0x80, 4), Term(False, 20, 0x7E0),
          Term(False, 7, 0x1E)),
    "j": (Term(True, 11, ~0xFFFFF), Term(False, 0, 0xFF000), Term(False, 9, 0x800),
          Term(False, 20, 0x7FE)),
    "u": (Term(True, 0, ~0xFFF),),
    "zimm": (Term(False, 15, 0x1F),),
}


def imm_terms(spec: InsnSpec) -> tuple[Term, ...]:
    """The terms of a row's immediate (none if it has no immediate)."""
    fmt = imm_format(spec)
    if fmt == "free":
        return (Term(False, 20, free_bits(spec)),)
    return IMM_TERMS[fmt] if fmt else ()


def _evaluate(terms: tuple[Term, ...], raw: int) -> int:
    value = 0
    for term in terms:
        value |= ((_sext32(raw) if term.signed else raw) >> term.shift & term.mask) << term.left
    return value


def imm_format(spec: InsnSpec) -> str | None:
    """How a row encodes `imm`: "u", "b", "j", "s" or "i"; "free" for the bits from 20 up
    that the row's mask leaves free (a shift amount, fence's fm/pred/succ); "zimm"; or None.
    The opcode fixes the format of an ordinary immediate."""
    tokens = set(spec.operands.split(","))
    opcode = spec.match & 0x7F
    if "upper" in tokens:
        return "u"
    if "target" in tokens:
        return "b" if opcode == BRANCH else "j"
    if "shamt" in tokens or "pred" in tokens:
        return "free"
    if "zimm" in tokens:
        return "zimm"
    if tokens & {"imm", "mem"}:
        return "s" if opcode in (STORE, STORE_FP) else "i"
    return None


def free_bits(spec: InsnSpec) -> int:
    """The bits of a "free" immediate, shifted down from bit 20."""
    return ~spec.mask >> 20 & 0xFFF


def _imm_reader(spec: InsnSpec) -> Callable[[int], int] | None:
    """How to read `imm` for a row."""
    terms = imm_terms(spec)
    return (lambda raw: _evaluate(terms, raw)) if terms else None


# Which Instr field an operand token fills, and the bit position of that register field.
# fli's constant index is no register, but it is a register field, decoded the same way.
REGISTERS = {"rd": ("rd", 7), "fd": ("rd", 7), "rs1": ("rs1", 15), "fs1": ("rs1", 15),
              "mem": ("rs1", 15), "amo": ("rs1", 15), "rs2": ("rs2", 20), "fs2": ("rs2", 20),
              "fs3": ("rs3", 27), "fli": ("rs1", 15)}


def _extractor(spec: InsnSpec) -> Callable[[int], Instr | None]:
    """Build the field extraction for one row, so a decode does no operand-string work."""
    tokens = set(spec.operands.split(","))
    registers = {REGISTERS[t] for t in tokens if t in REGISTERS}
    imm = _imm_reader(spec)
    has_csr, has_rm, has_aqrl = "csr" in tokens, "rm" in tokens, spec.ext == "A"

    def extract(raw: int) -> Instr | None:
        fields: dict[str, int | bool] = {name: raw >> shift & 0x1F for name, shift in registers}
        if imm is not None:
            fields["imm"] = imm(raw)
        if has_csr:
            fields["csr"] = raw >> 20
        if has_rm:
            fields["rm"] = rm = raw >> 12 & 7
            if rm in _RESERVED_RM:
                return None
        if has_aqrl:
            fields["aq"], fields["rl"] = bool(raw >> 26 & 1), bool(raw >> 25 & 1)
        return Instr(spec, raw, 4, **fields)

    return extract


_BY_NAME = {spec.name: spec for spec in TABLE}
_BASE_ROW = {form: _BY_NAME[form.base] for form in rvc.FORMS}  # every expansion names a row
_BUCKETS32 = _buckets(TABLE, _KEY32)
_BUCKETS16 = _buckets(rvc.FORMS, _KEY16)
_EXTRACT = {spec: _extractor(spec) for spec in TABLE}


def _decode32(raw: int) -> Instr | None:
    for spec in _BUCKETS32.get(raw & _KEY32, ()):
        if raw & spec.mask == spec.match:
            return _EXTRACT[spec](raw)
    return None


def compressed_form(raw: int) -> rvc.CForm | None:
    """The RVC form a 16-bit value belongs to (reserved encodings included), None if none."""
    for form in _BUCKETS16.get(raw & _KEY16, ()):
        if raw & form.mask == form.match:
            return form
    return None


def _decode16(raw: int) -> Instr | None:
    form = compressed_form(raw)
    return rvc.expand(form, _BASE_ROW[form], raw) if form else None


_cache: dict[int, Instr | None] = {}


def decode(raw: int) -> Instr | None:
    """Decode the instruction whose first 32 bits (little-endian, at pc) are `raw`.

    Only the low 16 bits count when the low two bits are not 0b11 (a compressed instruction).
    None means not an encoding in the table (reserved, illegal or unknown): the VM raises SIGILL.
    """
    key = raw & 0xFFFFFFFF if (raw & 3) == 3 else raw & 0xFFFF
    try:
        return _cache[key]
    except KeyError:
        instr = _cache[key] = _decode32(key) if (key & 3) == 3 else _decode16(key)
        return instr
