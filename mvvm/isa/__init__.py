"""The RISC-V instruction set as MVVM knows it: one table, a decoder and a disassembler.

`TABLE` (mvvm.isa.table) is the single source of truth: the decoder's dispatch structures are
built from it, compressed instructions (mvvm.isa.rvc) expand into its rows, and the
disassembler prints its rows, with objdump's aliases layered on top.
"""

from mvvm.isa.decoder import decode
from mvvm.isa.disassembler import disasm
from mvvm.isa.instr import Flow, InsnSpec, Instr
from mvvm.isa.table import TABLE

__all__ = ["TABLE", "Flow", "InsnSpec", "Instr", "decode", "disasm"]
