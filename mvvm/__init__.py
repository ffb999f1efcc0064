"""MVVM: RISC-V (riscv64 Linux) programs run by translation to WebAssembly, compiled by wasmtime.

`mvvm.Machine` embeds a riscv64 program in a Python program (mvvm.embed); it is imported
on first use, so that the command line does not pay for it.
"""

from typing import Any

_EMBEDDING = {"AddressError", "BudgetExceeded", "ElfError", "Exited", "GuestFault",
              "GuestFunction", "Machine", "MachineError", "Snapshot", "Timeout"}


def __getattr__(name: str) -> Any:
    if name in _EMBEDDING:
        from mvvm import embed
        return getattr(embed, name)
    raise AttributeError(f"module 'mvvm' has no attribute {name!r}")
