"""Guest threads: the programs in tests/programs/threads, built with -pthread and run under
qemu-riscv64 and MVVM, which must agree on stdout, stderr and exit status.

The programs check their own results and exit with their number of failed checks (the
qemu run is checked against the status each case is meant to end with, so a wrong status
there means the program or qemu is wrong, not MVVM).  They print only what does not depend
on scheduling.  parallel.c is also the program for measuring that two guest threads run
about twice as fast as one; no test here times it, only its checksum for 1 and 2 threads.
"""

from __future__ import annotations

import sys
from array import array
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toolchain  # noqa: E402
from conftest import flavour_flags  # noqa: E402
from toolchain import PROGRAMS  # noqa: E402

from mvvm.interpreter.rvc import expansion  # noqa: E402
from mvvm.runtime.cachefiles import CacheRoot  # noqa: E402

THREADS = PROGRAMS / "threads"

# Every run may hang if threads go wrong (a lost wake-up, a thread exit_group does not
# end): the timeouts turn that into a failure.
QEMU_TIMEOUT = 60
MVVM_TIMEOUT = 180
C_LI_T6_13, ADDI_T6_13 = 0x4FB5, 0x00D00F93     # compressed.c's worker's instruction


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...] = ()
    status: int = 0               # how the run ends when all its checks pass
    flavours: tuple[str, ...] = ("O2",)


CASES = [
    # 8 threads x 100000 increments: mutex, atomic_fetch_add, CAS, LR/SC spin lock, lr.d/sc.d
    Case("counters", flavours=("O0", "O2")),
    # bounded buffer (2 producers, 2 consumers), broadcast, timedwait, barrier
    Case("condvar"),
    # __thread per thread (also in a static PIE), pthread keys and destructors, thread ids
    Case("tls", flavours=("O2", "pie")),
    # join values, pthread_exit, own stack, detached threads, a thread pool, cancellation
    Case("lifecycle"),
    # exit(7) from a thread while the others block (in futex, read, nanosleep, a loop)
    Case("lifecycle", ("exit",), status=7),
    # the main thread calls pthread_exit; the last thread's return ends the process
    Case("lifecycle", ("main-exits",)),
    # pthread_kill, per-thread masks and pending sets, sigaltstack, sigwait, SIGALRM, SIGSEGV
    Case("signals"),
    # a compressed instruction that only a worker thread runs (and the expansions' test)
    Case("compressed"),
    # compute-bound work over 1 and 2 threads: the same checksum
    Case("parallel", ("1",)),
    Case("parallel", ("2",)),
]


def case_id(case: Case, flavour: str) -> str:
    return "-".join((case.name, flavour, *case.args))


PARAMS = [pytest.param(case, flavour, id=case_id(case, flavour))
          for case in CASES for flavour in case.flavours]


def test_every_program_is_listed():
    on_disk = {p.stem for p in THREADS.glob("*.c")}
    assert on_disk == {case.name for case in CASES}, \
        "tests/programs/threads and CASES in test_threads.py disagree"


@pytest.mark.parametrize(("case", "flavour"), PARAMS)
def test_same_as_qemu(case, flavour, cross_tools, guest_env, assert_same_as_qemu):
    source = THREADS / f"{case.name}.c"
    binary = toolchain.build(source, flavour_flags(source, flavour) + ("-pthread",))
    qemu = toolchain.run_qemu(binary, list(case.args), env=guest_env, timeout=QEMU_TIMEOUT)
    assert qemu.status == case.status, (
        f"the reference run under qemu ended with {qemu.status}, not {case.status}: "
        f"the program or qemu is wrong\n{qemu.stdout.decode(errors='replace')[-3000:]}")
    mvvm = toolchain.run_mvvm(binary, list(case.args), env=guest_env, timeout=MVVM_TIMEOUT)
    assert_same_as_qemu(qemu, mvvm)


def test_every_threads_expansions_are_kept(cross_tools, guest_env, tmp_path):
    """Tier 0 expands a compressed value the first time a thread meets it, and the code
    cache keeps the table for the next run: every thread's expansions, not the main
    thread's alone (ruff check's workers expanded 3,700 values again in every run)."""
    source = THREADS / "compressed.c"
    binary = toolchain.build(source, flavour_flags(source, "O2") + ("-pthread",))
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path)}
    outcome = toolchain.run_mvvm(binary, options=["--tier", "0"], env=env,
                                 timeout=MVVM_TIMEOUT)
    assert outcome.status == 0, outcome
    (table,) = tmp_path.glob("mvvm/*/rvc.bin")
    words = array("I", CacheRoot.open(tmp_path / "mvvm").read(table))
    assert words[C_LI_T6_13] == expansion(C_LI_T6_13) == ADDI_T6_13
