#!/usr/bin/env python3
"""Soak MVVM with random instruction sequences against a reference CPU.

    tools/difftest.py --instructions 1000000                 # against Unicorn (RV64GC)
    tools/difftest.py --reference qemu --instructions 200000  # qemu-riscv64, with Zb*
    tools/difftest.py --seed 7 --first 1234 --count 1         # replay one sequence

Sequences are derived from (seed, index) only, so a reported mismatch is replayed with
--seed S --first INDEX --count 1. The exit status is 1 if anything differed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from difftest.differential import (  # noqa: E402
    QemuDifferential,
    Summary,
    UnicornDifferential,
)

CHUNK = {"unicorn": 200, "qemu": 500}


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", choices=("unicorn", "qemu"), default="unicorn")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--instructions", type=int, default=100_000,
                        help="stop after this many instructions (sequence length x states)")
    parser.add_argument("--first", type=int, default=0, help="first sequence index")
    parser.add_argument("--count", type=int, help="run exactly this many sequences")
    parser.add_argument("--states", type=int, help="initial states per sequence")
    parser.add_argument("--show", type=int, default=10, help="mismatches printed in full")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    kind = {"unicorn": UnicornDifferential, "qemu": QemuDifferential}[args.reference]
    runner = kind(args.seed, **({"states": args.states} if args.states else {}))
    total, index, started = Summary(), args.first, time.monotonic()
    stop = args.first + args.count if args.count is not None else None
    while (index < stop) if stop is not None else total.instructions < args.instructions:
        chunk = range(index, min(index + CHUNK[args.reference], stop or sys.maxsize))
        part = runner.run(chunk)
        index = chunk.stop
        total.sequences += part.sequences
        total.instructions += part.instructions
        total.mismatches += part.mismatches
        rate = total.instructions / (time.monotonic() - started)
        print(f"\r{total.sequences} sequences, {total.instructions} instructions, "
              f"{len(total.mismatches)} mismatches ({rate:,.0f} instructions/s)",
              end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for mismatch in total.mismatches[:args.show]:
        print(mismatch, end="\n\n")
    print(f"seed {args.seed}, sequences {args.first}..{index - 1}: {total.sequences} "
          f"sequences, {total.instructions} instructions against {args.reference}, "
          f"{len(total.mismatches)} mismatches")
    return 1 if total.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
