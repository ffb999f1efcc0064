"""Reference models for rows that neither Unicorn nor qemu 7.2 implements (Zicond, Zimop,
Zawrs, Zicbom, Zicboz), written from the specs' text: the expected final state of a
directed case."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from difftest.directed import Case
from difftest.machine import SCRATCH, State
from mvvm.isa.table import CACHE_BLOCK

# rd = f(x[rs1], x[rs2])
RESULTS: dict[str, Callable[[int, int], int]] = {
    "czero.eqz": lambda a, b: 0 if b == 0 else a,      # rd = rs2 == 0 ? 0 : rs1
    "czero.nez": lambda a, b: a if b == 0 else 0,      # rd = rs2 != 0 ? 0 : rs1
    **{f"mop.r.{n}": lambda a, b: 0 for n in range(32)},     # until redefined: rd = 0
    **{f"mop.rr.{n}": lambda a, b: 0 for n in range(8)},
}
# No architectural effect a case can see: the waits may return at once, and a cache's
# write-back or flush changes no memory contents.
NO_EFFECT = frozenset({"wrs.nto", "wrs.sto", "cbo.clean", "cbo.flush"})


def outcome(case: Case, state: State) -> State:
    """The state after the case's one instruction, from the state before it."""
    name, fields = case.spec.name, case.fields
    if name in NO_EFFECT:
        return state
    if name == "cbo.zero":
        start = (state.x[fields.rs1] & -CACHE_BLOCK) - SCRATCH
        scratch = bytearray(state.scratch)
        scratch[start:start + CACHE_BLOCK] = bytes(CACHE_BLOCK)
        return replace(state, scratch=bytes(scratch))
    result = RESULTS[name](state.x[fields.rs1], state.x[fields.rs2])
    return state.with_x(**{f"x{fields.rd}": result})
