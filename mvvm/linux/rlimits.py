"""The guest's resource limits.

They start as the host's, but what the guest sets stays with the guest: the VM
process keeps its own limits, which its translator and runtime rely on.
"""

from __future__ import annotations

import errno
import os
import resource

from ..errors import SyscallError
from .abi import RLIMITS

RLIM_INFINITY = (1 << 64) - 1
RLIMIT_STACK = 3
RLIMIT_NOFILE = 7
STACK_LIMIT = 8 << 20


def _from_host(value: int) -> int:
    return RLIM_INFINITY if value == resource.RLIM_INFINITY else value


class ResourceLimits:
    def __init__(self) -> None:
        self._limits = {res: self._host(res) for res in RLIMITS}
        self._limits[RLIMIT_STACK] = (STACK_LIMIT, RLIM_INFINITY)

    @staticmethod
    def _host(res: int) -> tuple[int, int]:
        soft, hard = resource.getrlimit(res)
        return _from_host(soft), _from_host(hard)

    def get(self, res: int) -> tuple[int, int]:
        """(soft, hard) for a resource number; EINVAL for an unknown one."""
        if res not in self._limits:
            raise SyscallError(errno.EINVAL)
        return self._limits[res]

    def set(self, res: int, soft: int, hard: int) -> None:
        """Set a limit with Linux's checks: soft <= hard, and only root raises hard."""
        _, old_hard = self.get(res)
        if soft > hard:
            raise SyscallError(errno.EINVAL)
        if hard > old_hard and os.geteuid() != 0:
            raise SyscallError(errno.EPERM)
        self._limits[res] = (soft, hard)
