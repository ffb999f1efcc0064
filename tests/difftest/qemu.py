"""The qemu-riscv64 reference: many snippets and states in one generated program.

Unicorn (QEMU 5.0's RISC-V) lacks Zb* and NaN-boxing, so those instructions are checked
against qemu-riscv64 (7.2) instead. The snippets and their initial states go into one static
program, built with -march=rv64gc_zba_zbb_zbs_zbc:

    for each group (one snippet, N states), for each of its states:
        jal tp, load_state      # x1, x2, x5..x31, f0..f31, fcsr, scratch <- record at gp
        <snippet>
        jal tp, save_state      # the same -> record at gp; gp += RECORD
    write(1, records, size); exit(0)

gp and tp belong to the harness, so snippets must not use them. Each record is
x[32] | f[32] | fcsr | scratch image (only when the program has memory groups); the program
overwrites each record with its final state and writes them all out. The scratch buffer sits
at the fixed address `SCRATCH`, the snippet addresses come from the symbol table, and the
in-process MVVM runs put the same bytes at the same addresses, so even pc-relative and
address arithmetic results must agree.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

from toolchain import BUILD, CC, QEMU, QEMU_CPU

from difftest.machine import SCRATCH, SCRATCH_SIZE, State

MARCH = "-march=rv64gc_zba_zbb_zbs_zbc_zbkb_zbkx"
FLAGS = (MARCH, "-nostdlib", "-static", "-Wl,--no-relax",
         f"-Wl,--section-start=.scratch={SCRATCH:#x}")
SAVED_X = [r for r in range(1, 32) if r not in (3, 4)]
FCSR_AT = 512


@dataclass(frozen=True)
class Group:
    """One snippet and the states to run it from."""

    code: bytes
    states: tuple[State, ...]


@dataclass(frozen=True)
class Result:
    """What qemu made of a program: where each snippet was, and each state's final state."""

    addresses: tuple[int, ...]
    outcomes: tuple[tuple[State, ...], ...]


def record_size(memory: bool) -> int:
    return FCSR_AT + 8 + (SCRATCH_SIZE if memory else 0)


def _pack(state: State, memory: bool) -> bytes:
    return (struct.pack("<32Q32QQ", *state.x, *state.f, state.fcsr)
            + (state.scratch if memory else b""))


def _unpack(data: bytes, initial: State, memory: bool) -> State:
    values = struct.unpack_from("<32Q32QQ", data)
    x = tuple(initial.x[r] if r in (0, 3, 4) else values[r] for r in range(32))
    scratch = data[FCSR_AT + 8:] if memory else initial.scratch
    return State(x, values[32:64], values[64], scratch)


def _copy_scratch(source: str, dest: str) -> list[str]:
    """Copy the scratch image (with t0-t3: free before loading and after saving registers)."""
    return [source.replace("REG", "t0"), dest.replace("REG", "t1"), f"li t2, {SCRATCH_SIZE // 8}",
            "1: ld t3, 0(t0)", "sd t3, 0(t1)", "addi t0, t0, 8", "addi t1, t1, 8",
            "addi t2, t2, -1", "bnez t2, 1b"]


def _state_routines(memory: bool) -> list[str]:
    image, buffer = f"addi REG, gp, {FCSR_AT + 8}", "la REG, scratch"
    return [
        "load_state:", *(_copy_scratch(image, buffer) if memory else ()),
        f"ld t0, {FCSR_AT}(gp)", "fscsr t0",
        *(f"fld f{r}, {256 + 8 * r}(gp)" for r in range(32)),
        *(f"ld x{r}, {8 * r}(gp)" for r in SAVED_X),
        "jr tp",
        "save_state:",
        *(f"sd x{r}, {8 * r}(gp)" for r in SAVED_X),
        *(f"fsd f{r}, {256 + 8 * r}(gp)" for r in range(32)),
        "frcsr t0", f"sd t0, {FCSR_AT}(gp)",
        *(_copy_scratch(buffer, image) if memory else ()),
        f"li t0, {record_size(memory)}", "add gp, gp, t0",
        "jr tp",
    ]


def _group_code(k: int, group: Group) -> list[str]:
    data = ", ".join(str(b) for b in group.code) or "0"
    lines = [f".Lgroup{k}:", "jal tp, load_state", f"snippet{k}:"]
    if group.code:
        lines.append(f".byte {data}")
    return [*lines, "jal tp, save_state", f"la tp, .Lend{k}", f"bne gp, tp, .Lgroup{k}"]


def program_source(groups: list[Group], memory: bool) -> str:
    """The assembly text; records.bin (the packed states) is .incbin'ed next to it."""
    size = record_size(memory)
    ends, total = [], 0
    for k, group in enumerate(groups):
        total += size * len(group.states)
        ends.append(f".set .Lend{k}, records + {total}")
    body = [line for k, g in enumerate(groups) for line in _group_code(k, g)]
    lines = [
        '.section .scratch, "aw", @nobits', ".balign 16", "scratch:", f".zero {SCRATCH_SIZE}",
        ".data", ".balign 16", "records:", '.incbin "records.bin"', *ends,
        ".text", ".option norvc", ".globl _start", "_start:", "la gp, records", *body,
        "li a0, 1", "la a1, records", f"li a2, {total}", "li a7, 64", "ecall",
        "li a0, 0", "li a7, 93", "ecall", *_state_routines(memory),
    ]
    return "\n".join(lines) + "\n"


def build(groups: list[Group], memory: bool) -> Path:
    """Build (or reuse) the program, named by a hash of its text and data. It is built in a
    private directory renamed into place, so parallel test workers never see half a build."""
    source = program_source(groups, memory)
    records = b"".join(_pack(s, memory) for g in groups for s in g.states)
    key = hashlib.sha256(source.encode() + records + repr(FLAGS).encode()).hexdigest()[:16]
    outdir = BUILD / f"difftest-{key}"
    if not outdir.exists():
        tmp = BUILD / f"difftest-{key}.tmp{os.getpid()}"
        tmp.mkdir(parents=True, exist_ok=True)
        (tmp / "prog.S").write_text(source)
        (tmp / "records.bin").write_bytes(records)
        subprocess.run([CC, *FLAGS, "-o", "prog", "prog.S"], check=True, cwd=tmp)
        (tmp / "records.bin").unlink()          # it is inside prog; prog.S stays, for reading
        try:
            tmp.rename(outdir)
        except OSError:                 # another worker got there first
            shutil.rmtree(tmp)
    return outdir / "prog"


def snippet_addresses(exe: Path, count: int) -> tuple[int, ...]:
    out = subprocess.run([CC.replace("gcc", "nm"), str(exe)], capture_output=True, text=True,
                         check=True).stdout
    symbols = {name: int(addr, 16) for addr, _, name in
               (line.split() for line in out.splitlines() if line.count(" ") == 2)}
    return tuple(symbols[f"snippet{k}"] for k in range(count))


def run(groups: list[Group], memory: bool = False, keep: bool = True) -> Result:
    """Run every group's states under qemu-riscv64; the final states, per group. keep=False
    removes the program afterwards (soak runs make a new one per batch)."""
    exe = build(groups, memory)
    try:
        return _results(exe, groups, memory)
    finally:
        if not keep:
            shutil.rmtree(exe.parent, ignore_errors=True)


def _results(exe: Path, groups: list[Group], memory: bool) -> Result:
    done = subprocess.run([QEMU, *QEMU_CPU, str(exe)], capture_output=True, timeout=600)
    if done.returncode != 0 or done.stderr:
        raise RuntimeError(f"{exe} under qemu: status {done.returncode}: {done.stderr[:500]!r}")
    size, data, at = record_size(memory), done.stdout, 0
    outcomes = []
    for group in groups:
        finals = []
        for state in group.states:
            finals.append(_unpack(data[at:at + size], state, memory))
            at += size
        outcomes.append(tuple(finals))
    if at != len(data):
        raise RuntimeError(f"{exe}: {len(data)} bytes of output, expected {at}")
    return Result(snippet_addresses(exe, len(groups)), tuple(outcomes))
