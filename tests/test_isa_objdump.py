"""The decoder and the disassembler checked against GNU objdump on real and generated code.

objdump is the reference for both: every line it disassembles must decode and print the
same (targets without objdump's `<symbol>` and `# address` annotations), and every line it
cannot decode must decode to None, except where binutils 2.40 and the spec disagree (below).
One objdump run per test keeps this to a few seconds.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from toolchain import BUILD, build  # noqa: E402

from mvvm.isa import TABLE, decode, disasm  # noqa: E402
from mvvm.isa.decoder import compressed_form  # noqa: E402
from mvvm.isa.rvc import FORMS  # noqa: E402

ISA = Path(__file__).parent / "isa"
ARCH = "-march=rv64gc_zba_zbb_zbs_zbc_zbkb_zbkx_zicbom_zicboz_zfh"
OBJDUMP = "riscv64-linux-gnu-objdump"

# Spec-valid encodings binutils 2.40 prints as .4byte: fields the spec says to ignore (fence
# and fence.i with rd/rs1/fm bits set), any rounding mode on the exact conversions; and the
# extensions it predates.
OBJDUMP_REJECTS = {"fence", "fence.i", "fcvt.d.w", "fcvt.d.wu", "fcvt.d.s", "fcvt.s.h",
                   "fcvt.d.h"}
BINUTILS_LACKS = {"Zicond", "Zimop", "Zawrs", "Zcb", "Zcmop", "Zfa"}
# Reserved encodings objdump prints anyway: c.addi16sp with nzimm=0 ("add sp,sp,0").
OBJDUMP_ACCEPTS = {0x6101}

_LINE = re.compile(r"\s*([0-9a-f]+):\t([0-9a-f]+)\s+\t(\S+)(?:\t(.*))?$")
_ANNOTATION = re.compile(r"\s*(<.*>|#.*)$")


@dataclass(frozen=True)
class Line:
    """One instruction line of objdump's output."""

    pc: int
    raw: int
    mnemonic: str
    operands: str

    @property
    def text(self) -> str:
        return f"{self.mnemonic}\t{self.operands}" if self.operands else self.mnemonic

    @property
    def undecodable(self) -> bool:
        """objdump shows data, an operand it has no name for, or the all-zero c.unimp."""
        return (self.mnemonic.startswith(".") or "unknown" in self.operands.split(",")
                or (self.mnemonic == "unimp" and self.raw == 0))


def objdump(binary: Path) -> list[Line]:
    out = subprocess.run([OBJDUMP, "-d", str(binary)], check=True, capture_output=True,
                         text=True).stdout
    return [Line(int(m[1], 16), int(m[2], 16), m[3], _ANNOTATION.sub("", m[4] or ""))
            for m in map(_LINE.match, out.splitlines()) if m]


def disagreements(lines: list[Line]) -> list[str]:
    """Every line where decode/disasm and objdump disagree, as readable messages."""
    problems = []
    for line in lines:
        instr = decode(line.raw)
        where = f"{line.pc:x}: {line.raw:x}: objdump {line.text!r}"
        if instr is None:
            if not line.undecodable and line.raw not in OBJDUMP_ACCEPTS:
                problems.append(f"{where}, decode() is None")
        elif line.undecodable:
            if not _objdump_lacks(instr):
                problems.append(f"{where}, decoded as {instr.name}")
        elif (got := disasm(instr, line.pc)) != line.text:
            problems.append(f"{where}, disasm {got!r}")
    return problems


def _objdump_lacks(instr) -> bool:
    """Whether binutils 2.40 cannot show this spec-valid instruction."""
    if instr.length == 2:
        return compressed_form(instr.raw).ext in BINUTILS_LACKS
    return instr.name in OBJDUMP_REJECTS or instr.spec.ext in BINUTILS_LACKS


def assemble(name: str, directives: list[str]) -> Path:
    """An object file of generated `.insn` lines (no linking, so no relocation surprises)."""
    BUILD.mkdir(exist_ok=True)
    source = BUILD / f"{name}.S"
    text = "\n".join([".text", *directives, ""])
    if not source.exists() or source.read_text() != text:
        source.write_text(text)
    return build(source, ("-c", ARCH))


def test_static_glibc_program() -> None:
    lines = objdump(build(ISA / "hello.c", ("-O2", "-static")))
    assert len(lines) > 50_000
    assert disagreements(lines)[:20] == []


def test_every_table_row_and_compressed_form() -> None:
    lines = objdump(build(ISA / "all.S", ("-c", ARCH)))
    assert disagreements(lines)[:20] == []
    decoded = [decode(line.raw) for line in lines]
    assert {spec.name for spec in TABLE} <= {i.name for i in decoded if i}
    forms = {compressed_form(line.raw) for line in lines if line.raw & 3 != 3}
    assert {f.name for f in FORMS} <= {f.name for f in forms if f}


def test_all_16_bit_encodings() -> None:
    values = [v for v in range(0x10000) if v & 3 != 3]
    lines = objdump(assemble("isa_rvc_all", [f".insn 2, {v:#x}" for v in values]))
    assert [line.raw for line in lines] == values
    assert disagreements(lines)[:20] == []


# Field values that trigger objdump's aliases (x0 and ra operands, imm 0/1/-1/255, the
# float CSRs and counters), mixed into random encodings: (bit mask, value) pairs.
_SPECIAL_FIELDS = (
    [(0x1F << shift, reg << shift) for shift in (7, 15, 20) for reg in (0, 1)]
    + [(0xFFF << 20, imm % 4096 << 20) for imm in (0, 1, 2, 3, -1, 255, 0xC00, 0xC01, 0xC02)]
    + [(0x7 << 12, 7 << 12)]
)


def _random_words(rng: random.Random, per_row: int) -> list[int]:
    """Encodings of every row with random operand bits, some of them set to special values."""
    words = []
    for spec in TABLE:
        for _ in range(per_row):
            word = rng.getrandbits(32)
            for mask, value in rng.sample(_SPECIAL_FIELDS, 3):
                word = word & ~mask | value
            if rng.random() < 0.2:  # rs2 = rs1, for fmv/fneg/fabs
                word = word & ~(0x1F << 20) | (word >> 15 & 0x1F) << 20
            words.append(word & ~spec.mask | spec.match)
    return words


def test_random_32_bit_encodings() -> None:
    rng = random.Random(20240601)
    words = _random_words(rng, 40)
    words += [w for w in (rng.getrandbits(32) | 3 for _ in range(4000)) if w & 0x1C != 0x1C]
    lines = objdump(assemble("isa_random", [f".insn 4, {w:#x}" for w in words]))
    assert [line.raw for line in lines] == words
    assert disagreements(lines)[:20] == []


# Zfa as binutils 2.41 and later print it (2.40 here predates Zfa): fli's operand is "min",
# "inf", "nan" or the value in C's %a format; fcvtmod.w.d's fixed mode is shown; the
# rounding mode of fround/froundnx is left out when it is dyn. Checked by hand against
# binutils' riscv-opc.c and riscv-dis.c.
ZFA_TEXT = [
    (0xF0100553, "fli.s\tfa0,-0x1p+0"), (0xF2108553, "fli.d\tfa0,min"),
    (0xF4110553, "fli.h\tfa0,0x1p-16"), (0xF0148553, "fli.s\tfa0,0x1.4p-2"),
    (0xF21B0553, "fli.d\tfa0,0x1.8p+1"), (0xF41E8553, "fli.h\tfa0,0x1p+16"),
    (0xF01F0553, "fli.s\tfa0,inf"), (0xF21F8553, "fli.d\tfa0,nan"),
    (0x2CC5A553, "fminm.h\tfa0,fa1,fa2"), (0x28C5B553, "fmaxm.s\tfa0,fa1,fa2"),
    (0x4245F553, "fround.d\tfa0,fa1"), (0x4055C553, "froundnx.s\tfa0,fa1,rmm"),
    (0x44559553, "froundnx.h\tfa0,fa1,rtz"), (0xA2C5C553, "fleq.d\ta0,fa1,fa2"),
    (0xA0C5D553, "fltq.s\ta0,fa1,fa2"), (0xC2859553, "fcvtmod.w.d\ta0,fa1,rtz"),
]
# RV32-only Zfa (fmvh.x.d, fmvp.d.x), fcvtmod.w.d in any mode but rtz, and the reserved
# fmt 3 (Q, not implemented): illegal on this RV64.
ZFA_ILLEGAL = [0xE2158553, 0xB2C58553, 0xC2858553, 0xC285F553, 0xF6100553, 0x2EC5A553]


def test_zfa_disassembly() -> None:
    assert [disasm(decode(raw), 0) for raw, _ in ZFA_TEXT] == [text for _, text in ZFA_TEXT]
    assert [decode(raw) for raw in ZFA_ILLEGAL] == [None] * len(ZFA_ILLEGAL)
