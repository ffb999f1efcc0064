"""Reference models for rows that neither Unicorn nor qemu 7.2 implements (Zicond), written
from the spec's text: the expected final state of a directed case."""

from __future__ import annotations

from collections.abc import Callable

from difftest.directed import Case
from difftest.machine import State

MODELS: dict[str, Callable[[int, int], int]] = {
    "czero.eqz": lambda a, b: 0 if b == 0 else a,      # rd = rs2 == 0 ? 0 : rs1
    "czero.nez": lambda a, b: a if b == 0 else 0,      # rd = rs2 != 0 ? 0 : rs1
}
EXTENSIONS = frozenset({"Zicond"})


def outcome(case: Case, state: State) -> State:
    """The state after the case's one instruction, from the state before it."""
    fields = case.fields
    result = MODELS[case.spec.name](state.x[fields.rs1], state.x[fields.rs2])
    return state.with_x(**{f"x{fields.rd}": result})
