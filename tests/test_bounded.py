"""Loops that count to a bound run without polls for an interrupt when they end soon
(mvvm/translator/bounded.py): which loops qualify, that the code after such a loop is
emitted once, and that a module of them validates. That the polled copy still runs when
the count is long or never lands is tests/test_limits.py's (limits/counted.c)."""

from __future__ import annotations

import random

import pytest
import wasmtime as wt
from toolchain import PROGRAMS, fetcher

from mvvm.elf.loader import read_image
from mvvm.isa.encoder import asm
from mvvm.runtime.engine import make_engine
from mvvm.translator import bounded
from mvvm.translator.emitter import Emitter
from mvvm.translator.modules import pack
from mvvm.translator.region import discover
from mvvm.translator.semantics import ENDS_BLOCK, supported
from mvvm.translator.structure import analyse
from mvvm.translator.translate import emit_region
from mvvm.wasi.discover import Program
from mvvm.wasm import encoder as w

BASE = 0x10000
RET = asm("jalr", rd=0, rs1=1, imm=0)
A0, A1, A2, S1 = 10, 11, 12, 9


def _fetch(words: list[int]):
    return fetcher(BASE, b"".join(word.to_bytes(4, "little") for word in words))


def _counted(words: list[int]) -> dict[int, bounded.Bounded]:
    region = discover(BASE, _fetch(words), ENDS_BLOCK, supported)
    return bounded.find(analyse(region), region.linked_jumps)


def test_a_loop_that_steps_to_its_bound_counts():
    """`addi a0, a0, 1; bne a0, a1` round to itself: a0 counts to a1 by 1."""
    found = _counted([asm("addi", rd=A0, rs1=A0, imm=1),
                      asm("bne", rs1=A0, rs2=A1, imm=-4), RET])
    assert list(found) == [BASE]
    loop = found[BASE]
    assert (loop.counter, loop.bound, loop.step, loop.exit) == (A0, A1, 1, BASE + 8)
    assert loop.limit == bounded.BETWEEN_POLLS // 2


@pytest.mark.parametrize(("step", "test", "goes_on", "signed"), [
    (-8, asm("beq", rs1=A1, rs2=A0, imm=12), bounded.DIFFER, True),
    (-1, asm("bltu", rs1=A0, rs2=A1, imm=12), bounded.ABOVE, False),
])
def test_a_rotated_loop_that_leaves_at_its_top_counts_down(step, test, goes_on, signed):
    """A rotated loop (its step and its test, out of the loop, at the top; a store after
    them; a jump back): with `beq a1, a0` out it goes on while they differ (the register
    compared may come first), with `bltu a0, a1` out while a0 is at least a1, unsigned."""
    found = _counted([asm("addi", rd=A0, rs1=A0, imm=step),         # 0: loop
                      test,                                         # 4: to 16
                      asm("sd", rs1=A0, rs2=A2, imm=0),             # 8
                      asm("jal", rd=0, imm=-12),                    # 12: to 0
                      RET])                                         # 16
    loop = found[BASE]
    assert (loop.counter, loop.bound, loop.step, loop.exit) == (A0, A1, step, BASE + 16)
    assert (loop.goes_on, loop.signed) == (goes_on, signed)


def test_a_loop_that_steps_up_to_its_bound_by_a_register_counts():
    """sieve's inner loop: `add a0, a0, a2; bge a1, a0` back (a0 at most a1), a2 written
    nowhere in it: a0 counts up to a1, signed, by a2."""
    found = _counted([asm("sb", rs1=A0, rs2=0, imm=0),
                      asm("add", rd=A0, rs1=A0, rs2=A2),
                      asm("bge", rs1=A1, rs2=A0, imm=-8), RET])
    loop = found[BASE]
    assert (loop.counter, loop.bound, loop.step, loop.step_register) == (A0, A1, 0, A2)
    assert (loop.goes_on, loop.signed) == (bounded.BELOW, True)


@pytest.mark.parametrize(("why", "words"), [
    ("the counter steps twice", [asm("addi", rd=A0, rs1=A0, imm=1),
                                 asm("addi", rd=A0, rs1=A0, imm=1),
                                 asm("bne", rs1=A0, rs2=A1, imm=-8), RET]),
    ("the bound moves too", [asm("addi", rd=A0, rs1=A0, imm=1),
                             asm("addi", rd=A1, rs1=A1, imm=2),
                             asm("bne", rs1=A0, rs2=A1, imm=-8), RET]),
    ("the counter is not stepped", [asm("slli", rd=A0, rs1=A0, imm=1),
                                    asm("bne", rs1=A0, rs2=A1, imm=-4), RET]),
    ("it steps away from its bound", [asm("addi", rd=A0, rs1=A0, imm=-1),
                                      asm("bltu", rs1=A0, rs2=A1, imm=-4), RET]),
    ("its step in a register moves", [asm("addi", rd=A2, rs1=A2, imm=1),
                                      asm("add", rd=A0, rs1=A0, rs2=A2),
                                      asm("blt", rs1=A0, rs2=A1, imm=-8), RET]),
    ("it counts down by a register", [asm("sub", rd=A0, rs1=A0, rs2=A2),
                                      asm("blt", rs1=A1, rs2=A0, imm=-4), RET]),
    ("it goes on while they are equal", [asm("addi", rd=A0, rs1=A0, imm=1),
                                         asm("beq", rs1=A0, rs2=A1, imm=-4), RET]),
    ("the step is skipped on some passes", [asm("beq", rs1=A2, rs2=0, imm=8),   # 0: to 8
                                            asm("addi", rd=A0, rs1=A0, imm=1),  # 4
                                            asm("bne", rs1=A0, rs2=A1, imm=-8),  # 8: to 0
                                            RET]),
    ("a call may write any register", [asm("addi", rd=A0, rs1=A0, imm=1),
                                       asm("jalr", rd=1, rs1=S1, imm=0),
                                       asm("bne", rs1=A0, rs2=A1, imm=-8), RET]),
])
def test_a_loop_that_may_not_end_soon_does_not_count(why, words):
    assert _counted(words) == {}, why


MASK = (1 << 64) - 1
EDGES = [0, 1, 2, 7, 100, (1 << 62) - 3, 1 << 62, (1 << 63) - 5, (1 << 63) - 2, 1 << 63,
         MASK - 9, MASK - 2, MASK]


def _fits(loop: bounded.Bounded, registers: dict[int, int]) -> bool:
    """What loop.fits computes, run by wasmtime, with the registers holding these values."""
    e = Emitter()
    for reg, value in registers.items():
        e.code.i64_const(value)
        e.set_x(reg)
    loop.fits(e)
    module = w.Module()
    module.function(module.type((w.I64,), (w.I32,)), e.locals, e.code, export="fits")
    store = wt.Store(make_engine())
    instance = wt.Instance(store, wt.Module(store.engine, module.encode()), [])
    return bool(instance.exports(store)["fits"](store, 0))


def _passes(loop: bounded.Bounded, r: int, s: int, t: int, step_first: bool, most: int) -> int:
    """How many passes the loop makes (up to most + 1), r stepped before or after its test
    in each."""
    step = loop.step or t
    value = (lambda x: x - (1 << 64) if x >> 63 else x) if loop.signed else (lambda x: x)
    goes_on = {bounded.DIFFER: lambda: r != s, bounded.BELOW: lambda: value(r) <= value(s),
               bounded.ABOVE: lambda: value(r) >= value(s)}[loop.goes_on]
    for passes in range(1, most + 2):
        if step_first:
            r = (r + step) & MASK
        if not goes_on():
            return passes
        if not step_first:
            r = (r + step) & MASK
    return most + 1


@pytest.mark.parametrize(("goes_on", "signed", "step", "t"), [
    (bounded.DIFFER, True, 3, 0), (bounded.DIFFER, True, -2, 0),
    (bounded.BELOW, True, 2, 0), (bounded.BELOW, False, 5, 0), (bounded.BELOW, True, 0, A2),
    (bounded.BELOW, False, 0, A2), (bounded.ABOVE, True, -3, 0), (bounded.ABOVE, False, -1, 0),
])
def test_a_loop_that_fits_ends_within_its_limit(goes_on, signed, step, t):
    """loop.fits, over the edges of the registers' ranges and random values: when it says
    yes the loop ends within its limit and 2 passes, whether it steps before its test or
    after (a test at most 2 below it, or 2 above, lands too: limit 16, at most so many
    passes); and near the bound it says yes."""
    loop = bounded.Bounded(None, A0, A1, step, t, goes_on, signed, 16)
    rng = random.Random(f"{goes_on}{signed}{step}{t}")
    values = EDGES + [rng.getrandbits(64) for _ in range(6)]
    steps = [1, 3, 1 << 20, (1 << 20) + 1, MASK] if t else [0]
    cases = [(r, s, u) for r in values for s in values[::3] for u in steps]
    cases += [(s - d & MASK, s, u) for s in values for d in (-6, -2, 0, 2, 6) for u in steps]
    for r, s, u in cases:
        registers = {A0: r, A1: s, A2: u}
        if _fits(loop, registers):
            for step_first in (True, False):
                assert _passes(loop, r, s, u, step_first, 18) <= 18, (r, s, u, step_first)
    near = {bounded.DIFFER: 5 * step, bounded.BELOW: 10, bounded.ABOVE: -10}[goes_on]
    assert _fits(loop, {A0: 1000, A1: 1000 + near, A2: 1})


def _marks(code) -> dict[int, int]:
    """How many times each guest pc's code is in the region's body."""
    marks: dict[int, int] = {}
    for _, pc in code.marks:
        marks[pc] = marks.get(pc, 0) + 1
    return marks


def test_the_node_after_a_loop_with_two_ways_out_comes_once():
    """A loop that may break (at 12, when the byte it loads is zero) and counts (at 20):
    both go to the return at 24, a merge node below the test at 8, not the header; the
    loop's code is there twice, the return once."""
    words = [asm("beq", rs1=13, rs2=0, imm=8),                      # 0: to 8
             asm("addi", rd=14, rs1=14, imm=1),                     # 4
             asm("lb", rd=A2, rs1=A0, imm=0),                       # 8
             asm("beq", rs1=A2, rs2=0, imm=12),                     # 12: break, to 24
             asm("addi", rd=A0, rs1=A0, imm=1),                     # 16
             asm("bne", rs1=A0, rs2=A1, imm=-20),                   # 20: to 0
             RET]                                                   # 24
    code = emit_region(BASE, _fetch(words))
    assert code.unpolled == (BASE,)
    marks = _marks(code)
    assert [marks[BASE + 4 * k] for k in range(7)] == [2, 2, 2, 2, 2, 2, 1]


def test_the_code_after_a_counted_loop_comes_once(build_program):
    """limits/counted.c's count(): its loop is emitted twice (the pcs in it have two marks
    each), the return after it once; top()'s loop (`bgeu` back) counts too; and a module of
    the two regions validates."""
    binary = build_program(PROGRAMS / "limits" / "counted.c", "O2")
    program = Program(read_image(str(binary)))
    code = emit_region(program.symbols.addresses["count"], program.fetch)
    (header,) = code.unpolled
    loop = code.shape.loop_body(header)
    marks = _marks(code)
    inside = {pc for node in loop for pc, _ in code.shape.blocks[node].instrs}
    after = max(pc for block in code.region.blocks.values() for pc, _ in block.instrs)
    assert {marks[pc] for pc in inside} == {2}
    assert after not in inside and marks[after] == 1
    top = emit_region(program.symbols.addresses["top"], program.fetch)
    assert len(top.unpolled) == 1
    wasm, _ = pack("counted", [code, top])
    wt.Module.validate(make_engine(), wasm)
    assert emit_region(program.symbols.addresses["count"], program.fetch,
                       counting=True).unpolled == ()
