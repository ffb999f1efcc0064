"""Instruction semantics: for each mnemonic of the ISA table, how to emit its wasm.

The table in mvvm.isa says what each instruction is; these modules say what
it does. A mnemonic with no entry here is translated into a SIGILL exit, so a
gap is never a silent NOP. Control transfers (branches, jal, jalr) are the
structurer's business: branch semantics here only push their i32 condition.
"""

from __future__ import annotations

from collections.abc import Callable

from mvvm.isa import Flow, InsnSpec, Instr
from mvvm.translator.emitter import Emitter, FieldValue

Semantic = Callable[[Emitter, Instr, FieldValue], None]
Accepts = Callable[[Instr], bool]
Forms = Callable[[InsnSpec], list[dict[str, int]]]
SEMANTICS: dict[str, Semantic] = {}
ACCEPTS: dict[str, Accepts] = {}
FORMS: dict[str, Forms] = {}
ENDS_BLOCK: set[str] = set()       # mnemonics whose code always leaves the region


def semantic(*names: str, ends_block: bool = False, accepts: Accepts | None = None,
             forms: Forms | None = None) -> Callable[[Semantic], Semantic]:
    """Register one emitter function for the given mnemonics. `accepts` says which operand
    forms it implements (an unknown CSR is not): the others are SIGILL, decided when the
    region is formed, so the register dataflow sees that exit like any other. `forms`
    lists the fields the semantics needs as constants (a CSR number): the interpreter,
    which otherwise decodes fields at run time, gets one case per form."""

    def register(func: Semantic) -> Semantic:
        for name in names:
            assert name not in SEMANTICS, name
            SEMANTICS[name] = func
            if accepts is not None:
                ACCEPTS[name] = accepts
            if forms is not None:
                FORMS[name] = forms
            if ends_block:
                ENDS_BLOCK.add(name)
        return func

    return register


# Jumps and traps have no entry: the structurer emits them from the table's flow.
STRUCTURAL = (Flow.JAL, Flow.JALR, Flow.TRAP)


def supported(instr: Instr) -> bool:
    """Whether the translator implements this decoded instruction."""
    if instr.name not in SEMANTICS:
        return instr.spec.flow in STRUCTURAL
    accepts = ACCEPTS.get(instr.name)
    return accepts is None or accepts(instr)


def _load_all() -> None:
    from mvvm.translator.semantics import bitmanip, fp, integer, memory, system  # noqa: F401


_load_all()
