"""Disassembly in the style of GNU objdump (binutils 2.40, `objdump -d`, aliases on).

An instruction prints as its row's mnemonic and operand tokens, unless a rule of `ALIASES`
applies: the rules restate the alias choices objdump makes (li, mv, ret, csrr, fmv.d, ...),
in objdump's order of preference, as conditions on the decoded fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mvvm.isa.csr import csr_name
from mvvm.isa.decoder import compressed_form
from mvvm.isa.instr import Instr
from mvvm.isa.table import TABLE
from mvvm.runtime.fp_soft import FLI

XREGS = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4",
    "a5", "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4",
    "t5", "t6",
)
FREGS = (
    "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2",
    "fa3", "fa4", "fa5", "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9",
    "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
)
ROUNDING = ("rne", "rtz", "rdn", "rup", "rmm", "unknown", "unknown", "dyn")
_MASK64 = (1 << 64) - 1


# fli's operand as binutils (2.41 on) prints it: a name, or the value in C's %a format.
_FLI_NAMES = {1: "min", 30: "inf", 31: "nan"}


def _fli_constant(index: int) -> str:
    if index in _FLI_NAMES:
        return _FLI_NAMES[index]
    value = FLI[index]
    assert value is not None
    mantissa, _, exponent = value.hex().partition("p")      # e.g. -0x1.4000000000000
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{'' if exponent.startswith('-') else '+'}{exponent.lstrip('+')}"


def _fence_set(bits: int) -> str:
    return "".join(c for c, b in zip("iorw", (8, 4, 2, 1), strict=True) if bits & b) or "unknown"


_Format = Callable[[Instr, int], str]

# How each operand token prints; `pc` only matters for pc-relative targets.
_OPERANDS: dict[str, _Format] = {
    "rd": lambda i, pc: XREGS[i.rd],
    "rs1": lambda i, pc: XREGS[i.rs1],
    "rs2": lambda i, pc: XREGS[i.rs2],
    "fd": lambda i, pc: FREGS[i.rd],
    "fs1": lambda i, pc: FREGS[i.rs1],
    "fs2": lambda i, pc: FREGS[i.rs2],
    "fs3": lambda i, pc: FREGS[i.rs3],
    "imm": lambda i, pc: str(i.imm),
    "shamt": lambda i, pc: hex(i.imm),
    "mem": lambda i, pc: f"{i.imm}({XREGS[i.rs1]})",
    "amo": lambda i, pc: f"({XREGS[i.rs1]})",
    "target": lambda i, pc: f"{(pc + i.imm) & _MASK64:x}",
    "upper": lambda i, pc: hex(i.imm >> 12 & 0xFFFFF),
    "csr": lambda i, pc: csr_name(i.csr),
    "zimm": lambda i, pc: str(i.imm),
    "rm": lambda i, pc: ROUNDING[i.rm],
    "rtz": lambda i, pc: "rtz",
    "fli": lambda i, pc: _fli_constant(i.rs1),
    "pred": lambda i, pc: _fence_set(i.imm >> 4 & 0xF),
    "succ": lambda i, pc: _fence_set(i.imm & 0xF),
}


@dataclass(frozen=True, slots=True)
class Alias:
    """Print instructions of row `base` as `mnemonic operands` when every condition holds.

    A condition is (field, value): the field (an Instr field, or "form", the compressed form
    the instruction was written as, "" for 32-bit ones) must equal the value; a value naming
    a register field (rd, rs1, rs2) means that field's value.
    """

    base: str
    mnemonic: str
    operands: str
    when: tuple[tuple[str, int | str], ...]

    def applies(self, instr: Instr) -> bool:
        return all(_field(instr, name) == _expected(instr, value) for name, value in self.when)


_REGISTER_FIELDS = ("rd", "rs1", "rs2")


def _field(instr: Instr, name: str) -> int | str:
    if name == "form":
        form = compressed_form(instr.raw) if instr.length == 2 else None
        return form.name if form else ""
    return getattr(instr, name)


def _expected(instr: Instr, value: int | str) -> int | str:
    return _field(instr, value) if isinstance(value, str) and value in _REGISTER_FIELDS else value


# objdump's alias choices, in its order of preference for each base instruction.  Columns: the
# base row, the printed mnemonic, its operands ("=": the base row's, "-": none) and the
# conditions as field=value.  Lines starting with # are comments.
_ALIAS_TABLE = """
# Renames such as addi -> add, slli -> sll, csrrsi -> csrrs are how binutils 2.40 prints the
# immediate forms: its opcode table lists those assembler aliases before the real rows.
# Compressed HINTs and a few compressed forms print with their c. names ("form" conditions).
addi      c.li       rd,imm         form=c.li rd=0
addi      nop        -              rd=0 rs1=0 imm=0
addi      c.nop      imm            form=c.addi rd=0
addi      li         rd,imm         rs1=0
addi      add        =              form=c.addi
addi      mv         rd,rs1         imm=0
addi      add        =
addiw     sext.w     rd,rs1         imm=0
addiw     addw       =
xori      not        rd,rs1         imm=-1
xori      xor        =
andi      zext.b     rd,rs1         imm=255
andi      and        =
ori       or         =
sltiu     seqz       rd,rs1         imm=1
slli      c.slli64   rd             form=c.slli imm=0
slli      c.slli     rd,shamt       form=c.slli rd=0
slli      sll        =
srli      c.srli64   rd             form=c.srli imm=0
srli      srl        =
srai      c.srai64   rd             form=c.srai imm=0
srai      sra        =
slliw     sllw       =
srliw     srlw       =
sraiw     sraw       =
rori      ror        =
roriw     rorw       =
bclri     bclr       =
bexti     bext       =
binvi     binv       =
bseti     bset       =
lui       c.lui      rd,upper       form=c.lui rd=0
add       c.mv       rd,rs2         form=c.mv rd=0
add       mv         rd,rs2         form=c.mv
add       c.add      rd,rs2         form=c.add rd=0
sub       neg        rd,rs2         rs1=0
subw      negw       rd,rs2         rs1=0
sltu      snez       rd,rs2         rs1=0
slt       sltz       rd,rs1         rs2=0
slt       sgtz       rd,rs2         rs1=0
add.uw    zext.w     rd,rs1         rs2=0
beq       beqz       rs1,target     rs2=0
bne       bnez       rs1,target     rs2=0
bge       blez       rs2,target     rs1=0
bge       bgez       rs1,target     rs2=0
blt       bltz       rs1,target     rs2=0
blt       bgtz       rs2,target     rs1=0
jal       j          target         rd=0
jal       jal        target         rd=1
jalr      ret        -              rd=0 rs1=1 imm=0
jalr      jr         rs1            rd=0 imm=0
jalr      jr         mem            rd=0
jalr      jalr       rs1            rd=1 imm=0
jalr      jalr       mem            rd=1
jalr      jalr       rd,rs1         imm=0
fsgnj.s   fmv.s      fd,fs1         rs2=rs1
fsgnjn.s  fneg.s     fd,fs1         rs2=rs1
fsgnjx.s  fabs.s     fd,fs1         rs2=rs1
fsgnj.d   fmv.d      fd,fs1         rs2=rs1
fsgnjn.d  fneg.d     fd,fs1         rs2=rs1
fsgnjx.d  fabs.d     fd,fs1         rs2=rs1
fsgnj.h   fmv.h      fd,fs1         rs2=rs1
fsgnjn.h  fneg.h     fd,fs1         rs2=rs1
fsgnjx.h  fabs.h     fd,fs1         rs2=rs1
# objdump shows no rounding mode on the exact conversions (it only decodes them with rm=0).
fcvt.d.w  fcvt.d.w   fd,rs1
fcvt.d.wu fcvt.d.wu  fd,rs1
fcvt.d.s  fcvt.d.s   fd,fs1
fcvt.s.h  fcvt.s.h   fd,fs1
fcvt.d.h  fcvt.d.h   fd,fs1
fence     fence      -              imm=255
fence     fence.tso  -              imm=0x833
# csrrw zero,cycle,zero is the canonical 32-bit illegal instruction.
csrrw     unimp      -              csr=0xc00 rd=0 rs1=0
csrrs     rdcycle    rd             csr=0xc00 rs1=0
csrrs     rdtime     rd             csr=0xc01 rs1=0
csrrs     rdinstret  rd             csr=0xc02 rs1=0
csrrs     frflags    rd             csr=1 rs1=0
csrrs     frrm       rd             csr=2 rs1=0
csrrs     frcsr      rd             csr=3 rs1=0
csrrs     csrr       rd,csr         rs1=0
csrrs     csrs       csr,rs1        rd=0
csrrw     fsflags    rs1            csr=1 rd=0
csrrw     fsflags    rd,rs1         csr=1
csrrw     fsrm       rs1            csr=2 rd=0
csrrw     fsrm       rd,rs1         csr=2
csrrw     fscsr      rs1            csr=3 rd=0
csrrw     fscsr      rd,rs1         csr=3
csrrw     csrw       csr,rs1        rd=0
csrrc     csrc       csr,rs1        rd=0
csrrwi    fsflagsi   rd,zimm        csr=1
csrrwi    fsrmi      rd,zimm        csr=2
csrrwi    csrw       csr,zimm       rd=0
csrrwi    csrrw      =
csrrsi    csrs       csr,zimm       rd=0
csrrsi    csrrs      =
csrrci    csrc       csr,zimm       rd=0
csrrci    csrrc      =
"""


def _condition(text: str) -> tuple[str, int | str]:
    name, _, value = text.partition("=")
    return name, value if value in _REGISTER_FIELDS or name == "form" else int(value, 0)


def _parse(table: str) -> dict[str, tuple[Alias, ...]]:
    """The alias rules grouped by base row, in table order."""
    by_base: dict[str, tuple[Alias, ...]] = {}
    operands = {spec.name: spec.operands for spec in TABLE}
    for line in table.strip().splitlines():
        if line.startswith("#"):
            continue
        base, mnemonic, ops, *when = line.split()
        ops = {"=": operands[base], "-": ""}.get(ops, ops)
        alias = Alias(base, mnemonic, ops, tuple(map(_condition, when)))
        by_base[base] = (*by_base.get(base, ()), alias)
    return by_base


ALIASES = _parse(_ALIAS_TABLE)


def _suffix(instr: Instr) -> str:
    """The .aq/.rl/.aqrl ordering suffix objdump appends to atomics."""
    return "." * (instr.aq or instr.rl) + "aq" * instr.aq + "rl" * instr.rl


def _render(mnemonic: str, operands: str, instr: Instr, pc: int) -> str:
    tokens = [t for t in operands.split(",") if t and not (t == "rm" and instr.rm == 7)]
    text = ",".join(_OPERANDS[t](instr, pc) for t in tokens)
    return f"{mnemonic}\t{text}" if text else mnemonic


def disasm(instr: Instr, pc: int) -> str:
    """Objdump's text for `instr` at `pc`: "mnemonic<TAB>operands" (targets in hex, no symbol)."""
    for alias in ALIASES.get(instr.spec.name, ()):
        if alias.applies(instr):
            return _render(alias.mnemonic, alias.operands, instr, pc)
    return _render(instr.spec.name + _suffix(instr), instr.spec.operands, instr, pc)
