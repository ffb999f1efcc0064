"""The benchmark suite (bench/) in CI: every benchmark at its quick size must exit 0 under
qemu-riscv64, under MVVM and as its `mvvm wasm` module, and print the same result line
under all three.  Each benchmark
checks its own answer, so this is a correctness test of MVVM on real workloads; no time
is asserted, since CI machines are too noisy for that.

Also the harness's own judgement: a wrong answer must count as a failure, never as a time.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pytest` (unlike `python -m pytest`) does not add the root
    sys.path.insert(0, str(ROOT))

from bench import profile, programs  # noqa: E402
from bench.measure import MVVM_RUNNER, NATIVE_RUNNER, QEMU_RUNNER, Results, Run  # noqa: E402
from bench.report import build_table, format_scores, program_row  # noqa: E402

# Every C program in bench/src is a benchmark: one missing from the registry fails here.
SOURCES = sorted(path.stem for path in programs.SOURCES.glob("*.c"))


@pytest.mark.parametrize("name", SOURCES)
def test_quick_run_is_correct_under_mvvm_its_module_and_qemu(name: str, tmp_path: Path) -> None:
    report = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--no-native",
                           "--programs", name, "--json", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (result,) = json.loads(report.read_text())["programs"]
    qemu, mvvm, wasm = (result["runs"][runner][0] for runner in ("qemu", "mvvm", "wasm"))
    assert (qemu["status"], mvvm["status"], wasm["status"]) == (0, 0, 0)
    assert mvvm["stdout"] == wasm["stdout"] == qemu["stdout"] != ""
    assert result["module/elf"] > 1
    if name == "coremark":      # times its iterations itself, as CoreMark does
        assert set(result["scores"]) == {"qemu", "mvvm", "wasm"}


def test_registry_matches_sources() -> None:
    assert sorted(p.name for p in programs.PROGRAMS) == SOURCES


def test_select_by_name_and_group() -> None:
    assert [p.name for p in programs.select("hello,float")] == [
        "nbody", "spectralnorm", "mandelbrot", "linsolve", "hello"]
    with pytest.raises(ValueError, match="nope"):
        programs.select("sha256,nope")


def _run(stdout: str, status: int = 0, seconds: float = 1.0, stderr: str = "") -> Run:
    return Run(seconds, status, stdout, stderr)


def test_wrong_output_is_a_failure_not_a_time() -> None:
    program = programs.PROGRAMS[0]
    runs = {"qemu": [_run("42\n")], "mvvm": [_run("41\n", seconds=0.1)]}
    row = program_row(program, runs, [QEMU_RUNNER, MVVM_RUNNER])
    assert row.failed == {"mvvm"} and "mvvm" not in row.values
    assert "differs from qemu" in row.problems[0]


def test_geomean_covers_good_compute_bound_rows_only() -> None:
    results = Results()
    chosen = programs.select("sha256,crc32,sort,hello")
    times = {"sha256": (1.0, 2.0), "crc32": (1.0, 8.0), "sort": (1.0, 100.0), "hello": (1.0, 9.0)}
    for name, (qemu, mvvm) in times.items():
        results.add(name, "qemu", _run("ok\n", seconds=qemu))
        results.add(name, "mvvm", _run("ok\n", 1 if name == "sort" else 0, seconds=mvvm))
    table = build_table(chosen, results, [QEMU_RUNNER, MVVM_RUNNER])
    assert table.mean.count == 2  # sort failed, hello is start-up
    assert table.mean.values["mvvm/qemu"] == pytest.approx(4.0)


def test_a_self_timed_rate_is_the_median_of_what_the_runs_printed() -> None:
    """bench_score's `score:` line on stderr: each runner's median rate, and MVVM's as a
    share of native's and a multiple of qemu's; a runner with a run that printed none has
    no rate."""
    results = Results()
    (coremark,) = programs.select("coremark")
    for native, qemu, mvvm in ((100.0, 20.0, 60.0), (90.0, 25.0, 70.0), (110.0, 30.0, 65.0)):
        for runner, rate in (("native", native), ("qemu", qemu), ("mvvm", mvvm)):
            results.add("coremark", runner,
                        _run("ok\n", stderr=f"warming up\nscore: {rate} per second\n"))
    runners = [NATIVE_RUNNER, QEMU_RUNNER, MVVM_RUNNER]
    table = build_table([coremark], results, runners)
    assert table.compute[0].scores == {"native": 100.0, "qemu": 25.0, "mvvm": 65.0}
    assert format_scores(table).splitlines()[-1].split() == [
        "coremark", "100", "25", "65", "65%", "2.60"]
    results.add("coremark", "mvvm", _run("ok\n"))
    assert "mvvm" not in build_table([coremark], results, runners).compute[0].scores


def test_profile_sorts_the_guest_threads_samples_into_engine_parts() -> None:
    """perf's samples (pid/tid ip symbol): the guest thread is the last process's main
    thread; its other threads are the background compiler; perf's own process is ignored."""
    script = "\n".join([
        " 10/10  55 execute_command_internal",        # perf's child before it execs: ignored
        " 20/20  7f00 region_10762",
        " 20/20  7f01 region_107bc",
        " 20/20  7f02 run",
        " 20/20  7f03 lookup",
        " 20/20  7f04 interpret",
        " 20/20  7f05 _PyEval_EvalFrameDefault",
        " 20/20  7f06",                               # no symbol: host
        " 20/21  7f07 <regalloc2::...>::init",        # the compiler thread
    ])
    found = profile.summarize(profile._parse(script))
    assert found.shares == {"tier 1": 2 / 7, "dispatch": 2 / 7, "tier 0": 1 / 7, "host": 2 / 7}
    assert found.background_seconds == 1 / profile.FREQUENCY


def test_embedding_latency_bench_runs() -> None:
    """`python3 -m bench.embed --quick`: every figure measured, every result right."""
    done = subprocess.run([sys.executable, "-m", "bench.embed", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "call add(1, 2)" in done.stdout and "restore, 64 MiB touched" in done.stdout


def test_compare_times_revisions_in_turn_and_checks_their_output() -> None:
    """`bench.compare` of HEAD against the working tree: a line per program with both
    times and their ratio, and a run whose output differs is a problem, not a time."""
    from bench import compare

    results = compare.compare("hello,sieve", ["HEAD", "."], rounds=1, quick=True)
    assert [name for name, _ in results] == ["sieve", "hello"]
    assert all(run.ok and run.stdout for _, runs in results for run in runs)
    assert compare.problems(results, ["HEAD", "."]) == []
    text = compare.report(results, ["HEAD", "."])
    assert text.splitlines()[0].split() == ["program", "HEAD", ".", "./HEAD"]
    assert text.splitlines()[-1].startswith("geomean")
    wrong = [("sieve", [results[0][1][0], _run("another answer\n")])]
    assert compare.problems(wrong, ["HEAD", "."]) == ["sieve at .: another output than at HEAD"]


def test_a_code_layout_moves_every_region_and_keeps_the_trap_map(monkeypatch) -> None:
    """bench/layout.py's padding: a batch module gets one function more, first, and its
    trap map still points at each guest instruction's own code, moved with it."""
    from bench import layout
    from mvvm.isa.encoder import asm
    from mvvm.translator.modules import pack
    from mvvm.translator.translate import emit_region
    from mvvm.wasm import encoder as w

    words = [asm("ld", rd=10, rs1=11, imm=8), asm("addi", rd=10, rs1=10, imm=1),
             asm("sd", rs1=11, rs2=10, imm=16), asm("jalr", rd=0, rs1=1, imm=0)]
    code = emit_region(0x10000, lambda pc: words[(pc - 0x10000) // 4]
                       if 0 <= pc - 0x10000 < 4 * len(words) else None)
    plain, plain_traps = pack("batch_plain", [code])
    monkeypatch.setattr(w.Module, "function", w.Module.function)   # restored afterwards
    monkeypatch.setattr(w.Module, "encode", w.Module.encode)
    layout._pad(2)
    padded, padded_traps = pack("batch_padded", [code])
    assert len(padded) > len(plain)
    assert padded_traps.pcs == plain_traps.pcs
    moved = padded_traps.offsets[0] - plain_traps.offsets[0]
    assert moved > 0
    assert [padded[at] for at in padded_traps.offsets] == [
        plain[at] for at in plain_traps.offsets]
    assert all(b - a == moved
               for a, b in zip(plain_traps.offsets, padded_traps.offsets, strict=True))


def test_a_program_runs_alike_under_every_code_layout() -> None:
    """`python3 bench/layout.py K run PROG` is `mvvm run PROG`, whatever K."""
    from bench.build import RISCV64, build

    sieve = programs.select("sieve")[0]
    command = [str(build(sieve.source, RISCV64)), *sieve.args(True)]
    outputs = {subprocess.run([sys.executable, str(ROOT / "bench" / "layout.py"), str(k),
                               "run", "--tier", "1", "--no-cache", *command],
                              capture_output=True, text=True, timeout=300, cwd=ROOT).stdout
               for k in (0, 3)}
    assert len(outputs) == 1 and outputs.pop().startswith("sieve")
