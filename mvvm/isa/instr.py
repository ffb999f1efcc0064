"""The value types shared by the instruction table, the decoder and the disassembler.

They live apart from the table so that the translator can import the types without
pulling in the table-building code, and so that the table module reads as data.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Flow(enum.Enum):
    """How control leaves an instruction; the translator ends a basic block on anything but NEXT."""

    NEXT = 0  # falls through to pc+length (includes ecall, csr ops, fences, loads/stores)
    BRANCH = 1  # conditional branch: target pc+imm, else fall through
    JAL = 2  # jal: target pc+imm, rd = link
    JALR = 3  # jalr: target (rs1+imm)&~1, rd = link
    TRAP = 4  # ebreak (never falls through); ecall is NEXT


@dataclass(frozen=True, slots=True)
class InsnSpec:
    """One row of the instruction table: the encoding pattern plus what decoding and printing need.

    `operands` is a comma separated list of operand tokens (see `mvvm.isa.table`); it tells the
    decoder which fields to extract and the disassembler how to print them.
    """

    name: str
    ext: str
    match: int
    mask: int
    operands: str
    flow: Flow


@dataclass(frozen=True, slots=True, kw_only=True)
class Operands:
    """The operand fields of an instruction, as the decoder fills them and the encoder reads
    them (mvvm.isa.encoder). Fields the instruction does not use stay 0."""

    rd: int = 0
    rs1: int = 0
    rs2: int = 0
    rs3: int = 0
    imm: int = 0
    csr: int = 0
    rm: int = 0
    aq: bool = False
    rl: bool = False


@dataclass(frozen=True, slots=True)
class Instr(Operands):
    """One decoded instruction: a table row and its operands.

    It depends on the raw bits only (never on the pc), so the decoder can cache it by raw value.
    Compressed instructions are expanded: `spec` is the row of the base instruction, `length`
    is 2 and `raw` keeps the 16-bit value.
    """

    spec: InsnSpec
    raw: int
    length: int

    @property
    def name(self) -> str:
        return self.spec.name
