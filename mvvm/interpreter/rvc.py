"""Compressed instructions in tier 0: each 16-bit value becomes the 32-bit word of its
expansion, which the interpreter then decodes like any other.

The interpreter keeps a table of those words in the VM memory and asks the host for
each value the first time it meets one (a program uses a few thousand of the 48K).
"""

from __future__ import annotations

from functools import cache

from mvvm.isa import decode
from mvvm.isa.encoder import encode_instr

ILLEGAL_WORD = 0xFFFFFFFF       # the expansion of a reserved value: no table row matches it


@cache
def expansion(value: int) -> int:
    """The 32-bit word of a 16-bit value's expansion (ILLEGAL_WORD where reserved)."""
    instr = decode(value & 0xFFFF)
    return encode_instr(instr) if instr is not None else ILLEGAL_WORD
