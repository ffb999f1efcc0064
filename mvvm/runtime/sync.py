"""Locking for the tables a process's threads share (the address space, the Linux layer's
descriptor table), which they change from their syscalls at once: Python may switch
threads between any two bytecodes, so a compound change must be atomic."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

Method = TypeVar("Method", bound=Callable[..., Any])


def synchronized(method: Method) -> Method:
    """Run the method holding its object's `_lock` (an RLock: such methods call each other)."""

    @functools.wraps(method)
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return locked  # type: ignore[return-value]
