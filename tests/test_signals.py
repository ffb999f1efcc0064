"""Signal delivery: the programs in tests/programs/signals, run under qemu-riscv64 and MVVM,
and the riscv64 signal frame's layout.

The programs check their own results and exit with their number of failed checks. Most
are compared with qemu (stdout, stderr, exit status); where qemu-riscv64 7.2 differs from
Linux (sa_mask, SS_AUTODISARM, real-time signal numbers) MVVM is checked against what
Linux does.
"""

from __future__ import annotations

import json
import sys
from ctypes import sizeof
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import toolchain  # noqa: E402
from test_faults import assert_death_report  # noqa: E402
from toolchain import PROGRAMS, SYSROOT  # noqa: E402

from mvvm.isa import decode  # noqa: E402
from mvvm.isa.effects import may_trap  # noqa: E402
from mvvm.linux.sigframe import FRAME_SIZE, RtSigFrame, SigContext, SigInfo, UContext  # noqa: E402

SIGNALS = PROGRAMS / "signals"

# Programs compared with qemu, and the build flavours each runs in.
COMPARED = {
    "handlers": ("O0", "O2"),       # SA_SIGINFO fields, masks, SA_NODEFER/RESETHAND, altstack
    "faults": ("O2", "pie"),        # SIGSEGV/SIGILL/SIGTRAP caught: si_addr, ucontext pc
    "registers": ("O2",),           # every register survives a clobbering handler
    "timers": ("O2",),              # setitimer, alarm, pause/sleep EINTR, SA_RESTART, timers
    "wait": ("O2",),                # sigwait, sigtimedwait, sigsuspend
    "processes": ("O2",),           # signals between forked guests, SIGCHLD
}

SIGTERM, SIGUSR1, SIGUSR2, SIGSEGV, SIGABRT, SIGALRM = 15, 10, 12, 11, 6, 14
# default.c's cases and how each ends: by a signal's default action, or normally.
DEFAULT_CASES = {
    "term": 128 + SIGTERM,
    "kill-usr1": 128 + SIGUSR1,
    "ignored": 0,
    "alarm": 128 + SIGALRM,           # SIGALRM from a timer while spinning in translated code
    "unblock": 128 + SIGTERM,         # pending while blocked, fatal once unblocked
    "resethand": 128 + SIGUSR1,
    "blocked-fault": 128 + SIGSEGV,   # a fault with its signal blocked kills
    "fault-in-handler": 128 + SIGSEGV,
    "abort-caught": 128 + SIGABRT,
    "pipe-caught": 0,
}


def test_every_program_is_listed():
    on_disk = {p.stem for p in SIGNALS.glob("*.c")}
    assert on_disk == set(COMPARED) | {"default", "beyond_qemu"}


@pytest.mark.parametrize("name,flavour", [(n, f) for n, fs in COMPARED.items() for f in fs])
def test_same_as_qemu(name, flavour, build_program, guest_env, assert_same_as_qemu):
    binary = build_program(SIGNALS / f"{name}.c", flavour)
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0, qemu
    assert_same_as_qemu(qemu, toolchain.run_mvvm(binary, env=guest_env, timeout=60))


@pytest.mark.parametrize("case", DEFAULT_CASES)
def test_default_action(case, build_program, guest_env):
    binary = build_program(SIGNALS / "default.c", "O2")
    qemu = toolchain.run_qemu(binary, [case], env=guest_env)
    assert qemu.status == DEFAULT_CASES[case], qemu
    mvvm = toolchain.run_mvvm(binary, [case], env=guest_env, timeout=60)
    assert (mvvm.status, mvvm.stdout) == (qemu.status, qemu.stdout), mvvm
    if mvvm.status:
        assert_death_report(mvvm.stderr, mvvm.status)


def test_realtime_signal_status(build_program, guest_env):
    """A real-time signal's default action: 128 + its number, as on Linux (qemu-riscv64
    maps guest real-time signals to other host numbers, so its status differs)."""
    binary = build_program(SIGNALS / "default.c", "O2")
    mvvm = toolchain.run_mvvm(binary, ["realtime"], env=guest_env, timeout=60)
    assert mvvm.status == 128 + 35 and mvvm.stdout == b"case realtime\n", mvvm
    assert_death_report(mvvm.stderr, mvvm.status)


def test_beyond_qemu(build_program, guest_env):
    """sa_mask and SS_AUTODISARM, checked against what Linux prints."""
    binary = build_program(SIGNALS / "beyond_qemu.c", "O2")
    mvvm = toolchain.run_mvvm(binary, env=guest_env, timeout=60)
    assert mvvm.stdout.decode().splitlines() == [
        "sa_mask: USR1 blocked 1, USR2 blocked 1; USR2 ran inside 0, after 1",
        "SS_AUTODISARM: flags 0x2 inside the handler, 0x80000000 after"]
    assert mvvm.status == 0, mvvm


@pytest.mark.parametrize("linked", ["static", "dynamic"])
def test_precise_translations_are_cached_apart(linked, build_program, guest_env, tmp_path):
    """A handler for SIGSEGV makes the VM translate in precise mode, from then on; the
    disk cache keeps those translations in a directory of their own, and remembers the
    switch: the second run translates in precise mode from its start (what ran before
    the handler too, which the first run translated imprecise), and the third translates
    nothing. (Compiling every region when first reached, so that there are some.)
    Dynamically linked, the libraries are mapped by the time of the switch, and the
    precise cache must still be the one the next run opens at its start."""
    if linked == "static":
        binary = build_program(SIGNALS / "faults.c", "O2")
    else:
        binary = toolchain.build(SIGNALS / "faults.c", ("-O2",))
    env = {**guest_env, "XDG_CACHE_HOME": str(tmp_path), "QEMU_LD_PREFIX": SYSROOT}
    stats = tmp_path / "stats.json"
    translated = []
    for _ in range(3):
        result = toolchain.run_mvvm(binary, env=env,
                                    options=["--tier", "1", "--stats", str(stats)])
        assert result.status == 0, result
        translated.append(json.loads(stats.read_text())["regions"])
    assert len(list(tmp_path.glob("mvvm/*/*.cache"))) == 2  # imprecise, then precise
    assert 0 < translated[1] < translated[0] and translated[2] == 0


def test_frame_layout():
    """The kernel's riscv64 layouts (and glibc's ucontext_t, which the programs read)."""
    assert sizeof(SigInfo) == 128 and SigInfo.addr.offset == 16
    assert sizeof(SigContext) == 784 and SigContext.fcsr.offset == 512
    assert SigContext.end_magic.offset == 256 + 520
    assert UContext.uc_sigmask.offset == 40 and UContext.uc_mcontext.offset == 176
    assert sizeof(UContext) == 960 and RtSigFrame.uc.offset == 128
    assert FRAME_SIZE == 1088 and FRAME_SIZE % 16 == 0


@pytest.mark.parametrize("word,traps", [
    (0x00053503, True),     # ld a0, 0(a0)
    (0x00b53023, True),     # sd a1, 0(a0)
    (0x00b5202f, True),     # amoadd.w zero, a1, (a0)
    (0x00050067, False),    # jr a0: jalr's mem operand is no access
    (0x02b57553, True),     # fadd.d fa0, fa0, fa1 (dynamic rounding)
    (0x02b50553, False),    # fadd.d fa0, fa0, fa1, rne
    (0x00b50533, False),    # add a0, a0, a1
])
def test_may_trap(word, traps):
    assert may_trap(decode(word)) is traps
