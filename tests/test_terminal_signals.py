"""Signals from a terminal or a shell (Ctrl-C, kill, hangup, a window resize, job control)
reach the guest as Linux delivers them, under MVVM as under qemu-riscv64: the guest's
handler runs, or the default action, with the status a shell shows; never a traceback.

Each case starts programs/terminal/waiter.c, waits until it says it is ready (in a compute
loop, or blocked in pause), lets a random moment pass, sends the signals and compares
stdout and the status with qemu's. MVVM_SIGNAL_ROUNDS=100 repeats every case that often,
with other moments, for a soak run.
"""

from __future__ import annotations

import os
import random
import resource
import signal
import subprocess
import sys
import time

import pytest
from toolchain import PROGRAMS, QEMU, QEMU_CPU, Outcome

ROUNDS = int(os.environ.get("MVVM_SIGNAL_ROUNDS", "1"))
TERMINATING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
JOB_CONTROL = {"catch": (signal.SIGTSTP, signal.SIGCONT, signal.SIGWINCH, signal.SIGINT),
               "default": (signal.SIGWINCH, signal.SIGTSTP, signal.SIGCONT, signal.SIGTERM)}
CASES = [(mode, where, (signo,)) for mode in ("catch", "default") for where in ("spin", "pause")
         for signo in TERMINATING]
CASES += [(mode, where, signals) for mode, signals in JOB_CONTROL.items()
          for where in ("spin", "pause")]


def _no_core_files() -> None:
    """A child as a terminal starts one: no core files here, and every signal at its
    default (the test itself may run where ^C is ignored, a background job's children)."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for signo in TERMINATING:
        signal.signal(signo, signal.SIG_DFL)


def _background_job() -> None:
    """What a shell without job control does to a command it starts with `&`."""
    _no_core_files()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)


def _outcome(argv: list[str], signals: tuple[int, ...], pause: float,
             env: dict[str, str], started=_no_core_files) -> Outcome:
    """Run until ready, wait `pause`, send the signals 50 ms apart, collect the rest."""
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               preexec_fn=started)
    ready = process.stdout.readline()
    time.sleep(pause)
    for signo in signals:
        process.send_signal(signo)
        time.sleep(0.05)
    try:
        out, err = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()                      # not left spinning after the test
        process.communicate()
        raise
    status = 128 - process.returncode if process.returncode < 0 else process.returncode
    return Outcome(ready + out, err, status)


@pytest.mark.parametrize(("mode", "where", "signals"), CASES,
                         ids=lambda v: "-".join(signal.Signals(s).name for s in v)
                         if isinstance(v, tuple) else v)
def test_terminal_signal(mode, where, signals, build_program, guest_env):
    program = str(build_program(PROGRAMS / "terminal" / "waiter.c", "O2"))
    rng = random.Random(f"{mode} {where} {signals}")
    for _ in range(ROUNDS):
        pause = rng.uniform(0, 0.1)
        qemu = _outcome([QEMU, *QEMU_CPU, program, mode, where], signals, pause, guest_env)
        mvvm = _outcome([sys.executable, "-m", "mvvm", "run", program, mode, where], signals,
                        pause, guest_env)
        assert (mvvm.stdout, mvvm.status) == (qemu.stdout, qemu.status)
        assert b"Traceback" not in mvvm.stderr and b"internal error" not in mvvm.stderr


def test_signals_ignored_at_start_stay_ignored(build_program, guest_env):
    """Started as a background job (SIGINT and SIGQUIT ignored), the guest ignores ^C as
    it would under Linux, and SIGTERM still ends it."""
    program = str(build_program(PROGRAMS / "terminal" / "waiter.c", "O2"))
    signals = (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM)
    qemu = _outcome([QEMU, *QEMU_CPU, program, "default", "spin"], signals, 0.05, guest_env,
                    _background_job)
    mvvm = _outcome([sys.executable, "-m", "mvvm", "run", program, "default", "spin"],
                    signals, 0.05, guest_env, _background_job)
    assert (mvvm.stdout, mvvm.status) == (qemu.stdout, qemu.status) == (b"ready\n", 143)
