"""Instruction semantics: for each mnemonic of the ISA table, how to emit its wasm.

The table in mvvm.isa says what each instruction is; these modules say what
it does. A mnemonic with no entry here is translated into a SIGILL exit, so a
gap is never a silent NOP. Control transfers (branches, jal, jalr) are the
structurer's business: branch semantics here only push their i32 condition.
"""

from __future__ import annotations

from collections.abc import Callable

from mvvm.isa import Instr
from mvvm.translator.emitter import Emitter

Semantic = Callable[[Emitter, Instr, int], None]
SEMANTICS: dict[str, Semantic] = {}
ENDS_BLOCK: set[str] = set()       # mnemonics whose code always leaves the region


class Unsupported(Exception):
    """Raised by a semantic, before it emits anything, for an operand form MVVM does not
    implement (an unknown CSR, a rounding mode): the instruction becomes a SIGILL exit."""


def semantic(*names: str, ends_block: bool = False) -> Callable[[Semantic], Semantic]:
    """Register one emitter function for the given mnemonics."""

    def register(func: Semantic) -> Semantic:
        for name in names:
            assert name not in SEMANTICS, name
            SEMANTICS[name] = func
            if ends_block:
                ENDS_BLOCK.add(name)
        return func

    return register


def _load_all() -> None:
    from mvvm.translator.semantics import bitmanip, fp, integer, memory, system  # noqa: F401


_load_all()
