"""The RISC-V instruction set as MVVM knows it: one table, a decoder and a disassembler.

`TABLE` (mvvm.isa.table) is the single source of truth: the decoder's dispatch structures are
built from it, compressed instructions (mvvm.isa.rvc) expand into its rows, and the
disassembler prints its rows, with objdump's aliases layered on top.

The decoder, the disassembler and the table load on first use (`isa.decode`, not `from
mvvm.isa import decode`, where a module may not need them): a run from a warm code cache
decodes nothing, and they were 5 ms of its 0.12 s start (hello, best of 20).
"""

from importlib import import_module

from mvvm.isa.instr import Flow, InsnSpec, Instr

_LAZY = {"TABLE": "mvvm.isa.table", "decode": "mvvm.isa.decoder",
         "disasm": "mvvm.isa.disassembler"}

__all__ = ["TABLE", "Flow", "InsnSpec", "Instr", "decode", "disasm"]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
