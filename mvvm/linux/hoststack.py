"""The host stacks that deep guest calls need (mvvm.runtime.engine.HOST_STACK): guest calls
nest as wasm calls as deep as the host thread running them has stack for.

Threads MVVM starts get it from threading.stack_size. The main thread's stack grows on
demand up to its RLIMIT_STACK, which is raised for it (the kernel checks the limit as the
stack grows, and placed the mmap area at least 128 MiB below the stack). The guest never
sees that limit (mvvm.linux.rlimits keeps the guest's own), and a host program that the
guest execs gets the original back.
"""

from __future__ import annotations

import resource
import threading

from mvvm.runtime.engine import HOST_STACK

_original: tuple[int, int] | None = None        # RLIMIT_STACK before grow_main_stack


def grow_main_stack() -> bool:
    """Let the main thread's stack grow to HOST_STACK; False if the hard limit forbids."""
    global _original
    soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
    if soft == resource.RLIM_INFINITY or soft >= HOST_STACK:
        return True
    if hard != resource.RLIM_INFINITY and hard < HOST_STACK:
        return False
    resource.setrlimit(resource.RLIMIT_STACK, (HOST_STACK, hard))
    _original = (soft, hard)
    return True


def thread_stacks() -> bool:
    """Give the host threads started from now on HOST_STACK (address space only)."""
    try:
        threading.stack_size(HOST_STACK)
    except (ValueError, RuntimeError):
        return False
    return True


def restore() -> None:
    """Put RLIMIT_STACK back as it was (before an exec of a host program)."""
    global _original
    if _original is not None:
        resource.setrlimit(resource.RLIMIT_STACK, _original)
        _original = None
