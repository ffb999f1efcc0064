"""The guest's view of paths: the sysroot lookup (qemu's -L) and the confined tree (--root,
--map), whose resolution must never leave the mounted directories."""

from __future__ import annotations

import errno
import os

import pytest

from mvvm.errors import SyscallError
from mvvm.linux.paths import ConfinedPaths, HostPaths


@pytest.fixture
def tree(tmp_path, monkeypatch):
    """root/ (the guest's /) with etc/ and a few links; lib/ mapped at /usr/lib; a secret
    outside both."""
    root, lib = tmp_path / "root", tmp_path / "lib"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hosts").write_text("guest hosts\n")
    lib.mkdir()
    (lib / "libc.so").write_text("lib\n")
    (tmp_path / "secret").write_text("SECRET\n")
    os.symlink("/etc", root / "abs")                    # absolute: the guest's /etc
    os.symlink("../../../..", root / "etc" / "up")
    os.symlink(str(tmp_path / "secret"), root / "host-abs")
    monkeypatch.chdir(root)
    return ConfinedPaths({b"/": os.fsencode(root), b"/usr/lib": os.fsencode(lib)}), tmp_path


@pytest.mark.parametrize(("guest", "canonical"), [
    (b"/etc/hosts", b"/etc/hosts"),
    (b"/../../etc/./hosts", b"/etc/hosts"),
    (b"/abs/hosts", b"/etc/hosts"),
    (b"/etc/up/etc/hosts", b"/etc/hosts"),
    (b"/etc/up/../../usr/lib/libc.so", b"/usr/lib/libc.so"),
    (b"/usr/lib/../../..", b"/"),
])
def test_canonical_stays_in_the_tree(tree, guest, canonical):
    paths, _ = tree
    assert paths.canonical(guest) == canonical


def test_host_paths_are_inside_the_mounts(tree):
    paths, top = tree
    assert paths.resolve(b"/usr/lib/libc.so").full == os.fsencode(top / "lib" / "libc.so")
    assert paths.resolve(b"etc/hosts").full == os.fsencode(top / "root" / "etc" / "hosts")
    escaped = paths.canonical(b"/host-abs")                 # the link's target, in the tree
    assert paths.host_of(escaped) == os.fsencode(top / "root") + os.fsencode(str(top / "secret"))
    with pytest.raises(SyscallError) as missing:            # whose directories are not there
        paths.resolve(b"/host-abs")
    assert missing.value.errno == errno.ENOENT


def test_last_component_not_followed_when_asked(tree):
    paths, top = tree
    assert paths.resolve(b"/abs", follow=False).full == os.fsencode(top / "root" / "abs")
    assert paths.resolve(b"/abs/", follow=False).full == os.fsencode(top / "root" / "etc")


def test_the_host_walks_no_confined_path(tree):
    """A confined path comes as a descriptor of its parent directory, which the kernel
    opened beneath the tree, and the last component, which the host must not follow."""
    paths, top = tree
    where = paths.resolve(b"/etc/hosts")
    assert (where.path, where.follows(True)) == (b"hosts", False)
    assert os.readlink(f"/proc/self/fd/{where.dir_fd}") == str(top / "root" / "etc")
    paths.release()
    with pytest.raises(OSError):
        os.fstat(where.dir_fd)


def test_link_loops_and_relative_bases(tree):
    paths, top = tree
    os.symlink("b", top / "root" / "a")
    os.symlink("a", top / "root" / "b")
    with pytest.raises(SyscallError) as loop:
        paths.resolve(b"/a")
    assert loop.value.errno == errno.ELOOP
    assert paths.resolve(b"hosts", base=b"/etc").guest == b"/etc/hosts"
    with pytest.raises(SyscallError) as not_dir:
        paths.resolve(b"hosts", base=b"")
    assert not_dir.value.errno == errno.ENOTDIR


def test_cwd_and_guest_names(tree):
    paths, top = tree
    assert paths.getcwd() == b"/"                       # the host cwd is the root
    paths.chdir(b"/etc", paths.resolve(b"/etc"))
    assert paths.getcwd() == b"/etc" and paths.resolve(b"up").guest == b"/"
    assert paths.guest_path(os.fsencode(top / "lib" / "libc.so")) == b"/usr/lib/libc.so"
    assert paths.guest_path(os.fsencode(top / "secret")) == b""


def test_sysroot_first_for_absolute_paths(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "ld.so").write_text("")
    paths = HostPaths(str(tmp_path))
    assert paths.resolve(b"/lib/ld.so").path == os.fsencode(tmp_path / "lib" / "ld.so")
    assert paths.resolve(b"/etc/passwd").path == b"/etc/passwd"
    assert paths.resolve(b"/").path == b"/"
    relative = paths.resolve(b"lib/ld.so", base_fd=7)
    assert (relative.path, relative.dir_fd, relative.guest) == (b"lib/ld.so", 7, None)
