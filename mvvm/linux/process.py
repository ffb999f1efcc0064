"""Starting a Linux process in a fresh VM: load the program, set up the kernel, the registers."""

from __future__ import annotations

import os
from typing import TextIO

from mvvm.elf.loader import load_program
from mvvm.linux.kernel import Kernel
from mvvm.runtime.vm import VM

SP = 2


def start_process(path: str, argv: list[str], envp: list[str], *,
                  in_asm: TextIO | None = None, strace: TextIO | None = None) -> VM:
    """A VM ready to `run()` the program at path, as execve would leave it."""
    vm = VM(in_asm=in_asm)
    process = load_program(path, argv, envp, vm.memory, vm.space)
    kernel = Kernel(vm.memory, vm.space, exe=os.path.abspath(path), strace=strace)
    vm.syscall_handler = kernel.syscall
    vm.x[SP] = process.sp
    vm.pc = process.entry
    return vm
