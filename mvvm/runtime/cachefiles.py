"""The code cache's files, trusted only as far as this user's own MVVM wrote them.

wasmtime's deserialize runs whatever machine code a module holds, so a module must only
ever come from this user's MVVM. Every file the cache keeps is sealed with keyed BLAKE2b
(a MAC) under a key only the user can read (`key`, mode 0600, in the cache's root
directory, mode 0700): a file anyone else wrote or changed fails the check and is made
again. A root that is not the user's own, or that others may write, is no cache at all.
Files are opened without following symlinks, and only regular files of a bounded size are
read, so a FIFO or /dev/zero planted in the cache can neither hang a run nor fill its
memory.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

# CPython's own BLAKE2 and constant-time compare, not hashlib's and hmac's: they load
# OpenSSL's libcrypto, 4-5 ms of every run's start (hello world's is 85 ms). OpenSSL's
# SHA-256 hashes twice as fast (SHA-NI: 0.55 ms a MB, BLAKE2b 1 ms), which a cache file
# of many megabytes would notice; a bench program's is 0.8 MB.
try:
    from _blake2 import blake2b
    from _operator import _compare_digest as compare_digest
except ImportError:     # pragma: no cover - another Python
    from hashlib import blake2b
    from hmac import compare_digest

KEY_FILE = "key"
KEY_BYTES = 32
SEAL_BYTES = 32
DIGEST_BYTES = 32
MAX_FILE = 256 << 20            # larger than any file the cache writes
OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class CacheRoot:
    """A cache directory this user owns and no one else may write, and its key."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._key = key

    @classmethod
    def open(cls, directory: Path) -> CacheRoot | None:
        """The root at directory (made, mode 0700, if missing), or None if it cannot be
        trusted: not a directory of this user's, writable by group or others."""
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(directory)
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() \
                or info.st_mode & 0o022:
            return None
        key = _key(directory / KEY_FILE)
        return cls(directory, key) if key is not None else None

    def seal(self, data: bytes) -> bytes:
        return blake2b(data, key=self._key, digest_size=SEAL_BYTES).digest()

    def sealed(self, seal: bytes, data: bytes) -> bool:
        return compare_digest(seal, self.seal(data))

    def read(self, path: Path) -> bytes | None:
        """The contents of a file written by `write`, if its seal holds."""
        data = read_regular(path)
        if data is None or len(data) < SEAL_BYTES:
            return None
        seal, body = data[:SEAL_BYTES], data[SEAL_BYTES:]
        return body if self.sealed(seal, body) else None

    def write(self, path: Path, data: bytes) -> None:
        write_atomically(path, self.seal(data) + data)


def hasher(data: bytes = b"") -> blake2b:
    """The hash the cache names and checks its contents by (DIGEST_BYTES long)."""
    return blake2b(data, digest_size=DIGEST_BYTES)


def open_regular(path: Path, limit: int = MAX_FILE) -> int | None:
    """A descriptor of the regular file at path (not through a symlink, at most limit
    bytes long), else None."""
    try:
        fd = os.open(path, OPEN_FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
    except OSError:
        info = None
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_size > limit:
        os.close(fd)
        return None
    return fd


def read_regular(path: Path, limit: int = MAX_FILE) -> bytes | None:
    """A regular file's bytes (not through a symlink, at most limit of them), else None."""
    fd = open_regular(path, limit)
    if fd is None:
        return None
    try:
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(limit + 1)
        return data if len(data) <= limit else None
    except OSError:
        return None
    finally:
        os.close(fd)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace the file by a new one (mode 0600) with data; a cache that cannot be written
    is only a slower start."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
            out.write(data)
        os.replace(out.name, path)
    except OSError:
        pass


def _key(path: Path) -> bytes | None:
    """The user's key: read, or made once; two runs making it at once agree on the first
    one linked into place."""
    for _ in range(2):
        key = read_regular(path, KEY_BYTES)
        if key is not None and len(key) == KEY_BYTES and _private(path):
            return key
        try:
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as out:
                out.write(os.urandom(KEY_BYTES))
            try:
                os.link(out.name, path)
            finally:
                os.unlink(out.name)
        except FileExistsError:
            continue
        except OSError:
            return None
    return None


def _private(path: Path) -> bool:
    """The key file is this user's, and only this user can read or write it."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return info.st_uid == os.geteuid() and not info.st_mode & 0o077
