"""qemu-user's command line, as its users know it: -d and -cpu with their help and their
errors, -version, -one-insn-per-tb, the QEMU_* variables, a program without the execute
bit, and the sysroot named when the dynamic loader is missing."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import toolchain
from toolchain import PROGRAMS, ROOT, run, run_mvvm, run_qemu

MANDELBROT = ROOT / "examples" / "mandelbrot"


def mvvm(*args: str, env: dict[str, str] | None = None) -> toolchain.Outcome:
    return run([sys.executable, "-m", "mvvm", *args], env=env)


def test_version():
    for flag in ("--version", "-version"):
        outcome = mvvm(flag)
        assert outcome.status == 0 and outcome.stdout.startswith(b"mvvm ")


@pytest.mark.parametrize(("option", "listed"), [("-d", b"in_asm"), ("-cpu", b"rv64")])
def test_help_lists_and_an_unknown_item_is_an_error(option, listed, cross_tools):
    helped = mvvm("run", option, "help", str(MANDELBROT))
    assert helped.status == 0 and listed in helped.stdout
    wrong = mvvm("run", option, "bogus", str(MANDELBROT), "4")
    assert (wrong.status, wrong.stdout) == (1, b"")
    assert wrong.stderr.count(b"\n") == 1 and b"bogus" in wrong.stderr
    assert run_qemu(MANDELBROT, ["4"]).status == 0      # the program itself is fine


def test_cpu_models_and_extensions(cross_tools, guest_env):
    expected = run_qemu(MANDELBROT, ["20"], env=guest_env)
    for model in ("rv64", "any", "rv64,zbkb=true,zicond=true"):
        assert run_mvvm(MANDELBROT, ["20"], ["-cpu", model], env=guest_env) == expected
    off = run_mvvm(MANDELBROT, ["20"], ["-cpu", "rv64,zba=false"], env=guest_env)
    assert off.status == 1 and b"CPU model" in off.stderr


def test_by_default_hot_code_is_compiled(cross_tools, guest_env, tmp_path):
    """The default tier mode stays tiered whatever other options set the tier (an option
    added for qemu once made every run interpret only: right, and 30 times slower)."""
    stats = tmp_path / "stats"
    outcome = run_mvvm(MANDELBROT, ["600"], ["--no-cache", "--stats", str(stats)],
                       env=guest_env)
    assert outcome.status == 0
    assert json.loads(stats.read_text())["regions"] > 0


def test_one_insn_per_tb_interprets(cross_tools, guest_env, tmp_path):
    expected = run_qemu(MANDELBROT, ["20"], env=guest_env)
    stats = tmp_path / "stats"
    outcome = run_mvvm(MANDELBROT, ["20"], ["-one-insn-per-tb", "--stats", str(stats)],
                       env=guest_env)
    assert outcome == expected
    assert '"regions": 0' in stats.read_text()


def test_qemu_environment_variables(cross_tools, guest_env, tmp_path):
    """QEMU_STRACE, QEMU_LOG and QEMU_LOG_FILENAME, QEMU_SET_ENV and QEMU_UNSET_ENV."""
    env_program = toolchain.build(PROGRAMS / "auxv.c")
    traced = run_mvvm(MANDELBROT, ["4"], env={**guest_env, "QEMU_STRACE": "1"})
    assert b"exit_group(" in traced.stderr
    log = tmp_path / "log"
    logged = run_mvvm(MANDELBROT, ["4"], ["--tier", "1"],     # translate every block
                      env={**guest_env, "QEMU_LOG": "in_asm", "QEMU_LOG_FILENAME": str(log)})
    assert logged.status == 0 and "IN:" in log.read_text()
    variables = {**guest_env, "QEMU_SET_ENV": "MVVM_UNSET_VAR=set by qemu's variable",
                 "QEMU_UNSET_ENV": "MVVM_TEST_VAR"}
    changed = run_mvvm(env_program, env=variables)
    assert b"MVVM_UNSET_VAR is set" in changed.stdout
    assert b"MVVM_TEST_VAR = [(unset)]" in changed.stdout
    assert changed == run_qemu(env_program, env=variables)


def test_a_program_without_execute_permission(cross_tools, tmp_path):
    program = tmp_path / "no-x"
    program.write_bytes(MANDELBROT.read_bytes())
    program.chmod(0o644)
    assert run_qemu(program, ["4"]).status == 1
    outcome = run_mvvm(program, ["4"])
    assert (outcome.status, outcome.stdout) == (1, b"")
    assert outcome.stderr == f"mvvm: {program}: Permission denied\n".encode()


def test_too_little_host_address_space_is_one_line():
    """Under a `ulimit -v` below the guest memory's 256 GiB reservation, MVVM cannot start:
    it says why in one line and exits 1, as qemu does with its own errors."""
    limit = "import resource; resource.setrlimit(resource.RLIMIT_AS, (16 << 30, 16 << 30))"
    outcome = run([sys.executable, "-c", f"{limit}; import runpy; import sys; "
                   f"sys.argv = ['mvvm', 'run', '{MANDELBROT}', '4']; "
                   "runpy.run_module('mvvm', run_name='__main__')"])
    assert (outcome.status, outcome.stdout) == (1, b""), outcome
    assert outcome.stderr.startswith(b"mvvm: cannot reserve ") and \
        outcome.stderr.count(b"\n") == 1, outcome.stderr


def test_the_missing_loader_names_the_sysroot(cross_tools, tmp_path):
    loader = b"/lib/ld-linux-riscv64-lp64d.so.1\0"
    nowhere = b"/lib/ld-nowhere-riscv64-lp64d.so\0"
    whole = toolchain.build(PROGRAMS / "float.c", ("-O2",)).read_bytes()
    program = tmp_path / "lost-loader"
    program.write_bytes(whole.replace(loader, nowhere))
    os.chmod(program, 0o755)
    sysroot = tmp_path / "sysroot"
    sysroot.mkdir()
    outcome = run_mvvm(program, [], ["-L", str(sysroot)])
    assert outcome.status == 1
    assert f"in the sysroot {sysroot}".encode() in outcome.stderr
    assert outcome.stderr.count(b"\n") == 1 and Path(program).exists()
