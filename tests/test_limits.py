"""A guest that never stops can be stopped: `--timeout` ends it with SIGXCPU, whether it
spins in one loop (polled at the loop header), bounces between functions by tail calls
(polled by the dispatcher and the chains), sleeps in a syscall (woken by a host signal), or
runs a loop that counts to a bound it never lands on, or lands on too late, or wraps round
below, or around one that ends soon (mvvm/translator/bounded.py: only that last one runs
without polls)."""

from __future__ import annotations

import pytest
from toolchain import PROGRAMS, run_mvvm

SIGXCPU_STATUS = 128 + 24


@pytest.mark.parametrize(("name", "args", "says"), [
    ("spin", [], b"spinning\n"), ("bounce", [], b"bouncing\n"), ("sleeper", [], b"sleeping\n"),
    ("counted", ["wrap", "7"], b"wrap\n"), ("counted", ["far", str(1 << 41)], b"far\n"),
    ("counted", ["top", str((1 << 64) - 1)], b"top\n"), ("counted", ["nest", "10"], b"nest\n"),
])
def test_timeout_stops_a_guest_that_never_stops(name, args, says, build_program, guest_env):
    program = build_program(PROGRAMS / "limits" / f"{name}.c", "O2")
    outcome = run_mvvm(program, args, options=["--timeout", "5"], env=guest_env, timeout=60)
    assert outcome.status == SIGXCPU_STATUS
    assert outcome.stdout == says                  # it was running when it was stopped
    message = outcome.stderr.decode()
    assert message.count("\n") == 1 and "time limit" in message
