"""The embedding API: a riscv64 program inside a Python program (mvvm.Machine), and the C
header its guest side includes (HEADER, mvvm.h)."""

from pathlib import Path

from mvvm.elf.loader import ElfError

from .errors import AddressError, BudgetExceeded, Exited, GuestFault, MachineError, Timeout
from .machine import GuestFunction, Machine, Snapshot, host_id

HEADER = Path(__file__).with_name("mvvm.h")
INCLUDE_DIR = str(HEADER.parent)        # for the guest's compiler: -I mvvm.embed.INCLUDE_DIR

__all__ = ["HEADER", "INCLUDE_DIR", "AddressError", "BudgetExceeded", "ElfError", "Exited",
           "GuestFault", "GuestFunction", "Machine", "MachineError", "Snapshot", "Timeout",
           "host_id"]
