"""Linux user space: the programs in tests/programs/linux, dynamically linked against the
riscv64 sysroot, compared with qemu-riscv64 where qemu can run them; and, where it cannot
(riscv64 child processes started by execve, a confined file system), checked against the
documented behaviour.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import toolchain
from toolchain import CC, PROGRAMS, SYSROOT

LINUX = PROGRAMS / "linux"
CXX = "riscv64-linux-gnu-g++"

# Programs whose output and status must be the same as under qemu-riscv64 (all end with 0).
COMPARED = ("files", "mmap", "system", "net", "cxx", "lazy", "stack", "protect", "children",
            "robust", "bigspace", "smc")
# Compared too, and known to differ (strict xfails, with the reason).
GAPS = {"shared": "MAP_SHARED anonymous memory is private to each process under MVVM: a "
                  "forked child's stores do not reach its parent (a fork copies the guest "
                  "memory)"}
# Programs run under MVVM only (qemu-user cannot execve a riscv64 program, nor confine).
MVVM_ONLY = ("fork", "exec", "escape", "syscall_loop", "race", "protect_race")


def source(name: str) -> Path:
    (found,) = [p for p in (LINUX / f"{name}.c", LINUX / f"{name}.cc") if p.exists()]
    return found


@pytest.fixture
def build(cross_tools):
    """build(name, static=False) -> the binary; C++ with the cross g++."""

    def build(name: str, *, static: bool = False) -> Path:
        path = source(name)
        if path.suffix == ".cc" and shutil.which(CXX) is None:
            pytest.fail(f"{CXX} is not installed: scripts/setup installs it "
                        "(g++-riscv64-linux-gnu)", pytrace=False)
        flags = ("-O2", "-static") if static else ("-O2",)
        return toolchain.build(path, flags, cc=CXX if path.suffix == ".cc" else CC)

    return build


@pytest.fixture
def env(guest_env) -> dict[str, str]:
    """The tests' environment, with the sysroot for qemu (MVVM reads the same variable)."""
    return {**guest_env, "QEMU_LD_PREFIX": SYSROOT}


def run_mvvm(binary: Path | str, args: list[str] = (), options: list[str] = (), **kw):
    return toolchain.run_mvvm(Path(binary), list(args), list(options), **kw)


def test_every_linux_program_is_listed():
    on_disk = {p.stem for p in LINUX.glob("*.c")} | {p.stem for p in LINUX.glob("*.cc")}
    assert on_disk == set(COMPARED) | set(MVVM_ONLY) | set(GAPS)


@pytest.mark.parametrize("name", [*COMPARED, *(
    pytest.param(name, marks=pytest.mark.xfail(reason=why, strict=True))
    for name, why in GAPS.items())])
def test_same_as_qemu(name, build, env, tmp_path, assert_same_as_qemu):
    binary = build(name)
    args = {"files": lambda run: [str(tmp_path / f"{run}-scratch")]}.get(name, lambda run: [])
    qemu = toolchain.run_qemu(binary, args("qemu"), env=env)
    assert qemu.status == 0, qemu
    assert_same_as_qemu(qemu, run_mvvm(binary, args("mvvm"), env=env))


@pytest.mark.parametrize("tier", ["0", "1"])
@pytest.mark.parametrize("name", ["bigspace", "smc"])
def test_each_tier_alone(name, tier, build, env, assert_same_as_qemu):
    """bigspace.c's accesses above 4 GiB, of every kind, and smc.c's stores into code that
    ran, by the interpreter alone and by compiled code alone."""
    binary = build(name)
    qemu = toolchain.run_qemu(binary, [], env=env)
    assert_same_as_qemu(qemu, run_mvvm(binary, [], ["--tier", tier], env=env))


def test_stack_size_option(build, env):
    """-s and QEMU_STACK_SIZE size the stack as qemu's do (suffixes k, K and M, at least 128
    KiB, rounded up to pages), and the stack they give holds a 20 MiB recursion; a size
    that is not one is an error."""
    binary = build("stack")
    for options, variables in ((["-s", "32M"], {}), (["-s", "200000"], {}),
                               (["-s", "1500k"], {}), ([], {"QEMU_STACK_SIZE": "0x300000"})):
        args = ["20"] if options[1:] == ["32M"] else []
        qemu = toolchain.run([toolchain.QEMU, *toolchain.QEMU_CPU, *options, str(binary), *args],
                             env={**env, **variables})
        assert qemu.status == 0 and b"stack " in qemu.stdout, qemu
        assert run_mvvm(binary, args, options, env={**env, **variables}) == qemu
    wrong = run_mvvm(binary, options=["-s", "lots"], env=env)
    assert (wrong.status, wrong.stdout, wrong.stderr.count(b"\n")) == (1, b"", 1)


def test_fork_pipes_wait_and_exec(build, env):
    """fork + pipe + wait4/waitid, a child killed by a signal, kill, vfork + execve and
    posix_spawn of the program itself, a grandchild."""
    result = run_mvvm(build("fork"), env=env)
    assert result.stdout.decode().splitlines() == [
        "parent read: from child, parent is known", "child exited with 7",
        "child killed by signal 15", "exec child: argc=3 arg2=5 env=vforked",
        "exec child: argc=3 arg2=9 env=-", "fork: 0 failures"]
    assert result.status == 0, result.stderr


def test_execve_of_another_program(build, env):
    """A dynamically linked program execs a static one: same process, the new image's
    output and exit status, the environment execve passed."""
    result = run_mvvm(build("exec"), [str(toolchain.build(PROGRAMS / "auxv.c")), "x", "y"],
                      env=env)
    assert result.stdout.startswith(b"exec: pid before known\n")
    assert result.status == 3, result             # auxv exits with its argc
    missing = run_mvvm(build("exec"), ["/nonexistent"], env=env)
    assert missing.status == 127 and b"No such file or directory" in missing.stderr


def test_execve_strace_shows_the_call(build, env):
    target = build("system")
    result = run_mvvm(build("exec"), [str(target)], ["--strace"], env=env)
    assert re.search(rf'^\d+ execve\("{re.escape(str(target))}",\["{re.escape(str(target))}"\],'
                     r'\["MVVM_TEST_VAR=set by exec"\]\) = 0$', result.stderr.decode(), re.M)
    assert result.stdout.endswith(b"system: 0 failures\n") and result.status == 0


@pytest.fixture
def jail(tmp_path) -> tuple[Path, Path]:
    """A root directory holding bin/, and beside it a directory with a secret file."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "bin").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("SECRET\n")
    return root, outside


def test_confined_root_refuses_every_escape(build, env, jail):
    root, outside = jail
    shutil.copy(build("escape", static=True), root / "bin" / "escape")
    host = subprocess.Popen(["sleep", "60"], start_new_session=True)   # a group of its own
    try:
        result = run_mvvm("/bin/escape", [str(outside / "secret"), str(outside), str(host.pid)],
                          ["--root", str(root), "--no-network"], env=env)
    finally:
        host.kill()
    lines = result.stdout.decode().splitlines()
    assert result.status == 0 and "escapes: 0" in lines, result
    for attempt in ("absolute", "dotdot absolute", "dotdot relative", "symlink to /",
                    "symlink up", "absolute symlink", "hard link"):
        assert f"{attempt}: No such file or directory" in lines
    assert "symlink loop: Too many levels of symbolic links" in lines
    assert "cwd after chdir(..) x20: /" in lines
    assert "openat(/, ../../..) is /: yes" in lines
    assert "/proc/self/exe: /bin/escape" in lines
    assert "execve outside: No such file or directory" in lines
    assert "inet socket: Permission denied" in lines
    for attempt in ("kill host process", "getpgid of the host process",
                    "kill the orphan's new parent"):
        assert f"{attempt}: No such process" in lines, result
    for attempt in ("F_SETOWN host process", "F_SETOWN host group",
                    "setpgid into the host group"):
        assert f"{attempt}: Operation not permitted" in lines, result
    assert "F_SETOWN itself: set" in lines
    assert "wait4 for any child: No child processes" in lines
    assert "/proc/self/exe as a symlink: No such file or directory" in lines
    assert "write /proc/self/exe: No such file or directory" in lines
    assert "chmod /proc/self/exe: No such file or directory" in lines
    assert (outside / "secret").read_text() == "SECRET\n"
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").stat().st_mode & 0o777 == 0o644        # chmod stayed inside
    assert (root / "moved").is_dir() and (root / "sock").exists()    # stayed inside


def test_confined_dynamic_program_with_mapped_libraries(build, env, jail):
    root, _ = jail
    shutil.copy(build("cxx"), root / "bin" / "cxx")
    confined = run_mvvm("/bin/cxx", [], ["--root", str(root), "--map", f"{SYSROOT}/lib:/lib"],
                        env=env)
    assert confined == run_mvvm(build("cxx"), env=env)
    assert confined.status == 0


def test_map_without_root_sees_only_the_maps(build, env, jail):
    root, _ = jail
    shutil.copy(build("escape", static=True), root / "bin" / "escape")
    result = run_mvvm("/app/escape", ["/etc/passwd", "/tmp", str(os.getpid())],
                      ["--map", f"{root / 'bin'}:/app"], env=env)
    assert b"absolute: No such file or directory" in result.stdout
    assert b"escapes: 0" in result.stdout


def test_rights_change_between_host_accesses(build, env, tmp_path):
    """Guest threads unmap and protect a buffer that a read() fills, map a file while
    children fork and mprotect: the host process never faults, and no child inherits a
    lock held (before: SIGSEGV of the host in most runs, a hung child in some)."""
    result = run_mvvm(build("protect_race"), [str(tmp_path / "file")], env=env)
    assert result.status == 0, result
    assert result.stdout == (b"reads against munmap: 0 odd\nreads against mprotect: 0 odd\n"
                             b"children that hung: 0\n")


def test_the_host_proc_is_never_mapped_in(build, env, jail):
    """/proc/self/mem of the host's /proc would be MVVM's own memory."""
    root, _ = jail
    for option in (["--map", "/proc:/proc"], ["--map", "/proc/self:/p"], ["--root", "/proc"]):
        result = run_mvvm("/bin/escape", [], option, env=env)
        assert result.status == 1 and b"/proc is MVVM's own process" in result.stderr, result


def test_strace_decodes_arguments(build, env, tmp_path):
    result = run_mvvm(build("net"), [], ["--strace"], env=env)
    trace = result.stderr.decode()
    assert result.status == 0
    for pattern in (r"socket\(PF_INET,SOCK_STREAM\|SOCK_CLOEXEC,0\) = 3",
                    r'bind\(3,\{sin_family=AF_INET,sin_port=htons\(0\),'
                    r'sin_addr=inet_addr\("127\.0\.0\.1"\)\},16\) = 0',
                    r"listen\(3,4\) = 0",
                    r"clone\(SIGCHLD\|CLONE_CHILD_CLEARTID\|CLONE_CHILD_SETTID,NULL,NULL,NULL,"
                    r"0x[0-9a-f]+\) = \d+",
                    r"socketpair\(PF_LOCAL,SOCK_STREAM,0,0x[0-9a-f]+\) = 0",
                    r"wait4\(\d+,0x[0-9a-f]+,0,NULL\) = \d+"):
        assert re.search(rf"^\d+ {pattern}$", trace, re.M), pattern
    files = run_mvvm(build("files"), [str(tmp_path / "scratch")], ["--strace"], env=env)
    assert re.search(r'^\d+ openat\(AT_FDCWD,"data",O_RDWR\|O_CREAT\|O_EXCL\|O_CLOEXEC,0640\)'
                     r" = 3$", files.stderr.decode(), re.M)
    assert re.search(r'^\d+ unlinkat\(AT_FDCWD,"a/link",0\) = 0$', files.stderr.decode(), re.M)


def test_syscall_round_trip_program(build, env):
    """The program the syscall cost is measured with (see the issue note) runs."""
    assert run_mvvm(build("syscall_loop", static=True), ["2000"], env=env).status == 0


@pytest.mark.skipif(not os.path.isdir(SYSROOT), reason="needs the riscv64 sysroot")
def test_sysroot_option_and_environment(build, guest_env, tmp_path):
    """-L names the sysroot; without it (and without QEMU_LD_PREFIX) the default is used;
    with a sysroot that lacks the loader, the program cannot start."""
    binary = build("system")
    assert run_mvvm(binary, [], ["-L", SYSROOT], env=guest_env).status == 0
    assert run_mvvm(binary, env=guest_env).status == 0
    empty = run_mvvm(binary, [], ["-L", str(tmp_path)], env=guest_env)
    assert empty.status == 1 and b"ld-linux-riscv64" in empty.stderr


def test_execve_of_a_host_program_as_qemu_user_unless_confined(build, env, tmp_path):
    """A host program runs by default (ninja runs /bin/sh -c ...), not with --no-host-exec,
    and not under --root, where it would see the whole host."""
    exec_prog = build("exec")
    allowed = run_mvvm(exec_prog, ["/bin/echo", "from the host"], env=env)
    assert allowed.stdout == b"exec: pid before known\nfrom the host\n" and allowed.status == 0
    refused = run_mvvm(exec_prog, ["/bin/echo", "x"], ["--no-host-exec"], env=env)
    assert refused.status == 127 and b"Exec format error" in refused.stderr
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(build("exec", static=True), root / "exec")
    shutil.copy("/bin/echo", root / "bin" / "echo")
    confined = run_mvvm("/exec", ["/bin/echo", "x"], ["--root", str(root)], env=env)
    assert confined.status == 127 and b"Exec format error" in confined.stderr


def test_untouched_memory_costs_no_host_memory(build, env):
    """lazy.c maps 1 GiB and writes 16 pages of it: the VM's peak RSS stays far below."""
    binary = build("lazy")
    done = subprocess.run([sys.executable, "-c", (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"),
        sys.executable, "-m", "mvvm", "run", str(binary)], env=env, capture_output=True,
        text=True, check=True)
    assert int(done.stdout) < 256 * 1024             # KiB: the 1 GiB was never backed


def test_a_symlink_race_does_not_leave_the_root(build, env, tmp_path):
    """race.c swaps a directory of its tree for a symlink to a host directory while it
    opens, creates, stats and chmods files through that directory, for 3 s: never does
    it see or change the host file, nor create one in the host directory (without the
    kernel's help, about one try in a hundred did)."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret").write_text("HOST SECRET")
    (outside / "secret").chmod(0o644)
    shutil.copy(build("race", static=True), root / "race")
    result = run_mvvm("/race", [str(outside), "3"], ["--root", str(root)], env=env)
    assert result.status == 0, result
    tries, leaked, made = (int(w) for w in result.stdout.split() if w.isdigit())
    assert tries > 1000 and made > 0 and leaked == 0
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").stat().st_mode & 0o777 == 0o644        # chmod stayed inside
