"""The Linux layer: the guest's syscalls, its processes, threads and signals, and strace
output.

`Kernel` runs one syscall at a time against guest memory and the host, the way
qemu-user's Linux layer does; what the guest has mapped it keeps in the runtime's
`AddressSpace` (mvvm.runtime.address_space), which the translator consults too.
"""

from .kernel import Kernel

__all__ = ["Kernel"]
