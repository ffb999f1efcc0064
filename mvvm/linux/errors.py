"""The one exception type the Linux layer raises for a failure the guest sees as -errno."""

import os


class SyscallError(OSError):
    """A guest-visible failure carrying a Linux errno.

    It is an OSError so that the dispatcher turns it and the host's own OSErrors
    (whose errno values are the same Linux numbers) into -errno the same way.
    """

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail or os.strerror(code))
