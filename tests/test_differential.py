"""Random differential testing: random valid sequences from the instruction table, run on MVVM
and on a reference CPU from random register states, comparing every register, fcsr and the
scratch memory.

Against Unicorn (in-process): RV64IMA, C, D and the single-precision loads/stores. Against
qemu-riscv64 (one generated program per batch): everything, Zb* and F included. The default
run is a quick sample; a soak sets MVVM_DIFF_INSTRUCTIONS (say 1000000) and optionally
MVVM_DIFF_SEED, or runs tools/difftest.py, which also replays a single sequence.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from difftest.differential import (  # noqa: E402
    Differential,
    QemuDifferential,
    Summary,
    UnicornDifferential,
)

SEED = int(os.environ.get("MVVM_DIFF_SEED", "20250101"))
SOAK = int(os.environ.get("MVVM_DIFF_INSTRUCTIONS", "0"))
DEFAULT = {"unicorn": (150, 4), "qemu": (150, 2)}     # sequences, states each
SHOWN = 3


def _soak(runner: Differential, chunk: int = 500) -> Summary:
    """Run chunks of sequences until SOAK instructions have run."""
    total = Summary()
    while total.instructions < SOAK:
        part = runner.run(range(total.sequences, total.sequences + chunk))
        total.sequences += part.sequences
        total.instructions += part.instructions
        total.mismatches += part.mismatches
    return total


@pytest.mark.parametrize("reference", ["unicorn", "qemu"])
def test_random_sequences(reference: str, request: pytest.FixtureRequest) -> None:
    if reference == "qemu":
        request.getfixturevalue("cross_tools")
    count, states = DEFAULT[reference]
    runner = (UnicornDifferential(SEED, states) if reference == "unicorn"
              else QemuDifferential(SEED, states, keep=not SOAK))
    summary = _soak(runner) if SOAK else runner.run(range(count))
    mismatches = summary.mismatches
    print(f"{reference}: seed {SEED}, {summary.sequences} sequences, "
          f"{summary.instructions} instructions, {len(mismatches)} mismatches")
    assert not mismatches, (
        f"{len(mismatches)} of {summary.sequences} sequences differ from {reference} "
        f"(seed {SEED}; "
        f"replay one with tools/difftest.py --reference {reference} --seed {SEED} "
        f"--states {states} --first INDEX --count 1):\n\n"
        + "\n\n".join(str(m) for m in mismatches[:SHOWN]))
