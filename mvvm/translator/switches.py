"""Jump tables read at translation time: a switch's dispatch on the case number itself.

gcc compiles a dense switch to a table of 32-bit offsets from the table's address rB:

    slli rX, rI, 2 ; add rX, rX, rB        (Zba: sh2add rX, rI, rB)
    lw   rX, off(rX) ; add rX, rX, rB ; jalr x0, imm(rX)

and hoists rB's `lla` (auipc + addi) out of the loop around it, so a region of the loop
does not know rB. The code just before the pattern usually does: the nearest
`auipc rB; addi rB, rB, lo` whose table holds every target the profile saw gives the
table's address K, and a region that reads the table then branches on rI with a br_table
of its own (where x[rB] is K and rI indexes what was read), without the table load and the
two adds before it: a load-to-jump chain of one load instead of three (interp's bench). The
region checks x[rB] at run time. All of it is read from memory no guest store can change
(emit_region's read_only: executable and not writable), and the table's bytes join the code
the region depends on (RegionCode.code_ranges): an mprotect that makes them writable drops
the region, and the disk cache checks them as it checks its code.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NamedTuple

from mvvm.isa import Flow, Instr, decode
from mvvm.translator.region import Block, Fetch, is_return

WINDOW = 1024           # bytes before the pattern searched for rB's lla
MOST_ENTRIES = 1024     # the longest table read
ZERO_EXTENDING = frozenset({"lbu", "lhu", "lwu", "zext.h"})    # to below 2**32, at most


class KnownTable(NamedTuple):
    """A jump through a table the translator read. `targets[i]` is where index i goes, or
    None where the sum is odd (jalr's clearing of bit 0 would make x[rX] differ from the
    target less the jalr's immediate)."""

    start: int                      # the pc of the pattern's first instruction
    index: int                      # rI
    base: int                       # rB
    link: int                       # rX, which holds target - imm after the jump
    imm: int                        # the jalr's immediate
    address: int                    # K, rB's value that the table was read for
    targets: tuple[int | None, ...]
    span: tuple[int, int]           # [start, end) of the table entries read
    narrow: bool                    # rI is below 2**32 at the pattern (`_narrow`)


class _Pattern(NamedTuple):
    start: int
    index: int
    base: int
    link: int
    offset: int                     # the lw's
    imm: int
    narrow: bool


def candidates(block: Block, read_only: Fetch) -> list[KnownTable]:
    """The tables the block's closing jump may go through, if the pattern is there: one
    for each `lla` of rB before it, nearest first. The one to take holds every target the
    profile saw (`holding`)."""
    pattern = _match(block.instrs)
    if pattern is None:
        return []
    tables = (_read(read_only, pattern, address)
              for address in _lla_values(read_only, pattern.start, pattern.base))
    return [table for table in tables if table is not None]


def holding(tables: list[KnownTable], targets: Collection[int]) -> KnownTable | None:
    """The first of tables whose targets include all of these."""
    return next((table for table in tables if set(targets) <= set(table.targets)), None)


def _match(instrs: list[tuple[int, Instr | None]]) -> _Pattern | None:
    """The pattern at the end of a block's instructions (see the module's docstring)."""
    tail = [instr for _, instr in instrs[-5:]]
    if len(tail) < 4 or None in tail[-4:]:
        return None
    jump, add, load, scale = tail[-1], tail[-2], tail[-3], tail[-4]
    assert jump is not None and add is not None and load is not None and scale is not None
    link = jump.rs1
    if (jump.spec.flow is not Flow.JALR or jump.rd != 0 or is_return(jump)
            or load.name != "lw" or load.rd != link or load.rs1 != link):
        return None
    base = _other_addend(add, link)
    if base is None:
        return None
    if scale.name == "sh2add" and scale.rd == link and scale.rs2 == base != scale.rs1:
        return _Pattern(instrs[-4][0], scale.rs1, base, link, load.imm, jump.imm,
                        _narrow(instrs[:-4], scale.rs1))
    shift = tail[0] if len(tail) == 5 else None
    if (_other_addend(scale, link) == base and shift is not None and shift.name == "slli"
            and shift.rd == link and shift.imm == 2 and shift.rs1 != base):
        return _Pattern(instrs[-5][0], shift.rs1, base, link, load.imm, jump.imm,
                        _narrow(instrs[:-5], shift.rs1))
    return None


def _narrow(before: list[tuple[int, Instr | None]], reg: int) -> bool:
    """Whether the last of these instructions to write reg leaves it below 2**32: then
    the index needs no 64-bit range check of its own, the br_table's on its low 32 bits
    being exact (interp's `lwu` of the opcode: two x86 instructions of about twenty a
    dispatch)."""
    last = next((instr for _, instr in reversed(before)
                 if instr is None or instr.rd == reg), None)
    if last is None:
        return False
    return (last.name in ZERO_EXTENDING or (last.name == "andi" and last.imm >= 0)
            or (last.name == "add.uw" and last.rs2 == 0))


def _other_addend(instr: Instr, reg: int) -> int | None:
    """For `add reg, reg, r` or `add reg, r, reg` with r neither x0 nor reg: r."""
    if instr.name != "add" or instr.rd != reg or reg not in (instr.rs1, instr.rs2):
        return None
    other = instr.rs2 if instr.rs1 == reg else instr.rs1
    return other if other not in (0, reg) else None


def _lla_values(read_only: Fetch, before: int, reg: int) -> list[int]:
    """The addresses that `auipc reg; addi reg, reg, lo` pairs within WINDOW bytes before a
    pc load, nearest first. Each 2-byte step is decoded on its own, as no instruction
    boundary is known there: a pair read out of step only adds a candidate that its
    table then fails."""
    found = []
    for pc in range(before - 4, max(before - WINDOW, 0) - 1, -2):
        high = _decoded(read_only, pc)
        if high is None or high.name != "auipc" or high.rd != reg:
            continue
        low = _decoded(read_only, pc + 4)
        if low is not None and low.name == "addi" and low.rd == low.rs1 == reg:
            found.append(pc + high.imm + low.imm)
    return found


def _decoded(read_only: Fetch, pc: int) -> Instr | None:
    word = read_only(pc)
    return decode(word) if word is not None else None


def _read(read_only: Fetch, pattern: _Pattern, address: int) -> KnownTable | None:
    """The table at address + the lw's offset: its entries up to the first whose target is
    not code (read-only and executable, as the table) or lies in the table (a zero entry,
    say: the data after a table), or MOST_ENTRIES."""
    first = address + pattern.offset
    targets: list[int | None] = []
    while len(targets) < MOST_ENTRIES:
        end = first + 4 * len(targets)
        word = read_only(end)
        if word is None:
            break
        offset = word - ((word & 0x80000000) << 1)     # lw sign-extends
        target = (address + offset + pattern.imm) % (1 << 64)
        if first <= target < end + 4 or read_only(target & ~1) is None:
            break
        targets.append(None if target & 1 else target)
    if not targets:
        return None
    return KnownTable(pattern.start, pattern.index, pattern.base, pattern.link, pattern.imm,
                      address, tuple(targets), (first, first + 4 * len(targets)),
                      pattern.narrow)
