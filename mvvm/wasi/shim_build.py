"""Build the shim (mvvm/wasi/shim/*.c) into mvvm/wasi/shim.wasm: `python3 -m mvvm.wasi.shim_build`.

The shim is C compiled for wasm32 with no libc (clang-16 and wasm-ld-16 from Debian's
clang-16 and lld-16, and compiler-rt's wasm32 builtins for 128-bit arithmetic from
libclang-rt-16-dev-wasm32). The built module ships in the package, so `mvvm wasm` needs no
compiler; the tests build it again and check that it is the same.

What the C needs of MVVM's tables it gets from headers written here: the VM state's
layout and exit reasons (mvvm.runtime.layout), the FP slow path's operation numbers
(mvvm.runtime.fp_soft.SLOW_OPS), the syscalls (mvvm.linux.syscalls:
(SYS_<name> numbers and the names, for the trace), and the config keys
(mvvm.wasi.glue.Config): nothing is written twice.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from mvvm.runtime import fp_soft, layout
from mvvm.wasi.glue import Config

HERE = Path(__file__).parent
SOURCES = HERE / "shim"
OUTPUT = HERE / "shim.wasm"
CLANG = "clang-16"
BUILTINS = "/usr/lib/llvm-16/lib/clang/16/lib/wasi/libclang_rt.builtins-wasm32.a"
FLAGS = ["--target=wasm32", "-O2", "-nostdlib", "-mbulk-memory", "-msign-ext",
         "-fno-builtin", "-ffreestanding", "-Wall", "-Wextra", "-Werror",
         "-Wno-unused-parameter", "-Wl,--no-entry", "-Wl,--strip-debug",
         "-Wl,-z,stack-size=65536"]
FP_NAMES = {"fadd": "ADD", "fsub": "SUB", "fmul": "MUL", "fdiv": "DIV", "fsqrt": "SQRT",
            "fmadd": "MADD", "fmsub": "MSUB", "fnmsub": "NMSUB", "fnmadd": "NMADD",
            "fmin": "MIN", "fmax": "MAX", "feq": "EQ", "flt": "LT", "fle": "LE"}


def layout_header() -> str:
    names = [name for name in dir(layout) if name.startswith(("VM_", "REASON_"))]
    lines = [f"#define {name} {getattr(layout, name):#x}" for name in names]
    lines.append(f"#define BIAS {layout.BIAS:#x}ull")
    lines += [f"#define CONFIG_{key.name} {key.value}" for key in Config]
    return "\n".join(["#pragma once", *lines, ""])


ZFA_OPS = ("fli", "fminm", "fmaxm", "fround", "froundnx", "fleq", "fltq")


def fp_ops_header() -> str:
    """fp.c's operation numbers: SLOW_OPS lists each format's operations, single then
    double, then the conversions between formats, the same operations for half, Zfa's
    per format (single, double, half), and fcvtmod.w.d."""
    ops = list(fp_soft.SLOW_OPS)
    per_format = ops.index("fadd.d")
    conversions = [f"fcvt.{p}.{q}" for p, q in (("s", "d"), ("d", "s"), ("s", "h"),
                                                 ("h", "s"), ("d", "h"), ("h", "d"))]
    lines = ["#pragma once", f"#define FP_PER_FORMAT {per_format}",
             f"#define FP_CVT_FIRST {ops.index('fcvt.w.s')}",
             f"#define FP_HALF_FIRST {ops.index('fadd.h')}",
             f"#define FP_ZFA_FIRST {ops.index('fli.s')}",
             f"#define FP_ZFA_PER_FORMAT {len(ZFA_OPS)}",
             f"#define FP_FCVTMOD_W_D {ops.index('fcvtmod.w.d')}"]
    lines += [f"#define FP_CVT_{name[5].upper()}_{name[7].upper()} {ops.index(name)}"
              for name in conversions]
    lines += [f"#define FP_{FP_NAMES[name.split('.')[0]]} {ops.index(name)}"
              for name in ops[:per_format] if name.split(".")[0] in FP_NAMES]
    lines += [f"#define FP_ZFA_{op.upper()} {k}" for k, op in enumerate(ZFA_OPS)]
    expected = [f"fcvt.{kind}.s" if to else f"fcvt.s.{kind}"
                for kind in ("w", "wu", "l", "lu") for to in (True, False)]
    layout = [
        *ops[:ops.index("fcvt.w.s")], *expected,
        *(name.replace(".s", ".d") for name in ops[:per_format]), *conversions,
        *(name.replace(".s", ".h") for name in ops[:per_format]),
        *(f"{op}.{p}" for p in ("s", "d", "h") for op in ZFA_OPS), "fcvtmod.w.d"]
    if ops != layout:
        raise SystemExit(f"fp.c expects SLOW_OPS as {layout}")
    return "\n".join([*lines, ""])


def syscall_names_header() -> str:
    from mvvm.linux.syscalls import TABLE

    count = max(TABLE) + 1
    names = ", ".join(f'"{TABLE[n].name}"' if n in TABLE else "0" for n in range(count))
    numbers = "".join(f"#define SYS_{TABLE[n].name} {n}\n" for n in sorted(TABLE))
    return (f"#pragma once\n{numbers}#define SYSCALL_NAMES {count}\n"
            f"static const char *const syscall_names[SYSCALL_NAMES] = {{{names}}};\n")


def build(output: Path = OUTPUT) -> Path:
    """Compile the shim to output (the package's shim.wasm by default)."""
    with tempfile.TemporaryDirectory() as generated:
        include = Path(generated)
        (include / "layout.h").write_text(layout_header())
        (include / "fp_ops.h").write_text(fp_ops_header())
        (include / "syscall_names.h").write_text(syscall_names_header())
        sources = sorted(str(p) for p in SOURCES.glob("*.c"))
        built = include / "shim.wasm"
        subprocess.run([CLANG, *FLAGS, f"-I{include}", "-o", str(built), *sources, BUILTINS],
                       check=True)
        shutil.copyfile(built, output)
    return output


if __name__ == "__main__":
    print(build(Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT))
