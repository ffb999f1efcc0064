"""The host side of the FP slow path: translated code calls it for what wasm cannot do exactly.

The call is `fp(op, a, b, c) -> result` (wasm types i32, i64, i64, i64 -> i64): op is the
operation's index in `fp_soft.SLOW_OPS` (`SLOW_INDEX`) times 8 plus the rounding mode,
a/b/c the operands (single values unboxed, zero-extended), the result the format's bits or
an integer register value. The accrued flags go straight into the fcsr word of the VM memory.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

import wasmtime as wt

if TYPE_CHECKING:
    from mvvm.runtime.image import Stats

PARAMS = (wt.ValType.i32(), wt.ValType.i64(), wt.ValType.i64(), wt.ValType.i64())
RESULTS = (wt.ValType.i64(),)
MASK64 = (1 << 64) - 1


@cache
def _ops() -> tuple[Callable[[int, int, int, int], tuple[int, int]], ...]:
    """fp_soft's operations by index, loaded at the first slow call: most programs make
    none, and the module is 2 ms of a warm start."""
    from mvvm.runtime.fp_soft import SLOW_OPS
    return tuple(SLOW_OPS.values())


class FpSlowPath:
    """A raw host callback (see Runtime.host_function) bound to one VM's fcsr word; it
    counts its calls in the VM's stats (`mvvm run --stats`: fp_slow_calls)."""

    def __init__(self, fcsr_address: int, stats: Stats) -> None:
        self._fcsr = ctypes.c_uint32.from_address(fcsr_address)
        self._stats = stats

    def __call__(self, values: ctypes.Array) -> None:
        op = values[0].i32
        bits, flags = _ops()[op >> 3](values[1].i64 & MASK64, values[2].i64 & MASK64,
                                      values[3].i64 & MASK64, op & 7)
        if flags:
            self._fcsr.value |= flags
        self._stats.fp_slow_calls += 1
        values[0].i64 = bits - (1 << 64) if bits >> 63 else bits
