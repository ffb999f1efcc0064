"""Differences between MVVM and the reference CPUs found by the differential and directed
testing, each as a minimal reproducer: one instruction and the registers it reads.

What Linux (and qemu-riscv64 7.2, checked with the generated programs of difftest.qemu) does
is the expectation. Open bugs are strict xfails, so a fix shows up as an XPASS to turn into
a plain test.
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
from mvvm.linux.mm import PROT_READ  # noqa: E402

READ_ONLY = SCRATCH - 0x10000            # a page the test maps read-only
UNMAPPED = SCRATCH + 0x100000            # inside the backed guest space, but not mapped
ABOVE_4G = SCRATCH + (1 << 32)           # aliases SCRATCH in a 32-bit address space

ALIAS = ("guest addresses are truncated to 32 bits, so x + 4 GiB reaches x instead of "
         "faulting (qemu-riscv64: SIGSEGV)")
NO_PROTECTION = ("pages are not protected inside the backed guest space: an unmapped or "
                 "read-only page is accessible (Linux and qemu-riscv64: SIGSEGV)")


@dataclass(frozen=True)
class Regression:
    word: int
    x11: int                     # the address register (a1)
    signo: int                   # the signal Linux delivers
    bug: str = ""                # why MVVM differs, while it does


CASES = {
    "ld-above-4g": Regression(asm("ld", rd=10, rs1=11), ABOVE_4G, signal.SIGSEGV, ALIAS),
    "sd-above-4g": Regression(asm("sd", rs2=12, rs1=11), ABOVE_4G, signal.SIGSEGV, ALIAS),
    "amoadd.d-above-4g": Regression(asm("amoadd.d", rd=10, rs1=11, rs2=12), ABOVE_4G,
                                    signal.SIGSEGV, ALIAS),
    "amoadd.w-misaligned": Regression(asm("amoadd.w", rd=10, rs1=11, rs2=12), SCRATCH + 2,
                                      signal.SIGBUS),
    "amoswap.d-misaligned": Regression(asm("amoswap.d", rd=10, rs1=11, rs2=12), SCRATCH + 4,
                                       signal.SIGBUS),
    "lr.w-misaligned": Regression(asm("lr.w", rd=10, rs1=11), SCRATCH + 2, signal.SIGBUS),
    "ld-unmapped": Regression(asm("ld", rd=10, rs1=11), UNMAPPED, signal.SIGSEGV,
                              NO_PROTECTION),
    "sd-read-only": Regression(asm("sd", rs2=12, rs1=11), READ_ONLY, signal.SIGSEGV,
                               NO_PROTECTION),
    "ld-read-only": Regression(asm("ld", rd=10, rs1=11), READ_ONLY, 0),   # allowed, works
}


@pytest.fixture(scope="module")
def mvvm_cpu() -> MvvmCpu:
    cpu = MvvmCpu()
    cpu.vm.space.map(READ_ONLY, PAGE, PROT_READ, fixed=True)
    return cpu


def _params():
    for name, case in CASES.items():
        marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
        yield pytest.param(case, id=name, marks=marks)


@pytest.mark.parametrize("case", _params())
def test_access(case: Regression, mvvm_cpu: MvvmCpu) -> None:
    mvvm_cpu.load(case.word.to_bytes(4, "little"))
    outcome = mvvm_cpu.run(State().with_x(x11=case.x11, x12=0x1111))
    if case.signo:
        assert isinstance(outcome, Fault) and outcome.what.startswith(f"signal {case.signo}:"), \
            outcome
    else:
        assert isinstance(outcome, State), outcome
