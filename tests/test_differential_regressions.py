"""Differences between MVVM and the reference CPUs found by the differential and directed
testing, each as a minimal reproducer: one instruction and the registers it reads.

What Linux (and qemu-riscv64 7.2, checked with the generated programs of difftest.qemu) does
is the expectation. An open bug is a strict xfail, so that its fix shows up as an XPASS to
turn into a plain test; none is open.
"""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from difftest.machine import PAGE, SCRATCH, Fault, MvvmCpu, State  # noqa: E402

from mvvm.isa.encoder import asm  # noqa: E402
from mvvm.runtime.address_space import PROT_READ  # noqa: E402

READ_ONLY = SCRATCH - 0x10000            # a page the test maps read-only
UNMAPPED = SCRATCH + 0x100000            # inside the backed guest space, but not mapped
ABOVE_4G = SCRATCH + (1 << 32)           # aliased SCRATCH when guest addresses were 32-bit


@dataclass(frozen=True)
class Regression:
    word: int
    x11: int                     # the address register (a1)
    signo: int                   # the signal Linux delivers


CASES = {
    "ld-above-4g": Regression(asm("ld", rd=10, rs1=11), ABOVE_4G, signal.SIGSEGV),
    "sd-above-4g": Regression(asm("sd", rs2=12, rs1=11), ABOVE_4G, signal.SIGSEGV),
    "amoadd.d-above-4g": Regression(asm("amoadd.d", rd=10, rs1=11, rs2=12), ABOVE_4G,
                                    signal.SIGSEGV),
    "amoadd.w-misaligned": Regression(asm("amoadd.w", rd=10, rs1=11, rs2=12), SCRATCH + 2,
                                      signal.SIGBUS),
    "amoswap.d-misaligned": Regression(asm("amoswap.d", rd=10, rs1=11, rs2=12), SCRATCH + 4,
                                       signal.SIGBUS),
    "lr.w-misaligned": Regression(asm("lr.w", rd=10, rs1=11), SCRATCH + 2, signal.SIGBUS),
    "ld-unmapped": Regression(asm("ld", rd=10, rs1=11), UNMAPPED, signal.SIGSEGV),
    "sd-read-only": Regression(asm("sd", rs2=12, rs1=11), READ_ONLY, signal.SIGSEGV),
    "ld-read-only": Regression(asm("ld", rd=10, rs1=11), READ_ONLY, 0),   # allowed, works
}


@pytest.fixture(scope="module")
def mvvm_cpu() -> MvvmCpu:
    cpu = MvvmCpu()
    cpu.vm.space.map(READ_ONLY, PAGE, PROT_READ, fixed=True)
    return cpu


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_access(case: Regression, mvvm_cpu: MvvmCpu) -> None:
    mvvm_cpu.load(case.word.to_bytes(4, "little"))
    outcome = mvvm_cpu.run(State().with_x(x11=case.x11, x12=0x1111))
    if case.signo:
        assert isinstance(outcome, Fault) and outcome.what.startswith(f"signal {case.signo}:"), \
            outcome
    else:
        assert isinstance(outcome, State), outcome
