"""The `mvvm` command line: `mvvm run PROG [ARGS]`, a drop-in for `qemu-riscv64 PROG [ARGS]`,
and `mvvm wasm PROG -o PROG.wasm`, the program as a WASI module.

qemu-user's spellings of the options are accepted too (-strace, -E, -U, -L, -d, -D,
-cpu, -s, -one-insn-per-tb, -version), and so are the QEMU_* environment variables that
stand for them, so scripts written for qemu keep working.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from typing import TYPE_CHECKING

from mvvm.elf.loader import ElfError
from mvvm.errors import GuestExit, GuestSignal, signal_name
from mvvm.runtime.layout import STACK_SIZE

if TYPE_CHECKING:
    from mvvm.linux.process import Process


# The signals whose default action dumps core: a death by one of them gets a line on stderr
# (as qemu's "uncaught target signal"); one that only terminates (SIGPIPE after
# `| head -1`, SIGTERM, SIGINT) gets none, as under Linux and qemu.
CORE_SIGNALS = frozenset({signal.SIGQUIT, signal.SIGILL, signal.SIGTRAP, signal.SIGABRT,
                          signal.SIGBUS, signal.SIGFPE, signal.SIGSEGV, signal.SIGXCPU,
                          signal.SIGXFSZ, signal.SIGSYS})


# -d items: what each logs.
LOG_ITEMS = {"in_asm": "show target assembly code for each translated block",
             "strace": "log each system call, as -strace does"}
# -cpu models (all the same CPU: what MVVM implements), and the extensions a model string
# may name (rv64,zbkb=true...), each of which is always on.
CPU_MODELS = {"rv64": "RV64GC and the extensions riscv_hwprobe reports",
              "any": "the same", "max": "the same"}
CPU_EXTENSIONS = frozenset({"i", "m", "a", "f", "d", "c", "zicsr", "zifencei", "zba", "zbb",
                            "zbc", "zbs", "zbkb", "zbkc", "zbkx", "zicond", "zcb", "zcmop", "zimop",
                            "zawrs", "zicbom", "zicboz", "zihintpause", "zihintntl", "zfh",
                            "zfhmin", "zfa"})
VERSION = "0.1.0"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mvvm", description=__doc__.splitlines()[0])
    parser.add_argument("--version", "-version", action="version",
                        version=f"mvvm {VERSION} (runs riscv64 programs as qemu-riscv64 7.2)")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a riscv64 Linux program")
    run.add_argument("--strace", "-strace", action="store_true",
                     default=bool(os.environ.get("QEMU_STRACE")),
                     help="print each syscall and its result on stderr, like qemu -strace")
    run.add_argument("-E", "--env", action="append", default=[], metavar="VAR=VALUE",
                     help="set a variable in the guest's environment")
    run.add_argument("-U", "--unset", action="append", default=[], metavar="VAR",
                     help="remove a variable from the guest's environment")
    run.add_argument("-0", "--argv0", help="argv[0] for the guest (default: PROG)")
    run.add_argument("-d", "--log", default=os.environ.get("QEMU_LOG", ""), metavar="ITEMS",
                     help="comma-separated log items (-d help lists them)")
    run.add_argument("-cpu", "--cpu", default=os.environ.get("QEMU_CPU", "rv64"),
                     metavar="MODEL", help="the CPU model, as qemu's -cpu (-cpu help lists "
                     "them; all are the one CPU MVVM implements)")
    run.add_argument("-g", "--gdb", type=int, metavar="PORT",
                     default=int(os.environ["QEMU_GDB"]) if os.environ.get("QEMU_GDB") else None,
                     help="wait for gdb on localhost:PORT and run as it says (qemu: -g)")
    run.add_argument("-s", "--stack-size", default=os.environ.get("QEMU_STACK_SIZE"),
                     metavar="SIZE", help="the guest's stack in bytes, with a k or M suffix "
                     "for KiB or MiB, as qemu -s (at least 128 KiB; default 8 MiB)")
    run.add_argument("-one-insn-per-tb", "-singlestep", dest="tier", action="store_const",
                     const="0", help="run one instruction at a time: as --tier 0")
    run.add_argument("-D", "--log-file", default=os.environ.get("QEMU_LOG_FILENAME"),
                     help="write the log here instead of stderr")
    run.add_argument("--no-cache", action="store_true",
                     help="neither use nor fill the on-disk code cache")
    run.add_argument("-L", "--sysroot", metavar="DIR",
                     help="riscv64 sysroot for the dynamic loader and absolute guest paths, "
                          "like qemu -L (default: $QEMU_LD_PREFIX, else /usr/riscv64-linux-gnu)")
    run.add_argument("--root", metavar="DIR",
                     help="confine the guest to DIR, seen as /; PROG is then a guest path")
    run.add_argument("--map", action="append", default=[], metavar="HOST:GUEST",
                     help="show host directory HOST at guest path GUEST (confines the guest)")
    run.add_argument("--no-network", action="store_true",
                     help="refuse sockets other than AF_UNIX")
    run.add_argument("--host-exec", action=argparse.BooleanOptionalAction,
                     help="whether the guest may execve host (non-riscv64) programs, as "
                          "under qemu-user (default: yes, but not under --root or --map)")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="kill the guest with SIGXCPU after this much wall time")
    run.add_argument("--tier", choices=("0", "1", "tiered"),
                     help="0: interpret only; 1: compile all code when first reached; "
                     "tiered (default): interpret, and compile hot code in the background")
    run.add_argument("--perfmap", "-perfmap", dest="profiler", action="store_const",
                     const="perfmap", help="write /tmp/perf-PID.map, naming each compiled "
                     "region (region_<guest pc>) for perf, like qemu -perfmap")
    run.add_argument("--jitdump", "-jitdump", dest="profiler", action="store_const",
                     const="jitdump", help="write ./jit-PID.dump with the compiled code, for "
                     "perf record -k 1 and perf inject --jit, like qemu -jitdump")
    run.add_argument("--stats", metavar="FILE",
                     help="write MVVM's counters (regions, translate/compile/execute seconds) "
                          "as JSON to FILE ('-' for stderr) when the guest ends")
    run.add_argument("program")
    run.add_argument("args", nargs=argparse.REMAINDER)
    # One default for the two options that set the tier (-one-insn-per-tb is the other):
    # an option's own default would be overridden by whichever was added first.
    run.set_defaults(tier="0" if os.environ.get("QEMU_SINGLESTEP") else "tiered")
    wasm = commands.add_parser("wasm", help="translate a static riscv64 Linux program into "
                               "a WebAssembly (WASI preview1) module")
    wasm.add_argument("program")
    wasm.add_argument("-o", "--output", metavar="OUT.wasm",
                      help="where to write the module (default: PROG.wasm)")
    wasm.add_argument("--html", metavar="OUT.html",
                      help="also write a page that runs the module in a browser")
    wasm.add_argument("--args", default="", metavar="ARGS",
                      help="the page's initial arguments (its URL's ?args= overrides them)")
    wasm.add_argument("--strace", action="store_true",
                      help="make the module print each syscall on stderr as it runs")
    return parser


def _environment(options: argparse.Namespace) -> list[str]:
    """The host's environment, changed by QEMU_SET_ENV/QEMU_UNSET_ENV (comma-separated, as
    qemu reads them), then by -E and -U."""
    env = dict(os.environ)
    sets = [s for s in os.environ.get("QEMU_SET_ENV", "").split(",") if s]
    unsets = [u for u in os.environ.get("QEMU_UNSET_ENV", "").split(",") if u]
    for item in [*sets, *options.env]:
        name, _, value = item.partition("=")
        env[name] = value
    for name in [*unsets, *options.unset]:
        env.pop(name, None)
    return [f"{k}={v}" for k, v in env.items()]


def _ensure_standard_fds() -> None:
    """The guest's fds 0-2 are the host's; if one is closed, the VM's own next file would
    take its number and be reachable by the guest, so park /dev/null there first."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)


def _time_limit(process: Process, seconds: float) -> None:
    """Interrupt the guest after `seconds`, as RLIMIT_CPU would (SIGXCPU)."""
    reason = GuestSignal(signal.SIGXCPU, f"time limit of {seconds:g} s exceeded")
    timer = threading.Timer(seconds, process.interrupt, (reason,))
    timer.daemon = True
    timer.start()


def _stack_size(text: str | None) -> int | None:
    """qemu's -s: a C integer (0x.. hex, 0.. octal) whose next character may be M (MiB) or
    k/K (KiB), anything after it ignored; None for a size that is not one, or zero."""
    if text is None:
        return STACK_SIZE
    number = re.match(r"\s*(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.?)", text)
    if number is None:
        return None
    digits = number[1]
    base = 16 if digits[:2].lower() == "0x" else 8 if digits[0] == "0" else 10
    size = int(digits, base) * {"M": 1 << 20, "k": 1 << 10, "K": 1 << 10}.get(number[2], 1)
    return size or None


def _listed(options: argparse.Namespace) -> int | None:
    """-d help and -cpu help print what there is (status 0); an unknown item or model is
    an error (status 1), as under qemu. None: go on and run."""
    items = [item for item in options.log.split(",") if item]
    if "help" in items or options.cpu == "help":
        table = LOG_ITEMS if "help" in items else CPU_MODELS
        print("\n".join(f"{name:<15} {what}" for name, what in table.items()))
        return 0
    unknown = [item for item in items if item not in LOG_ITEMS]
    if unknown:
        print(f"mvvm: unknown log item '{unknown[0]}' (-d help lists them)", file=sys.stderr)
        return 1
    model, *extensions = options.cpu.split(",")
    wrong = [e for e in extensions if e.partition("=")[0].lower() not in CPU_EXTENSIONS
             or e.partition("=")[2].lower() not in ("true", "on", "")]
    if model not in CPU_MODELS or wrong:
        print(f"mvvm: unable to find CPU model '{options.cpu}' (-cpu help lists them; "
              "extensions may only be turned on)", file=sys.stderr)
        return 1
    return None


def wasm(options: argparse.Namespace) -> int:
    from mvvm.wasi.page import page
    from mvvm.wasi.program import build

    try:
        output = build(options.program, strace=options.strace)
    except ElfError as error:
        print(f"mvvm: {options.program}: {error}", file=sys.stderr)
        return 1
    for warning in output.warnings:
        print(f"mvvm: warning: {warning}", file=sys.stderr)
    target = options.output or options.program + ".wasm"
    try:
        with open(target, "wb") as out:
            out.write(output.wasm)
        if options.html:
            target = options.html
            with open(target, "w") as out:
                out.write(page(output.wasm, os.path.basename(options.program), options.args))
    except OSError as error:
        print(f"mvvm: cannot write {target}: {error.strerror}", file=sys.stderr)
        return 1
    return 0


def run(options: argparse.Namespace) -> int:
    from mvvm.linux.process import FileSystemOptions, start_process

    listed = _listed(options)
    if listed is not None:
        return listed
    stack_size = _stack_size(options.stack_size)
    if stack_size is None:
        print(f"mvvm: invalid stack size '{options.stack_size}'", file=sys.stderr)
        return 1
    _ensure_standard_fds()
    # ^C is the guest's, as under qemu: killed by SIGINT unless it catches it (or MVVM
    # was started with it ignored). Python's own handler would only run between bytecodes
    # (never, while the guest computes) and raise KeyboardInterrupt in whatever callback
    # from wasm ran next.
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    log = open(options.log_file, "w") if options.log_file else sys.stderr  # noqa: SIM115
    items = options.log.split(",")
    in_asm = log if "in_asm" in items else None
    strace = log if "strace" in items else sys.stderr if options.strace else None
    argv = [options.argv0 or options.program, *options.args]
    process = None
    try:
        files = FileSystemOptions(options.sysroot, options.root, options.map)
        process = start_process(options.program, argv, _environment(options), in_asm=in_asm,
                                strace=strace, files=files,
                                network=not options.no_network,
                                host_exec=_host_exec(options),
                                tier="0" if options.gdb else options.tier,
                                profiler=options.profiler, stack_size=stack_size)
        if options.no_cache:
            process.cache_dir = None
        if options.timeout is not None:
            _time_limit(process, options.timeout)
        if options.gdb is not None:
            from mvvm.gdbstub import GdbStub

            GdbStub(process, options.gdb).serve()
        else:
            process.run()
    except ElfError as error:
        print(f"mvvm: {options.program}: {error}", file=sys.stderr)
        return 1
    except GuestExit as done:
        return done.status
    except GuestSignal as killed:
        if killed.signo in CORE_SIGNALS:
            print(f"mvvm: guest killed by {signal_name(killed.signo)}: {killed}",
                  file=sys.stderr)
        return 128 + killed.signo
    finally:
        if options.stats and process is not None:
            _write_stats(options.stats, process.stats.report())
    return 0


def _host_exec(options: argparse.Namespace) -> bool:
    """Host programs run, as qemu-user runs them, unless the guest is confined (a host
    program would see the whole host file system) or the flag says otherwise."""
    if options.host_exec is not None:
        return options.host_exec
    return not (options.root or options.map)


def _write_stats(path: str, report: dict[str, float]) -> None:
    import json  # only here: a run without --stats need not load it
    text = json.dumps(report)
    if path == "-":
        print(text, file=sys.stderr)
    else:
        with open(path, "w") as out:
            out.write(text + "\n")


def entry() -> None:
    """The console script: run, then leave without tearing down the wasmtime store and its
    memory reservations, which costs a run of hello world a quarter of its time."""
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


INTERNAL_ERROR = 70          # EX_SOFTWARE: MVVM itself failed, not the guest


def main(argv: list[str] | None = None) -> int:
    options = _parser().parse_args(argv)
    try:
        return wasm(options) if options.command == "wasm" else run(options)
    except KeyboardInterrupt:           # ^C before run() gave SIGINT back to the guest
        return 128 + signal.SIGINT
    except MemoryError as error:        # the host's limits, not a bug: as qemu's own errors
        print(f"mvvm: {error}", file=sys.stderr)
        return 1
    except Exception as error:      # noqa: BLE001 - one line, never a traceback
        if os.environ.get("MVVM_DEBUG"):
            raise
        print(f"mvvm: internal error: {type(error).__name__}: {error} "
              "(MVVM_DEBUG=1 shows where)", file=sys.stderr)
        return INTERNAL_ERROR
