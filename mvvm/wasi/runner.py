"""Run a `mvvm wasm` module with wasmtime-py.

    python3 -m mvvm.wasi.runner [--dir DIR]... [--argv0 NAME] PROG.wasm [ARGS]

The module needs nothing of MVVM: this is the few lines any wasmtime embedding needs,
with the engine features the module uses turned on. A trap (a guest access outside its
memory) ends the program as SIGSEGV would, with the status a shell shows.
"""

from __future__ import annotations

import argparse
import os
import sys

import wasmtime as wt

# What translated code uses: two memories besides the shim's, regions that tail-call
# each other, atomics for the A extension, relaxed SIMD for fused multiply-adds.
FEATURES = ("wasm_multi_memory", "wasm_tail_call", "wasm_threads", "wasm_relaxed_simd",
            "wasm_bulk_memory", "wasm_relaxed_simd_deterministic")
SIGSEGV_STATUS = 139


def engine() -> wt.Engine:
    """An engine with the module's features, which keeps what Cranelift compiled in
    wasmtime's cache ($XDG_CACHE_HOME/wasmtime): a second run of a module starts at once.
    No copy-on-write image of the module's data: one instance gains nothing from it (the
    data is copied either way), and sealing the image's memfd fails now and then on a
    loaded machine (EBUSY, "cannot add seals to the memfd"), which ends the run."""
    config = wt.Config()
    for feature in FEATURES:
        setattr(config, feature, True)
    config.memory_init_cow = False
    config.cache = True
    return wt.Engine(config)


def run(path: str, argv: list[str], *, dirs: list[str] = (), env: dict[str, str] | None = None,
        stdout: str | None = None, stderr: str | None = None) -> int:
    """Run the module; its exit status. argv[0] is the program's name for the guest;
    dirs: host directories the guest sees (each under its own name, "." for the current
    one); stdout, stderr: files to write instead of inheriting the host's."""
    eng = engine()
    module = wt.Module.from_file(eng, path)
    store = wt.Store(eng)
    wasi = wt.WasiConfig()
    wasi.argv = argv
    wasi.env = list((env if env is not None else os.environ).items())
    wasi.inherit_stdin()
    if stdout is None:
        wasi.inherit_stdout()
    else:
        wasi.stdout_file = stdout
    if stderr is None:
        wasi.inherit_stderr()
    else:
        wasi.stderr_file = stderr
    for directory in dirs:
        wasi.preopen_dir(directory, directory)
    store.set_wasi(wasi)
    linker = wt.Linker(eng)
    linker.define_wasi()
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    try:
        exports["_start"](store)
    except wt.ExitTrap as exit_:
        return exit_.code
    except (wt.Trap, wt.WasmtimeError) as trap:
        status = exports["exit_status"](store)
        if status >= 0:                 # an exit with a status wasmtime does not take
            return status
        cause = trap.message.strip().splitlines()[-1].strip().partition(": ")[2]
        print(f"mvvm: guest killed by SIGSEGV: {cause}", file=sys.stderr)
        return SIGSEGV_STATUS
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(prog="python3 -m mvvm.wasi.runner",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--dir", action="append", default=[],
                        help="a host directory the guest may use (repeatable)")
    parser.add_argument("--argv0", help="the program's name for the guest (default: MODULE)")
    parser.add_argument("module")
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    return run(options.module, [options.argv0 or options.module, *options.args],
               dirs=options.dir)


if __name__ == "__main__":
    sys.exit(main())
