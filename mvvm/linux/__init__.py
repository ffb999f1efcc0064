"""The Linux layer: the guest's address space, its syscalls, and strace output.

`AddressSpace` knows which guest pages are mapped; `Kernel` runs one syscall at
a time against guest memory and the host, the way qemu-user's Linux layer does.
"""

from .kernel import Kernel
from .mm import AddressSpace, GuestMemory, Mapping

__all__ = ["AddressSpace", "GuestMemory", "Kernel", "Mapping"]
