"""`python3 -m bench.embed`: mvvm.Machine's latencies, against Unicorn's on the same guest
function, and a call's guest work against the same code under `mvvm run`.

- call: `m.function("add")(1, 2)`, the median per call over chunks of 10,000 calls;
- unicorn: `emu_start` of the same function (the same ELF's code, mapped by hand), with
  the register writes and the read of the result a call needs;
- host call: a guest-to-host function call and back (mvvm_host1), per call;
- work: a call of a function that retires 1M instructions, and the same loop under
  `mvvm run` (longer, less its start-up), as instructions per second;
- snapshot + restore of a machine with 64 MiB touched.

No time here is a test: this prints figures, and checks only that every result is right.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mvvm
from bench.build import Toolchain, build
from mvvm.elf.loader import ElfImage
from mvvm.elf.symbols import Symbols
from mvvm.embed import INCLUDE_DIR

GUEST = Path(__file__).resolve().parent / "embedding" / "guest.c"
TOOLCHAIN = Toolchain("riscv64-embed", "riscv64-linux-gnu-gcc",
                      ("-O2", "-static", "-I", INCLUDE_DIR))
CHUNK = 10_000
WORK_ITERATIONS = 250_000               # 4 instructions each: 1M in one call
TOUCHED = 64 << 20


def _per_call(call: Callable[[], object], calls: int) -> float:
    """Median seconds per call over chunks of CHUNK calls."""
    times = []
    for _ in range(max(1, calls // CHUNK)):
        started = time.perf_counter()
        for _ in range(CHUNK):
            call()
        times.append((time.perf_counter() - started) / CHUNK)
    return statistics.median(times)


def _machine(program: Path) -> mvvm.Machine:
    machine = mvvm.Machine(program)
    machine.run()

    @machine.host_function(1)
    def echo(m: mvvm.Machine, value: int) -> int:
        return value

    return machine


STACK_TOP, RETURN = 0x7F10_0000, 0x7F10_1000     # Unicorn's stack, and where calls return


def unicorn_with(program: Path) -> tuple[Any, dict[str, int]]:
    """Unicorn with the static ELF's segments mapped, a stack below STACK_TOP and RETURN
    mapped, for calls of its functions; and the ELF's symbols."""
    from unicorn import UC_ARCH_RISCV, UC_MODE_RISCV64, Uc

    data = program.read_bytes()
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    for segment in ElfImage.parse(data).segments:
        low = segment.vaddr & ~0xFFF
        high = (segment.vaddr + segment.memsz + 0xFFF) & ~0xFFF
        uc.mem_map(low, high - low)
        uc.mem_write(segment.vaddr, data[segment.offset:segment.offset + segment.filesz])
    uc.mem_map(STACK_TOP - 0x100000, 0x200000)
    return uc, Symbols.read(data).addresses


def unicorn_call(uc: Any, address: int, *args: int) -> int:
    """A call under Unicorn as a host would make it: argument registers, sp and ra
    written, emu_start to the return, a0 read."""
    from unicorn import riscv_const as r

    for k, arg in enumerate(args):
        uc.reg_write(r.UC_RISCV_REG_A0 + k, arg)
    uc.reg_write(r.UC_RISCV_REG_SP, STACK_TOP)
    uc.reg_write(r.UC_RISCV_REG_RA, RETURN)
    uc.emu_start(address, RETURN)
    return uc.reg_read(r.UC_RISCV_REG_A0)


def _run_rate(program: Path, iterations: int) -> float:
    """Instructions per second of work(iterations) under `mvvm run`, less its start-up
    (the same run with no work), each the best of three."""
    def best(n: int) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mvvm", "run", str(program), str(n)],
                           check=True, capture_output=True)
            times.append(time.perf_counter() - started)
        return min(times)

    return 4 * iterations / max(best(iterations) - best(0), 1e-9)


def _snapshot_times(machine: mvvm.Machine) -> tuple[float, float]:
    """Median seconds of snapshot() and of restore() (after the guest wrote its memory
    again), over five rounds."""
    taken, restored = [], []
    for _ in range(5):
        started = time.perf_counter()
        snapshot = machine.snapshot()
        taken.append(time.perf_counter() - started)
        machine.call("touch", TOUCHED)
        started = time.perf_counter()
        machine.restore(snapshot)
        restored.append(time.perf_counter() - started)
    return statistics.median(taken), statistics.median(restored)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m bench.embed",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000,
                        help="calls timed (default 1,000,000; Unicorn gets a tenth)")
    parser.add_argument("--quick", action="store_true", help="few calls: a correctness check")
    options = parser.parse_args(argv)
    calls = CHUNK if options.quick else options.calls
    program = build(GUEST, TOOLCHAIN)
    machine = _machine(program)
    add = machine.function("add")
    uc, symbols = unicorn_with(program)

    def unicorn() -> int:
        return unicorn_call(uc, symbols["add"], 1, 2)

    assert add(1, 2) == unicorn() == 3
    assert machine.call("callbacks", 100) == sum(range(100))
    expected = machine.call("work", WORK_ITERATIONS)
    for _ in range(300):                            # the loop compiled, as a hot call's is
        machine.call("work", 1000)

    call = _per_call(lambda: add(1, 2), calls)
    emu = _per_call(unicorn, max(CHUNK, calls // 10))
    host = (_per_call(lambda: machine.call("callbacks", 100), calls // 100)
            - _per_call(lambda: machine.call("callbacks", 0), calls // 100)) / 100
    work = _per_call(lambda: machine.call("work", WORK_ITERATIONS), 10 * CHUNK) \
        if not options.quick else 0.0
    assert machine.call("work", WORK_ITERATIONS) == expected
    run_rate = _run_rate(program, 100 * WORK_ITERATIONS) if not options.quick else 0.0

    assert machine.call("touch", TOUCHED) == 1
    taken, restored = _snapshot_times(machine)

    print(f"{'call add(1, 2)':<34}{call * 1e6:8.2f} us")
    print(f"{'unicorn emu_start add(1, 2)':<34}{emu * 1e6:8.2f} us   "
          f"({emu / call:.1f}x the call's time)")
    print(f"{'guest -> host -> guest':<34}{host * 1e6:8.2f} us")
    if work:
        print(f"{'call of 1M instructions':<34}{work * 1e3:8.3f} ms   "
              f"({4 * WORK_ITERATIONS / work / 1e9:.2f} G instructions/s; "
              f"mvvm run {run_rate / 1e9:.2f} G/s)")
    print(f"{'snapshot, 64 MiB touched':<34}{taken * 1e3:8.2f} ms")
    print(f"{'restore, 64 MiB touched':<34}{restored * 1e3:8.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
