"""The RV64C compressed instructions, as a table of expansions into base instructions.

Each row is written the way the RVC chapter of the unprivileged spec draws it: a 16-bit pattern,
the base instruction it expands to, where each register comes from and how the immediate bits
are scattered.  Expanding (rather than giving compressed forms rows of their own) means the
translator only ever sees base instructions.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.isa.instr import InsnSpec, Instr


def _pattern(bits: str) -> tuple[int, int]:
    """Match and mask of a 16-character pattern of 0, 1 and - (spaces are for grouping)."""
    bits = bits.replace(" ", "")
    assert len(bits) == 16, bits
    match = int(bits.replace("-", "0"), 2)
    mask = int("".join("0" if b == "-" else "1" for b in bits), 2)
    return match, mask


def _bit_list(spec: str) -> list[int]:
    """Expand the spec's bit-list notation: "5:4|9:6|2" -> [5, 4, 9, 8, 7, 6, 2]."""
    out: list[int] = []
    for part in spec.split("|"):
        hi, _, lo = part.partition(":")
        out.extend(range(int(hi), int(lo or hi) - 1, -1))
    return out


def _scatter(layout: str) -> tuple[tuple[int, int], ...]:
    """Parse an immediate layout like "12=5 6:2=4:0" into (instruction bit, immediate bit) pairs.

    Each group names instruction bits (hi:lo) and, after '=', the immediate bits they carry,
    exactly as the spec's instruction format figures label them.
    """
    pairs: list[tuple[int, int]] = []
    for group in layout.split():
        source, _, dest = group.partition("=")
        pairs.extend(zip(_bit_list(source), _bit_list(dest), strict=True))
    return tuple(pairs)


# Register operand sources: a full 5-bit field at bits 11:7 or 6:2, or a 3-bit "prime" field
# (x8..x15) at bits 9:7 or 4:2; an int is a fixed register.
_REG_FIELDS = {"r7": (7, 0x1F, 0), "r2": (2, 0x1F, 0), "p7": (7, 0x7, 8), "p2": (2, 0x7, 8)}


@dataclass(frozen=True, slots=True)
class CForm:
    """One compressed form: its pattern, the base instruction and how to fill its fields.

    `imm` lists (instruction bit, immediate bit) pairs; `sign_bit` is the immediate bit to
    sign-extend from (None for unsigned offsets); `fixed_imm` is the immediate of a form
    that has no immediate bits of its own (c.zext.b is andi rd, rd, 255).  `nonzero` names
    the field ("rd", "rs1" or "imm") whose zero value makes the encoding reserved; HINT
    encodings are not reserved and expand like any other. `ext`: C, or the Zc* extension
    that added the form.
    """

    name: str
    match: int
    mask: int
    base: str
    rd: str | int = 0
    rs1: str | int = 0
    rs2: str | int = 0
    imm: tuple[tuple[int, int], ...] = ()
    sign_bit: int | None = None
    nonzero: str = ""
    fixed_imm: int = 0
    ext: str = "C"


def _c(name: str, pattern: str, base: str, rd: str | int = 0, rs1: str | int = 0,
       rs2: str | int = 0, imm: str = "", signed: bool = False, nonzero: str = "",
       fixed_imm: int = 0, ext: str = "C") -> CForm:
    match, mask = _pattern(pattern)
    pairs = _scatter(imm)
    sign_bit = max(dest for _, dest in pairs) if signed else None
    return CForm(name, match, mask, base, rd, rs1, rs2, pairs, sign_bit, nonzero, fixed_imm,
                 ext)


_LD = "12:10=5:3 6:5=7:6"  # c.ld, c.fld, c.sd, c.fsd
_LW = "12:10=5:3 6=2 5=6"  # c.lw, c.sw
_LDSP = "12=5 6:2=4:3|8:6"  # c.ldsp, c.fldsp
_SDSP = "12:7=5:3|8:6"  # c.sdsp, c.fsdsp
_CI = "12=5 6:2=4:0"  # the 6-bit immediate of c.addi, c.li, c.andi and the shifts
_BRANCH = "12:10=8|4:3 6:2=7:6|2:1|5"

FORMS: tuple[CForm, ...] = (
    # Quadrant 0
    _c("c.addi4spn", "000 -------- --- 00", "addi", rd="p2", rs1=2, imm="12:5=5:4|9:6|2|3",
       nonzero="imm"),
    _c("c.fld", "001 --- --- -- --- 00", "fld", rd="p2", rs1="p7", imm=_LD),
    _c("c.lw", "010 --- --- -- --- 00", "lw", rd="p2", rs1="p7", imm=_LW),
    _c("c.ld", "011 --- --- -- --- 00", "ld", rd="p2", rs1="p7", imm=_LD),
    _c("c.fsd", "101 --- --- -- --- 00", "fsd", rs2="p2", rs1="p7", imm=_LD),
    _c("c.sw", "110 --- --- -- --- 00", "sw", rs2="p2", rs1="p7", imm=_LW),
    _c("c.sd", "111 --- --- -- --- 00", "sd", rs2="p2", rs1="p7", imm=_LD),
    # Zcb: byte and halfword loads and stores
    _c("c.lbu", "100 000 --- -- --- 00", "lbu", rd="p2", rs1="p7", imm="6=0 5=1", ext="Zcb"),
    _c("c.lhu", "100 001 --- 0 - --- 00", "lhu", rd="p2", rs1="p7", imm="5=1", ext="Zcb"),
    _c("c.lh", "100 001 --- 1 - --- 00", "lh", rd="p2", rs1="p7", imm="5=1", ext="Zcb"),
    _c("c.sb", "100 010 --- -- --- 00", "sb", rs2="p2", rs1="p7", imm="6=0 5=1", ext="Zcb"),
    _c("c.sh", "100 011 --- 0 - --- 00", "sh", rs2="p2", rs1="p7", imm="5=1", ext="Zcb"),
    # Quadrant 1
    _c("c.addi", "000 - ----- ----- 01", "addi", rd="r7", rs1="r7", imm=_CI, signed=True),
    _c("c.addiw", "001 - ----- ----- 01", "addiw", rd="r7", rs1="r7", imm=_CI, signed=True,
       nonzero="rd"),
    _c("c.li", "010 - ----- ----- 01", "addi", rd="r7", imm=_CI, signed=True),
    _c("c.addi16sp", "011 - 00010 ----- 01", "addi", rd=2, rs1=2, imm="12=9 6:2=4|6|8:7|5",
       signed=True, nonzero="imm"),
    _c("c.lui", "011 - ----- ----- 01", "lui", rd="r7", imm="12=17 6:2=16:12", signed=True,
       nonzero="imm"),
    _c("c.srli", "100 - 00 --- ----- 01", "srli", rd="p7", rs1="p7", imm=_CI),
    _c("c.srai", "100 - 01 --- ----- 01", "srai", rd="p7", rs1="p7", imm=_CI),
    _c("c.andi", "100 - 10 --- ----- 01", "andi", rd="p7", rs1="p7", imm=_CI, signed=True),
    _c("c.sub", "100 0 11 --- 00 --- 01", "sub", rd="p7", rs1="p7", rs2="p2"),
    _c("c.xor", "100 0 11 --- 01 --- 01", "xor", rd="p7", rs1="p7", rs2="p2"),
    _c("c.or", "100 0 11 --- 10 --- 01", "or", rd="p7", rs1="p7", rs2="p2"),
    _c("c.and", "100 0 11 --- 11 --- 01", "and", rd="p7", rs1="p7", rs2="p2"),
    _c("c.subw", "100 1 11 --- 00 --- 01", "subw", rd="p7", rs1="p7", rs2="p2"),
    _c("c.addw", "100 1 11 --- 01 --- 01", "addw", rd="p7", rs1="p7", rs2="p2"),
    # Zcb: extensions, not and mul on rd'
    _c("c.mul", "100 1 11 --- 10 --- 01", "mul", rd="p7", rs1="p7", rs2="p2", ext="Zcb"),
    _c("c.zext.b", "100 1 11 --- 11 000 01", "andi", rd="p7", rs1="p7", fixed_imm=255, ext="Zcb"),
    _c("c.sext.b", "100 1 11 --- 11 001 01", "sext.b", rd="p7", rs1="p7", ext="Zcb"),
    _c("c.zext.h", "100 1 11 --- 11 010 01", "zext.h", rd="p7", rs1="p7", ext="Zcb"),
    _c("c.sext.h", "100 1 11 --- 11 011 01", "sext.h", rd="p7", rs1="p7", ext="Zcb"),
    _c("c.zext.w", "100 1 11 --- 11 100 01", "add.uw", rd="p7", rs1="p7", ext="Zcb"),
    _c("c.not", "100 1 11 --- 11 101 01", "xori", rd="p7", rs1="p7", fixed_imm=-1, ext="Zcb"),
    # Zcmop: c.lui's reserved encodings with an odd rd below x16 (and nzimm 0) are
    # may-be-operations that write no register: a nop
    *(_c(f"c.mop.{n}", f"011 0 {n:05b} 00000 01", "addi", ext="Zcmop")
      for n in range(1, 16, 2)),
    _c("c.j", "101 ----------- 01", "jal", imm="12:2=11|4|9:8|10|6|7|3:1|5", signed=True),
    _c("c.beqz", "110 --- --- ----- 01", "beq", rs1="p7", imm=_BRANCH, signed=True),
    _c("c.bnez", "111 --- --- ----- 01", "bne", rs1="p7", imm=_BRANCH, signed=True),
    # Quadrant 2
    _c("c.slli", "000 - ----- ----- 10", "slli", rd="r7", rs1="r7", imm=_CI),
    _c("c.fldsp", "001 - ----- ----- 10", "fld", rd="r7", rs1=2, imm=_LDSP),
    _c("c.lwsp", "010 - ----- ----- 10", "lw", rd="r7", rs1=2, imm="12=5 6:2=4:2|7:6",
       nonzero="rd"),
    _c("c.ldsp", "011 - ----- ----- 10", "ld", rd="r7", rs1=2, imm=_LDSP, nonzero="rd"),
    _c("c.jr", "100 0 ----- 00000 10", "jalr", rs1="r7", nonzero="rs1"),
    _c("c.mv", "100 0 ----- ----- 10", "add", rd="r7", rs2="r2"),
    _c("c.ebreak", "100 1 00000 00000 10", "ebreak"),
    _c("c.jalr", "100 1 ----- 00000 10", "jalr", rd=1, rs1="r7"),
    _c("c.add", "100 1 ----- ----- 10", "add", rd="r7", rs1="r7", rs2="r2"),
    _c("c.fsdsp", "101 ------ ----- 10", "fsd", rs1=2, rs2="r2", imm=_SDSP),
    _c("c.swsp", "110 ------ ----- 10", "sw", rs1=2, rs2="r2", imm="12:7=5:2|7:6"),
    _c("c.sdsp", "111 ------ ----- 10", "sd", rs1=2, rs2="r2", imm=_SDSP),
)


def _register(source: str | int, raw: int) -> int:
    if isinstance(source, int):
        return source
    shift, mask, base = _REG_FIELDS[source]
    return base + (raw >> shift & mask)


def _immediate(form: CForm, raw: int) -> int:
    value = form.fixed_imm
    for source, dest in form.imm:
        value |= (raw >> source & 1) << dest
    if form.sign_bit is not None:
        value -= (value >> form.sign_bit & 1) << (form.sign_bit + 1)
    return value


def expand(form: CForm, spec: InsnSpec, raw: int) -> Instr | None:
    """The base instruction `raw` stands for, or None if it is a reserved encoding of `form`."""
    fields = {"rd": _register(form.rd, raw), "rs1": _register(form.rs1, raw),
              "rs2": _register(form.rs2, raw), "imm": _immediate(form, raw)}
    if form.nonzero and fields[form.nonzero] == 0:
        return None
    return Instr(spec, raw, 2, **fields)
