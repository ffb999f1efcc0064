"""Directed cases generated from the instruction table, one list of groups per row.

A row's operand tokens say everything needed: which registers it reads and writes (each gets
a canonical register, plus variants where operands alias, read x0 or write x0), which
immediates it has (corner values of each kind, each its own encoding), whether it reads
memory (the value at the effective address becomes one more input) or fcsr (a dynamic
rounding mode, or a CSR instruction's old value). Inputs are the cross product of corner
values, sampled down deterministically where the product is large (three FP sources).
Nothing here is written per instruction, so a row added to the table is tested as it lands.

Rows that change control flow or talk to the system (branches, jumps, ecall, ebreak, fences)
are not generic: tests/test_directed_control.py has targeted cases for them.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace

from difftest import values as v
from difftest.machine import SCRATCH, SCRATCH_MID, SCRATCH_SIZE, State
from difftest.qemu import Group
from mvvm.isa import Flow, InsnSpec
from mvvm.isa.decoder import free_bits
from mvvm.isa.encoder import Fields, encode, tokens
from mvvm.isa.table import LOAD, LOAD_FP

UNICORN_EXTS = frozenset({"I", "M", "A", "Zicsr"})    # what Unicorn runs faithfully
QEMU_LACKS = frozenset({"Zicond", "Zimop", "Zawrs", "Zicbom", "Zicboz", "Zfa"})   # nor qemu 7.2
TARGETED = frozenset({"ecall", "ebreak", "fence", "fence.i"})
FP_CSRS = (0x001, 0x002, 0x003)                       # fflags, frm, fcsr: deterministic
FP_EXTS = frozenset({"F", "D", "Zfh", "Zfhmin", "Zfa"})
MEM_OFFSETS = (0, 1, -1, 7, 2047, -2048)
CAP, CAP_FP = 400, 100                                # inputs per encoding, at most
BASE = 8                                              # s0 holds SCRATCH_MID

# Operand token -> role; mem and amo name the base register.
ROLES = {"rd": "rd", "rs1": "rs1", "rs2": "rs2", "fd": "fd", "fs1": "fs1", "fs2": "fs2",
         "fs3": "fs3", "mem": "base", "amo": "base"}
FIELD_OF = {"rd": "rd", "fd": "rd", "rs1": "rs1", "fs1": "rs1", "base": "rs1", "rs2": "rs2",
            "fs2": "rs2", "fs3": "rs3"}
CANONICAL = {"rd": 10, "rs1": 11, "rs2": 12, "fd": 10, "fs1": 11, "fs2": 12, "fs3": 13,
             "base": BASE}
# Register variants: a role -> another role's register, or a fixed register.
VARIANTS: tuple[dict[str, int | str], ...] = (
    {}, {"rd": "rs1"}, {"rd": "rs2"}, {"rs2": "rs1"}, {"rs1": 0}, {"rs2": 0}, {"rd": 0},
    {"rd": 31, "rs1": 30, "rs2": 29}, {"fd": "fs1"}, {"fs2": "fs1"}, {"fs3": "fs2"},
    {"rd": "base"}, {"rs2": "base"},
)
INT_SOURCES, FP_SOURCES = ("rs1", "rs2"), ("fs1", "fs2", "fs3")


@dataclass(frozen=True)
class Case:
    """One encoding of a row and the input states it runs from."""

    spec: InsnSpec
    fields: Fields
    group: Group


def is_generic(spec: InsnSpec) -> bool:
    """Straight-line rows: everything but control transfers, ecall, ebreak and fences."""
    return spec.flow is Flow.NEXT and spec.name not in TARGETED


def reference(spec: InsnSpec) -> str:
    """Unicorn for what it implements (no Zb*; FP without NaN-boxing), a model of our own
    (difftest.models) for what qemu 7.2 lacks too, else qemu-riscv64."""
    if spec.ext in UNICORN_EXTS:
        return "unicorn"
    return "model" if spec.ext in QEMU_LACKS else "qemu"


def reads_memory(spec: InsnSpec) -> bool:
    opcode = spec.match & 0x7F
    return opcode in (LOAD, LOAD_FP) or (spec.ext == "A" and not spec.name.startswith("sc"))


def uses_memory(spec: InsnSpec) -> bool:
    return bool({"mem", "amo"} & set(tokens(spec)))


def _roles(spec: InsnSpec) -> list[str]:
    return [ROLES[t] for t in tokens(spec) if t in ROLES]


def layouts(spec: InsnSpec) -> list[dict[str, int]]:
    """Role -> register for the canonical assignment and every variant the row can take."""
    roles = _roles(spec)
    seen, out = set(), []
    for variant in VARIANTS:
        refs = [r for r in (*variant, *variant.values()) if isinstance(r, str)]
        if not all(r in roles for r in refs):
            continue
        layout = {r: CANONICAL[r] for r in roles}
        layout |= {r: layout[t] if isinstance(t, str) else t for r, t in variant.items()}
        key = tuple(sorted(layout.items()))
        if key not in seen:
            seen.add(key)
            out.append(layout)
    return out


def immediates(spec: InsnSpec) -> tuple[int, ...]:
    """Corner values for the row's immediate, each a separate encoding."""
    toks = set(tokens(spec))
    if "mem" in toks:
        return MEM_OFFSETS
    if "shamt" in toks:
        wide = free_bits(spec) == 0x3F
        return (0, 1, 5, 31, *((32, 33, 63) if wide else ()))
    for token, corners in (("imm", v.IMM12), ("upper", v.UPPER), ("zimm", v.ZIMM)):
        if token in toks:
            return corners
    return (0,)


def encodings(spec: InsnSpec) -> Iterator[tuple[bool, dict[str, int], Fields]]:
    """(canonical, layout, fields) for each register variant x immediate x csr x rm x aq/rl;
    only the canonical registers without aq/rl (which change nothing for one hart) get the
    full corner sets."""
    toks = set(tokens(spec))
    csrs = FP_CSRS if "csr" in toks else (0,)
    modes = v.ROUNDING if "rm" in toks else (0,)
    orderings = ((False, False), (True, True)) if spec.ext == "A" else ((False, False),)
    constants = range(32) if "fli" in toks else (None,)        # fli's index, in rs1
    for n, layout in enumerate(layouts(spec)):
        regs = {FIELD_OF[role]: reg for role, reg in layout.items()}
        for imm, csr, rm, (aq, rl), index in itertools.product(
                immediates(spec), csrs, modes, orderings, constants):
            if index is not None:
                regs["rs1"] = index
            yield n == 0 and not aq, layout, Fields(imm=imm, csr=csr, rm=rm, aq=aq, rl=rl, **regs)


def _fp_corners(spec: InsnSpec, few: bool) -> tuple[int, ...]:
    """Source values in the row's source precision: .s/.w rows read singles, .h rows halves."""
    suffix = spec.name.rsplit(".", 1)[-1]
    if suffix == "h" or spec.name in ("flh", "fsh"):
        return v.FEW_HALVES if few else v.HALVES
    if suffix in ("s", "w") or spec.name in ("flw", "fsw"):
        return v.FEW_SINGLES if few else v.SINGLES
    return v.FEW_DOUBLES if few else v.DOUBLES


def _fcsr_values(spec: InsnSpec, fields: Fields) -> tuple[int, ...]:
    toks = set(tokens(spec))
    if "csr" in toks:
        return v.FCSR
    if "rm" in toks and fields.rm == 7:
        return tuple(frm << 5 for frm in v.FRM)
    if spec.ext in FP_EXTS:
        return (0, 0x75)                # fflags must accrue onto what is there
    return (0,)


def dimensions(spec: InsnSpec, canonical: bool, layout: dict[str, int], fields: Fields
               ) -> list[tuple[str, int, tuple[int, ...]]]:
    """(kind, register, values) for every input of one encoding; kind is x, f, mem or fcsr."""
    few = not canonical
    dims: list[tuple[str, int, tuple[int, ...]]] = []
    for role in INT_SOURCES:
        reg = layout.get(role, 0)
        if reg and reg != BASE and all(reg != d[1] for d in dims):
            dims.append(("x", reg, v.FEW_INTS if few else v.INTS))
    for role in FP_SOURCES:
        if role in layout and all(layout[role] != d[1] or d[0] != "f" for d in dims):
            dims.append(("f", layout[role], _fp_corners(spec, few)))
    if reads_memory(spec):
        corners = _fp_corners(spec, few) if spec.match & 0x7F == LOAD_FP else (
            v.FEW_INTS if few else v.INTS)
        dims.append(("mem", SCRATCH_MID + fields.imm, corners))
    dims.append(("fcsr", 0, _fcsr_values(spec, fields)))
    return dims


def _inputs(dims: list[tuple[str, int, tuple[int, ...]]], cap: int, rng: random.Random
            ) -> list[tuple[int, ...]]:
    """The cross product of the dimensions' values, sampled down to `cap`."""
    sizes = [len(d[2]) for d in dims]
    total = 1
    for size in sizes:
        total *= size
    if total <= cap:
        return list(itertools.product(*(d[2] for d in dims)))
    picks = sorted(rng.sample(range(total), cap))
    out = []
    for pick in picks:
        combo = []
        for dim, size in zip(dims, sizes, strict=True):
            pick, index = divmod(pick, size)
            combo.append(dim[2][index])
        out.append(tuple(combo))
    return out


def _state(background: State, dims: list[tuple[str, int, tuple[int, ...]]],
           combo: tuple[int, ...]) -> State:
    x, f = list(background.x), list(background.f)
    scratch, fcsr = bytearray(background.scratch), background.fcsr
    for (kind, where, _), value in zip(dims, combo, strict=True):
        if kind == "x":
            x[where] = value
        elif kind == "f":
            f[where] = value
        elif kind == "mem":
            at = where - SCRATCH
            scratch[at:at + 8] = value.to_bytes(8, "little")
        else:
            fcsr = value
    return replace(background, x=tuple(x), f=tuple(f), fcsr=fcsr, scratch=bytes(scratch))


def _background(spec: InsnSpec, rng: random.Random) -> State:
    """Random registers around the operands, so a read of the wrong register shows."""
    state = v.random_state(rng, {BASE: SCRATCH_MID, 3: 0, 4: 0}, frm=False)
    return state if uses_memory(spec) else replace(state, scratch=bytes(SCRATCH_SIZE))


def cases(spec: InsnSpec) -> list[Case]:
    """Every encoding of the row with its input states; deterministic per row."""
    rng = random.Random(spec.name)
    background = _background(spec, rng)
    cap = CAP_FP if spec.ext in FP_EXTS else CAP
    out = []
    for canonical, layout, fields in encodings(spec):
        dims = dimensions(spec, canonical, layout, fields)
        states = tuple(_state(background, dims, combo) for combo in _inputs(dims, cap, rng))
        out.append(Case(spec, fields, Group(encode(spec, fields).to_bytes(4, "little"),
                                            states)))
    return out
