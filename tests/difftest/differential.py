"""Random differential testing: the same random sequences and states on MVVM and a reference.

Everything is derived from (seed, sequence index), so any mismatch is reproduced by its seed
and index alone. A mismatch is narrowed down to the instruction where the two first part:
every prefix of the sequence (the rest turned into nops, so jumps still land) runs on both,
and the first prefix that differs ends with the culprit; with Unicorn (all prefixes at one
address) the culprit is also run alone from the reference's state before it, to tell a
wrong instruction from a wrong interaction.

References: Unicorn 2.1 is QEMU 5.0's RISC-V: no Zb*; single-precision results are not
NaN-boxed, nor inputs checked; fmin/fmax follow IEEE 754-2008 minNum (a signalling NaN
operand gives the canonical NaN) where the ratified F/D say minimumNumber (the other
operand); and the fused multiply-adds do not raise invalid for inf * 0 + qNaN, which the
spec requires. So its sequences leave out Zb*, the single-precision rows (flw/fsw aside,
which it boxes), fmin.d/fmax.d and the fused multiply-adds; qemu-riscv64 7.2, which gets
all of those right, runs everything, less its one known bug (see quirks).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from difftest import qemu, quirks, sequences
from difftest.directed import QEMU_LACKS
from difftest.machine import CODE, MvvmCpu, Outcome, State, UnicornCpu
from difftest.report import inputs, instructions, listing
from mvvm.isa import Flow, InsnSpec, Instr

UNICORN_EXTS = frozenset({"I", "M", "A", "D"})
UNICORN_SINGLES = frozenset({"flw", "fsw"})                 # the F rows it gets right
UNICORN_UNBOXED = frozenset({"fcvt.s.d", "fcvt.d.s"})       # D rows that touch singles
UNICORN_MINNUM = frozenset({"fmin.d", "fmax.d"})            # the old sNaN rule (see above)
UNICORN_FMA = frozenset({"fmadd.d", "fmsub.d", "fnmsub.d", "fnmadd.d"})   # inf*0+qNaN: no NV
UNICORN_WRONG = UNICORN_UNBOXED | UNICORN_MINNUM | UNICORN_FMA
RECYCLE = 2000                   # a fresh VM after this many sequences: instances add up


def unicorn_allowed(spec: InsnSpec) -> bool:
    """What Unicorn runs faithfully (see the module docstring)."""
    if spec.ext == "F":
        return spec.name in UNICORN_SINGLES
    return spec.ext in UNICORN_EXTS and spec.name not in UNICORN_WRONG


def qemu_allowed(spec: InsnSpec) -> bool:
    """qemu 7.2 runs everything but Zicond, and ctzw has a known bug (see quirks), which a
    sequence cannot correct for."""
    return spec.name not in quirks.QEMU_QUIRKS and spec.ext not in QEMU_LACKS


@dataclass
class Mismatch:
    seed: int
    index: int
    code: bytes
    state: State
    want: Outcome
    got: Outcome
    reference: str
    culprit: str = ""
    at: int = CODE

    def __str__(self) -> str:
        diffs = "\n    ".join(self.want.differences(self.got))
        regs = " ".join(f"x{r}={x:#x}" for r, x in enumerate(self.state.x) if r)
        text = (f"seed {self.seed} sequence {self.index} ({self.reference} vs mvvm):\n"
                f"{listing(self.code, self.at)}\n  initial: {regs} fcsr={self.state.fcsr:#x}\n"
                f"  differences:\n    {diffs}")
        return text + (f"\n  first difference after:\n{self.culprit}" if self.culprit else "")


@dataclass
class Summary:
    sequences: int = 0
    instructions: int = 0             # instructions in the sequences, times the states run
    mismatches: list[Mismatch] = field(default_factory=list)


def sequence_rng(seed: int, index: int) -> random.Random:
    return random.Random(f"{seed}:{index}")


def draw(generator: sequences.Generator, seed: int, index: int, states: int,
         max_length: int = 40) -> tuple[bytes, list[State]]:
    rng = sequence_rng(seed, index)
    code = generator.sequence(rng, rng.randint(1, max_length))
    return code, [sequences.random_state(rng) for _ in range(states)]


def count(code: bytes) -> int:
    return sum(1 for _ in instructions(code, CODE))


def nop_tail(code: bytes, keep: int) -> bytes:
    """The sequence with its instructions from index `keep` on replaced by nops of the same
    sizes: it runs exactly the first `keep` instructions (jumps still land on boundaries)."""
    out = bytearray()
    for n, (_, instr, raw) in enumerate(instructions(code, 0)):
        size = instr.length if instr else 4
        out += raw.to_bytes(size, "little") if n < keep else NOPS[size]
    return bytes(out)


NOPS = {2: (0x0001).to_bytes(2, "little"), 4: (0x00000013).to_bytes(4, "little")}


class Reference:
    """Runs code variants from one state on a reference CPU: (address, outcome) for each."""

    name = ""
    same_address = True              # every variant at the same address (CODE)

    def outcomes(self, variants: list[bytes], state: State) -> list[tuple[int, Outcome]]:
        raise NotImplementedError


class UnicornReference(Reference):
    name = "unicorn"

    def __init__(self) -> None:
        self.cpu = UnicornCpu()

    def outcomes(self, variants: list[bytes], state: State) -> list[tuple[int, Outcome]]:
        out = []
        for code in variants:
            self.cpu.load(code)
            out.append((CODE, self.cpu.run(state)))
        return out


class QemuReference(Reference):
    name = "qemu"
    same_address = False             # one program: each variant has its own address

    def outcomes(self, variants: list[bytes], state: State) -> list[tuple[int, Outcome]]:
        result = qemu.run([qemu.Group(code, (state,)) for code in variants], memory=True,
                          keep=False)
        return [(at, finals[0]) for at, finals in zip(result.addresses, result.outcomes,
                                                        strict=True)]


def narrow(code: bytes, state: State, reference: Reference, mvvm: MvvmCpu) -> str:
    """The first instruction after which MVVM and the reference differ, found by running
    every prefix (nop_tail) on both; then whether it differs when run alone."""
    variants = [nop_tail(code, keep) for keep in range(count(code) + 1)]
    results = reference.outcomes(variants, state)
    for keep in range(1, len(variants)):
        at, want = results[keep]
        mvvm.load(variants[keep], at)
        got = mvvm.run(state)
        if not want.differences(got):
            continue
        pc, instr, raw = list(instructions(code, at))[keep - 1]
        before = results[keep - 1][1]
        diffs = "\n    ".join(want.differences(got))
        text = (f"{listing(code[pc - at:pc - at + instr.length], pc)}\n"
                f"  inputs ({reference.name}'s state before it): "
                f"{inputs(instr, before) if isinstance(before, State) else before}\n"
                f"  {reference.name} vs mvvm after it:\n    {diffs}")
        return text + _alone(instr, raw, pc, before, want, mvvm, reference)
    return ""


def _alone(instr: Instr, raw: int, pc: int, before: Outcome, want: Outcome, mvvm: MvvmCpu,
           reference: Reference) -> str:
    """Whether MVVM gets the instruction wrong on its own, from the reference's state."""
    if not (reference.same_address and isinstance(before, State)
            and instr.spec.flow is Flow.NEXT):
        return ""
    mvvm.load(raw.to_bytes(instr.length, "little"), pc)
    alone = mvvm.run(before)
    if want.differences(alone):
        return "\n  (it differs when run alone from that state, too)"
    return "\n  (alone from that state it is right: the difference needs the context)"


class Differential:
    """MVVM against a reference on random sequences; subclasses say how to run batches."""

    narrow_limit = 5                 # mismatches narrowed down per run (each costs a bit)

    def __init__(self, seed: int, states: int, reference: Reference,
                 allowed: Callable[[InsnSpec], bool]) -> None:
        self.seed, self.states, self.reference = seed, states, reference
        self.generator = sequences.Generator(allowed)
        self.mvvm = MvvmCpu()
        self.runs = 0

    def _check(self, summary: Summary, index: int, code: bytes, at: int,
               pairs: list[tuple[State, Outcome]]) -> None:
        """Run each state on MVVM against its reference outcome; record the first miss."""
        self.runs += 1
        if self.runs % RECYCLE == 0:
            self.mvvm = MvvmCpu()
        self.mvvm.load(code, at)
        for state, want in pairs:
            got = self.mvvm.run(state)
            if want.differences(got):
                culprit = (narrow(code, state, self.reference, self.mvvm)
                           if len(summary.mismatches) < self.narrow_limit else "")
                summary.mismatches.append(Mismatch(self.seed, index, code, state, want, got,
                                                   self.reference.name, culprit, at))
                break
        summary.sequences += 1
        summary.instructions += count(code) * len(pairs)


class UnicornDifferential(Differential):
    """MVVM against Unicorn, in-process, one sequence at a time."""

    def __init__(self, seed: int, states: int = 8) -> None:
        super().__init__(seed, states, UnicornReference(), unicorn_allowed)

    def run(self, indices: range) -> Summary:
        summary, cpu = Summary(), self.reference.cpu
        for index in indices:
            code, states = draw(self.generator, self.seed, index, self.states)
            cpu.load(code)
            self._check(summary, index, code, CODE, [(s, cpu.run(s)) for s in states])
        return summary


class QemuDifferential(Differential):
    """MVVM against qemu-riscv64: one generated program per batch of sequences."""

    def __init__(self, seed: int, states: int = 2, keep: bool = False) -> None:
        super().__init__(seed, states, QemuReference(), qemu_allowed)
        self.keep = keep                 # keep the batch programs (a fixed test run reuses its)

    def run(self, indices: range) -> Summary:
        summary = Summary()
        drawn = [draw(self.generator, self.seed, i, self.states) for i in indices]
        result = qemu.run([qemu.Group(code, tuple(states)) for code, states in drawn],
                          memory=True, keep=self.keep)
        for index, (code, states), at, wants in zip(indices, drawn, result.addresses,
                                                     result.outcomes, strict=True):
            self._check(summary, index, code, at, list(zip(states, wants, strict=True)))
        return summary
