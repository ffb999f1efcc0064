"""The fast call's C extension (fastcall.c): built on first use with the host's C compiler
and Python's headers, kept in the code cache sealed like a compiled module (mvvm.runtime.
cachefiles: only this user's MVVM can have written it), and loaded from a memfd after the
seal is checked. Where it cannot be built (no compiler, no headers), `extension()` is
None and calls take the Python path, which does the same at about four times the cost.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

from mvvm.runtime.diskcache import default_directory
from mvvm.runtime.image import cache_root

SOURCE = Path(__file__).with_name("fastcall.c")
NAME = "mvvm_fastcall"


@functools.cache
def extension() -> ModuleType | None:
    """The extension module, or None if it cannot be had."""
    source = SOURCE.read_bytes()
    key = hashlib.sha256(source + sys.version.encode()).hexdigest()[:20]
    directory = default_directory()
    root = cache_root(directory) if directory is not None else None
    path = root.path / f"fastcall-{key}" if root is not None else None
    library = root.read(path) if root is not None and path is not None else None
    if library is None:
        library = _compile()
        if library is None:
            return None
        if root is not None and path is not None:
            root.write(path, library)
    return _load(library)


def _compile() -> bytes | None:
    compiler = shutil.which("cc") or shutil.which("gcc")
    include = sysconfig.get_paths()["include"]
    if compiler is None or not os.path.exists(os.path.join(include, "Python.h")):
        return None
    with tempfile.TemporaryDirectory(prefix="mvvm-fastcall-") as work:
        out = os.path.join(work, NAME + ".so")
        built = subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-I", include,
                                str(SOURCE), "-o", out], capture_output=True, timeout=120)
        return Path(out).read_bytes() if built.returncode == 0 else None


def _load(library: bytes) -> ModuleType | None:
    """Import the library's bytes as the module, from a memfd: no file anyone could change
    between the seal's check and the load."""
    fd = os.memfd_create(NAME, os.MFD_CLOEXEC)
    try:
        os.write(fd, library)
        path = f"/proc/self/fd/{fd}"
        loader = importlib.machinery.ExtensionFileLoader(NAME, path)
        spec = importlib.util.spec_from_file_location(NAME, path, loader=loader)
        if spec is None:
            return None
        module = importlib.util.module_from_spec(spec)
        loader.exec_module(module)
        return module
    except ImportError:
        return None
    finally:
        os.close(fd)
