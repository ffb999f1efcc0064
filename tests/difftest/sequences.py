"""Random valid instruction sequences, drawn from the instruction table.

Every instruction is made valid by construction rather than filtered after the fact:

- Memory: loads, stores and AMOs address the scratch buffer through two base registers (sp,
  s0) that hold fixed addresses inside it and that nothing in a sequence writes; offsets are
  drawn from the range that stays inside the buffer, and AMOs use the (aligned) bases as is.
- LR is always paired with an SC on the same address and width with only register-register
  work between, so both CPUs see the same reservation (an SC on its own must fail in both).
- Control flow only goes forward, to an instruction boundary of the sequence or its end:
  conditional branches, jal, and the indirect jumps as `auipc; jalr` and `auipc; addi;
  c.jr/c.jalr`, so each sequence ends and indirect jumps reach the dispatcher.
- Compressed instructions come from the inventory of every valid 16-bit encoding, filtered
  by the same rules, so every RVC form the decoder knows gets drawn.

gp and tp (the qemu harness's registers) are never used at all.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

from difftest import values as v
from difftest.machine import SCRATCH, SCRATCH_MID, SCRATCH_SIZE, State
from mvvm.isa import TABLE, Flow, InsnSpec, Instr, decode
from mvvm.isa.decoder import compressed_form, free_bits
from mvvm.isa.encoder import BY_NAME, Fields, encode, tokens
from mvvm.isa.table import LOAD, LOAD_FP, STORE, STORE_FP
from mvvm.translator.semantics import SEMANTICS

BASES = {2: SCRATCH_MID, 8: SCRATCH_MID - 0x400}
HARNESS = (3, 4)
READABLE = tuple(r for r in range(32) if r not in HARNESS)
WRITABLE = tuple(r for r in READABLE if r not in BASES)
SYSTEM = frozenset({"ecall", "ebreak", "fence.i"})
MEMORY_OPCODES = (LOAD, LOAD_FP, STORE, STORE_FP)
COMPRESSED_SHARE = 0.25
CONTROL_SHARE = 0.08
PAIR_SHARE = 0.02
C_NOP = (0x0001).to_bytes(2, "little")


def is_memory(spec: InsnSpec) -> bool:
    return spec.match & 0x7F in MEMORY_OPCODES or spec.ext == "A"


def is_csr(spec: InsnSpec) -> bool:
    return "csr" in tokens(spec)


def straight_rows(allowed: Callable[[InsnSpec], bool]) -> list[InsnSpec]:
    """Rows a sequence may use anywhere: implemented, straight-line, not system or CSR, not
    LR (only in pairs), and accepted by the reference (`allowed`)."""
    return [s for s in TABLE if s.name in SEMANTICS and s.flow is Flow.NEXT and allowed(s)
            and s.name not in SYSTEM and not is_csr(s) and not s.name.startswith("lr.")]


def offset_range(base: int, size: int = 8) -> tuple[int, int]:
    """The 12-bit offsets from a base that keep an access of `size` inside the scratch."""
    value = BASES[base]
    return max(-2048, SCRATCH - value), min(2047, SCRATCH + SCRATCH_SIZE - size - value)


def in_bounds(instr: Instr) -> bool:
    """A memory operand inside the scratch, through a base register; AMOs aligned."""
    if instr.rs1 not in BASES:
        return False
    if "amo" in tokens(instr.spec):
        return True
    low, high = offset_range(instr.rs1)
    return low <= instr.imm <= high


def acceptable(instr: Instr, writable: tuple[int, ...] = WRITABLE) -> bool:
    """The rules every drawn instruction obeys (see the module docstring); an instruction
    run on its own may write the bases too (writable=READABLE)."""
    toks = set(tokens(instr.spec))
    if "rd" in toks and instr.rd not in (0, *writable):
        return False
    if any(t in toks and getattr(instr, t) in HARNESS for t in ("rs1", "rs2")):
        return False
    return not toks & {"mem", "amo"} or in_bounds(instr)


@functools.cache
def compressed_inventory() -> tuple[tuple[int, Instr], ...]:
    """Every valid 16-bit encoding of C and its expansion (about 47,000): neither Unicorn
    nor qemu 7.2 has Zcb or Zcmop (test_isa_decode checks their expansions)."""
    words = ((word, decode(word)) for word in range(1 << 16)
             if word & 3 != 3 and getattr(compressed_form(word), "ext", "") == "C")
    return tuple((word, instr) for word, instr in words if instr is not None)


def _random_imm(rng: random.Random) -> int:
    return rng.choice(v.IMM12) if rng.random() < 0.3 else rng.randrange(-2048, 2048)


def random_fields(spec: InsnSpec, rng: random.Random) -> Fields:
    """Operands for one row that satisfy `acceptable`."""
    toks = set(tokens(spec))
    f: dict[str, int] = {"rd": rng.choice(WRITABLE) if rng.random() > 0.03 else 0,
                         "rs1": rng.choice(READABLE), "rs2": rng.choice(READABLE),
                         "rs3": rng.randrange(32), "rm": rng.choice(v.ROUNDING)}
    if toks & {"fd", "fs1", "fs2"}:
        f |= {k: rng.randrange(32) for k in ("rd", "rs1", "rs2") if k in _fp_fields(toks)}
    if toks & {"mem", "amo"}:
        f["rs1"] = rng.choice(tuple(BASES))
    if "mem" in toks:
        f["imm"] = rng.randint(*offset_range(f["rs1"]))
    elif "shamt" in toks:
        f["imm"] = rng.randrange(free_bits(spec) + 1)
    elif "upper" in toks:
        f["imm"] = rng.getrandbits(20) << 12
    elif "imm" in toks:
        f["imm"] = _random_imm(rng)
    return Fields(**f, aq=rng.random() < 0.5, rl=rng.random() < 0.5)


def _fp_fields(toks: set[str]) -> set[str]:
    """The Instr fields that name FP registers for these operand tokens."""
    return {field for token, field in (("fd", "rd"), ("fs1", "rs1"), ("fs2", "rs2"))
            if token in toks}


@dataclass
class Item:
    """One slot of a sequence: fixed bytes, or a forward jump resolved once laid out."""

    size: int
    code: bytes = b""
    jump: Callable[[int, random.Random], bytes] | None = None   # (offset to target) -> bytes


class Generator:
    """Draws sequences for a reference; `allowed` says which rows the reference runs."""

    def __init__(self, allowed: Callable[[InsnSpec], bool], compressed: bool = True) -> None:
        self.rows = straight_rows(allowed)
        self.plain_rows = [s for s in self.rows if not is_memory(s)]
        pool = {s.name for s in self.rows}
        self.compressed = [(w, i) for w, i in compressed_inventory()
                           if compressed and i.name in pool and acceptable(i)]
        self.cbranches = self._compressed_branches() if compressed else {}
        self.pairs = [n for n in ("w", "d")
                      if f"lr.{n}" in SEMANTICS and allowed(BY_NAME[f"lr.{n}"])]
        self.branches = [s.name for s in TABLE if s.flow is Flow.BRANCH and s.name in SEMANTICS]

    def _compressed_branches(self) -> dict[tuple[str, int], list[int]]:
        """c.beqz/c.bnez/c.j words by (base name, offset), for forward jumps."""
        out: dict[tuple[str, int], list[int]] = {}
        for word, instr in compressed_inventory():
            if instr.name in ("beq", "bne", "jal") and instr.imm > 0 and instr.rd == 0 \
                    and instr.name in SEMANTICS:
                out.setdefault((instr.name, instr.imm), []).append(word)
        return out

    # -- items -----------------------------------------------------------------------------

    def _plain(self, rng: random.Random, memory: bool = True) -> Item:
        """A straight-line instruction, compressed at times; memory=False (inside an LR/SC
        pair) keeps to registers, and so to 32-bit rows (the RVC pool has loads)."""
        if memory and self.compressed and rng.random() < COMPRESSED_SHARE:
            return Item(2, rng.choice(self.compressed)[0].to_bytes(2, "little"))
        spec = rng.choice(self.rows if memory else self.plain_rows)
        return Item(4, encode(spec, random_fields(spec, rng)).to_bytes(4, "little"))

    def _pair(self, rng: random.Random) -> list[Item]:
        """lr; up to three register-only instructions; sc, on one base and width."""
        width, base = rng.choice(self.pairs), rng.choice(tuple(BASES))
        lr = encode(f"lr.{width}", Fields(rd=rng.choice(WRITABLE), rs1=base))
        sc = encode(f"sc.{width}", Fields(rd=rng.choice(WRITABLE), rs1=base,
                                          rs2=rng.choice(READABLE)))
        middle = [self._plain(rng, memory=False) for _ in range(rng.randrange(4))]
        return [Item(4, lr.to_bytes(4, "little")), *middle, Item(4, sc.to_bytes(4, "little"))]

    def _control(self, rng: random.Random) -> Item:
        kind = rng.choice(("branch", "branch", "jal", "jalr", "cjr"))
        if kind == "branch":
            compressed = bool(self.cbranches) and rng.random() < COMPRESSED_SHARE
            return Item(2 if compressed else 4, jump=functools.partial(
                self._branch, compressed))
        if kind == "jal":
            return Item(4, jump=lambda off, r: _word("jal", rd=_link(r), imm=off))
        if kind == "jalr":
            return Item(8, jump=_auipc_jalr)
        return Item(10, jump=_auipc_cjr) if self.cbranches else Item(8, jump=_auipc_jalr)

    def _branch(self, compressed: bool, offset: int, rng: random.Random) -> bytes:
        """A conditional branch (or c.j) by `offset`; c.beqz/c.bnez reach only 256 bytes,
        and a compressed slot no form reaches becomes a c.nop."""
        if compressed:
            for name in rng.sample(("beq", "bne", "jal"), 3):
                if words := self.cbranches.get((name, offset)):
                    return rng.choice(words).to_bytes(2, "little")
            return C_NOP
        return _word(rng.choice(self.branches), rs1=rng.choice(READABLE),
                     rs2=rng.choice(READABLE), imm=offset)

    # -- sequences ----------------------------------------------------------------------

    def items(self, rng: random.Random, length: int) -> list[Item]:
        out: list[Item] = []
        while len(out) < length:
            roll = rng.random()
            if roll < PAIR_SHARE and self.pairs:
                out.extend(self._pair(rng))
            elif roll < PAIR_SHARE + CONTROL_SHARE and self.branches:
                out.append(self._control(rng))
            else:
                out.append(self._plain(rng))
        return out

    def sequence(self, rng: random.Random, length: int) -> bytes:
        """`length` slots (a few more with an LR/SC pair) laid out, jumps resolved."""
        items = self.items(rng, length)
        starts = [0]
        for item in items:
            starts.append(starts[-1] + item.size)
        code = bytearray()
        for k, item in enumerate(items):
            if item.jump is None:
                code += item.code
                continue
            target = rng.randrange(k + 1, len(items) + 1)
            chunk = item.jump(starts[target] - starts[k], rng)
            assert len(chunk) == item.size, (chunk, item)
            code += chunk
        return bytes(code)


def _word(name: str, **fields: int) -> bytes:
    return encode(name, Fields(**fields)).to_bytes(4, "little")


def _link(rng: random.Random) -> int:
    return rng.choice((0, 1, 1, *WRITABLE))


def _auipc_jalr(offset: int, rng: random.Random) -> bytes:
    """auipc rX, 0; jalr rd, offset-from-auipc(rX) -- with bit 0 sometimes set (ignored)."""
    reg = rng.choice(WRITABLE[1:])
    return _word("auipc", rd=reg, imm=0) + _word("jalr", rd=_link(rng), rs1=reg,
                                                  imm=offset + rng.choice((0, 1)))


def _auipc_cjr(offset: int, rng: random.Random) -> bytes:
    """auipc rX, 0; addi rX, rX, offset; c.jr rX or c.jalr rX (links ra)."""
    reg = rng.choice(WRITABLE[1:])
    funct = 0x9002 if rng.random() < 0.5 else 0x8002          # c.jalr / c.jr
    return (_word("auipc", rd=reg, imm=0) + _word("addi", rd=reg, rs1=reg, imm=offset)
            + (funct | reg << 7).to_bytes(2, "little"))


def random_state(rng: random.Random) -> State:
    return v.random_state(rng, {**BASES, 3: 0, 4: 0})
