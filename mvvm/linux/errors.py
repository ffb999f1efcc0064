"""The one exception type the Linux layer raises for a failure the guest sees as -errno."""

import os


class SyscallError(OSError):
    """A guest-visible failure carrying a Linux errno.

    It is an OSError so that the dispatcher turns it and the host's own OSErrors
    (whose errno values are the same Linux numbers) into -errno the same way.
    """

    def __init__(self, code: int, detail: str = "") -> None:
        super().__init__(code, detail or os.strerror(code))


class Restart(Exception):  # noqa: N818 - a control transfer, not an error
    """A syscall changed the registers or pc (a forked child on its own stack, execve):
    the run loop must stop, and go on from the VM state, in `image` if one is given.

    Raising it is how a syscall leaves translated code without the region's write-back;
    mvvm.linux.process.Process catches it and resumes.
    """

    def __init__(self, image: object = None) -> None:
        super().__init__("restart")
        self.image = image
