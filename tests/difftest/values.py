"""Operand values: the corners where implementations go wrong, and random register states.

Integer corners cover sign and width boundaries (INT64_MIN/MAX, the 32-bit edges that W forms
and .uw forms care about), alternating bit patterns, and shift amounts on both sides of 32
and 64. FP corners are raw bit patterns: signed zeros, infinities, quiet and signalling NaNs,
subnormals, values that round differently under each mode, the edges of integer
conversions, and for singles the NaN-boxing cases (an unboxed single must read as NaN).
"""

from __future__ import annotations

import random
import struct

from difftest.machine import SCRATCH_SIZE, State

MASK64 = (1 << 64) - 1
INT64_MIN, INT64_MAX = 1 << 63, (1 << 63) - 1
BOX = 0xFFFFFFFF00000000
HBOX = 0xFFFFFFFFFFFF0000                  # a NaN-boxed half's upper 48 bits

INTS = (0, 1, 2, MASK64, MASK64 - 1, INT64_MIN, INT64_MAX, 0x80000000, 0x7FFFFFFF, 0xFFFFFFFF,
        0x100000000, 0xFFFFFFFF80000000, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA,
        0x0123456789ABCDEF, 31, 32, 63, 64)
FEW_INTS = (0, MASK64, INT64_MIN, 0x80000000, 0x5555555555555555)
IMM12 = (0, 1, -1, 2047, -2048, 0x555, -0x556)
UPPER = (0, 0x1000, 0x7FFFF000, -0x1000, -0x80000000)
ZIMM = (0, 1, 0x15, 0x1F)
FCSR = (0, 0x1F, 0xE0, 0xA5)               # fcsr values a CSR instruction starts from
ROUNDING = (0, 1, 2, 3, 4, 7)              # static modes and dyn (5 and 6 are reserved)
FRM = (0, 1, 2, 3, 4)


def _d(value: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def _s(value: float) -> int:
    return BOX | struct.unpack("<I", struct.pack("<f", value))[0]


def _h(value: float) -> int:
    return struct.unpack("<H", struct.pack("<e", value))[0]


_REALS = (0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.5, -2.5, 3.0, 0.1, 2.0**31, -(2.0**31), 2.0**32,
          2.0**63, -(2.0**63), 2.0**64, 1e30, -1e-30)
DOUBLES = (*(_d(v) for v in _REALS), 0x7FEFFFFFFFFFFFFF, 0x0010000000000000, 1,
           0x800FFFFFFFFFFFFF, _d(float("inf")), _d(float("-inf")), 0x7FF8000000000000,
           0x7FF0000000000001, 0xFFF8000000000001)
SINGLES = (*(_s(v) for v in _REALS), BOX | 0x7F7FFFFF, BOX | 0x00800000, BOX | 1,
           BOX | 0x807FFFFF, _s(float("inf")), _s(float("-inf")), BOX | 0x7FC00000,
           BOX | 0x7F800001, BOX | 0xFFC00001,
           0x3F800000, 0x000000007FC00000, 0x7FFFFFFF3F800000)    # not NaN-boxed
# Halves: the same reals where they fit (2**31 and up overflow: struct's "e" refuses them),
# and the half's own edges: largest finite, smallest normal and subnormal, 2048 + 1 (not
# exact as a half), the integers' edge 65504, NaNs, and improperly boxed values.
HALVES = (*(HBOX | _h(v) for v in _REALS if abs(v) < 65504), HBOX | 0x7BFF, HBOX | 0x0400,
          HBOX | 1, HBOX | 0x83FF, HBOX | 0x7C00, HBOX | 0xFC00, HBOX | 0x7E00, HBOX | 0x7C01,
          HBOX | 0xFE01, HBOX | 0x6801, HBOX | 0x3BFF, HBOX | 0x3555,
          0x3C00, 0xFFFFFFFF00003C00, 0x7FFFFFFFFFFF3C00)             # not NaN-boxed
FEW_DOUBLES = (_d(0.0), _d(-0.0), _d(1.5), _d(float("inf")), 0x7FF8000000000000,
               0x7FF0000000000001)
FEW_HALVES = (HBOX | 0x0000, HBOX | 0x8000, HBOX | 0x3E00, HBOX | 0x7C00, HBOX | 0x7C01,
              0xFFFFFFFF00003C00)
FEW_SINGLES = (_s(0.0), _s(-0.0), _s(1.5), _s(float("inf")), BOX | 0x7F800001, 0x3F800000)


def random_int(rng: random.Random) -> int:
    """Mostly corners and small numbers, which make carries, compares and shifts interesting."""
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(INTS)
    if kind < 0.5:
        return rng.randrange(-64, 64) & MASK64
    if kind < 0.6:
        return rng.getrandbits(32) | (MASK64 ^ 0xFFFFFFFF if rng.random() < 0.5 else 0)
    return rng.getrandbits(64)


def random_fp(rng: random.Random) -> int:
    kind = rng.random()
    if kind < 0.4:
        return rng.choice(DOUBLES)
    if kind < 0.6:
        return rng.choice(SINGLES)
    if kind < 0.7:
        return rng.choice(HALVES)
    if kind < 0.8:
        return BOX | rng.getrandbits(32)
    if kind < 0.88:
        return HBOX | rng.getrandbits(16)
    return rng.getrandbits(64)


def random_state(rng: random.Random, fixed: dict[int, int], frm: bool = True) -> State:
    """A random register file and scratch buffer; `fixed` pins integer registers (the bases)."""
    x = [0, *(random_int(rng) for _ in range(31))]
    for reg, value in fixed.items():
        x[reg] = value
    fcsr = rng.choice(FRM) << 5 if frm else 0
    return State(tuple(x), tuple(random_fp(rng) for _ in range(32)), fcsr,
                 rng.randbytes(SCRATCH_SIZE))
