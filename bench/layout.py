"""`python3 bench/layout.py K run PROG ARGS`: `mvvm run` with its code laid out another way.

Cranelift aligns functions, not loops: where a region's hot loop falls within a 64-byte
line depends on the sizes of the functions before it in its module, and that alone moved
a program's time by 10-20% (linsolve, recursion) with the same instructions. So a change
anywhere in a batch can look like a gain or a loss in a region it never touched. Layout
K > 0 puts an unexported padding function, K * PAD_STORES stores long, before the first
region of every batch module: every region moves by the same amount, and its code stays
as it was. bench.compare --layouts N times each revision under layouts 0..N-1, each with
a code cache of its own (a cached module keeps the layout it was compiled with).

This file is run by path, not as `-m bench.layout`, so that the mvvm it patches is the one
PYTHONPATH names: the revision being measured, whatever its bench/ holds.
"""

from __future__ import annotations

import runpy
import sys

PAD_STORES = 3          # stores of the padding per layout step: about 24 bytes of x86


def _pad(steps: int) -> None:
    """Patch the wasm encoder: batch modules get the padding as their first function, and
    their code offsets (the trap map's) stay the regions' own."""
    from mvvm.wasm import encoder as w

    function, encode = w.Module.function, w.Module.encode

    def padded_function(self: w.Module, type_index: int, locals_: list[int], body: w.Code,
                        name: str = "", export: str | None = None) -> int:
        if self.name.startswith("batch_") and not getattr(self, "padded", False):
            self.padded = True
            pad = w.Code()
            for k in range(steps * PAD_STORES):
                pad.i32_const(0).i32_const(k).mem(w.I32_STORE, 1, 8 * k)
            function(self, type_index, [], pad.i64_const(0))
        return function(self, type_index, locals_, body, name, export)

    def padded_encode(self: w.Module) -> bytes:
        out = encode(self)
        if getattr(self, "padded", False):
            self.code_offsets = self.code_offsets[1:]
        return out

    w.Module.function, w.Module.encode = padded_function, padded_encode


def main() -> None:
    steps = int(sys.argv[1])
    if steps:
        _pad(steps)
    sys.argv = ["mvvm", *sys.argv[2:]]
    runpy.run_module("mvvm", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
