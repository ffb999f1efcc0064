"""The riscv64 signal frame: what Linux pushes to run a guest signal handler, and what
rt_sigreturn reads back (arch/riscv/kernel/signal.c).

The frame is `struct rt_sigframe { siginfo_t info; struct ucontext uc; }`, 1088 bytes
without the vector extension, 16-byte aligned below the interrupted stack pointer or at
the top of the alternate stack. The ucontext (arch/riscv/include/uapi/asm/ucontext.h)
pads uc_sigmask to 128 bytes and ends with the 16-byte aligned sigcontext (uapi
sigcontext.h): the pc and x1..x31 in `struct user_regs_struct` order, then the FP state
union, used in its D form (f0..f31, fcsr), whose last words hold the extension-header
list: a zero `reserved` word and an END header (magic 0, size 0), as no vector state
follows. The handler starts with a0 = signo, a1 = &info, a2 = &uc (whatever SA_SIGINFO
says, as on Linux) and ra at a return trampoline.

Linux puts that trampoline in the vDSO; MVVM maps a page of its own, named "[sigpage]"
as ARM's is, holding `li a7, 139; ecall` (rt_sigreturn). glibc sets no restorer on
riscv64, so every handler returns there.
"""

from __future__ import annotations

from ctypes import LittleEndianStructure, c_uint8, c_uint32, c_uint64, sizeof
from typing import TYPE_CHECKING

from ..runtime.address_space import PAGE, PROT_EXEC, PROT_READ
from .structs import SigInfo, StackT

if TYPE_CHECKING:
    from .kernel import Kernel
    from .signals import SignalState

RA, SP, A0, A1, A2 = 1, 2, 10, 11, 12
SA_ONSTACK = 0x08000000
TRAMPOLINE = (0x08B00893).to_bytes(4, "little") + (0x00000073).to_bytes(4, "little")


class SigContext(LittleEndianStructure):
    """struct sigcontext (784 bytes): regs[0] is the pc, regs[n] is x_n."""

    _fields_ = [("regs", c_uint64 * 32), ("fregs", c_uint64 * 32), ("fcsr", c_uint32),
                ("q_only", c_uint8 * 256), ("reserved", c_uint32),
                ("end_magic", c_uint32), ("end_size", c_uint32)]


class UContext(LittleEndianStructure):
    """struct ucontext (960 bytes)."""

    _fields_ = [("uc_flags", c_uint64), ("uc_link", c_uint64), ("uc_stack", StackT),
                ("uc_sigmask", c_uint64), ("sigmask_room", c_uint8 * 120),
                ("align", c_uint8 * 8), ("uc_mcontext", SigContext)]


class RtSigFrame(LittleEndianStructure):
    _fields_ = [("info", SigInfo), ("uc", UContext)]


FRAME_SIZE = sizeof(RtSigFrame)
INFO_OFFSET = RtSigFrame.info.offset
UC_OFFSET = RtSigFrame.uc.offset


def push_frame(k: Kernel, info: SigInfo, handler: int, flags: int, mask: int) -> None:
    """Save the cpu's state in a frame for handler, and start the handler on it.
    mask is the blocked mask rt_sigreturn restores; a frame that cannot be written
    raises GuestFault (the caller then forces SIGSEGV, as Linux does)."""
    cpu, state = k.cpu, k.signals
    sp = cpu.x[SP]
    frame = RtSigFrame(info=info)
    frame.uc.uc_stack = StackT.from_buffer_copy(state.altstack)
    frame.uc.uc_sigmask = mask
    context = frame.uc.uc_mcontext
    context.regs[:] = [cpu.pc, *cpu.x[1:]]
    context.fregs[:] = cpu.f[:]
    context.fcsr = cpu.fcsr
    at = _frame_address(state, flags, sp)
    k.store_struct(at, frame)
    state.disarm_altstack()
    cpu.x[RA] = _trampoline(k)
    cpu.x[SP] = at
    cpu.x[A0] = info.signo
    cpu.x[A1] = at + INFO_OFFSET
    cpu.x[A2] = at + UC_OFFSET
    cpu.pc = handler


def pop_frame(k: Kernel) -> UContext:
    """rt_sigreturn: restore the registers saved in the frame at sp; the ucontext is
    returned for the mask and the alternate stack it holds."""
    cpu = k.cpu
    uc = k.load_struct(UContext, cpu.x[SP] + UC_OFFSET)
    context = uc.uc_mcontext
    cpu.x[1:] = context.regs[1:]
    cpu.f[:] = context.fregs[:]
    cpu.fcsr = context.fcsr
    cpu.pc = context.regs[0]
    return uc


def _frame_address(state: SignalState, flags: int, sp: int) -> int:
    """get_sigframe: on the alternate stack if SA_ONSTACK asks and the guest is not on it
    already; a frame that would overflow the alternate stack gets an address that faults."""
    if state.on_altstack(sp) and not state.on_altstack(sp - FRAME_SIZE):
        return -FRAME_SIZE & ((1 << 64) - 1)
    if flags & SA_ONSTACK and state.altstack.ss_size and not state.on_altstack(sp):
        sp = state.altstack.ss_sp + state.altstack.ss_size
    return (sp - FRAME_SIZE) & ~0xF


def _trampoline(k: Kernel) -> int:
    """The rt_sigreturn trampoline's address, mapped at the first signal of an image."""
    state = k.signals
    if state.trampoline is None:
        page = k.space.map(0, PAGE, PROT_READ | PROT_EXEC, name="[sigpage]")
        k.mem.write(page, TRAMPOLINE)
        state.trampoline = page
    return state.trampoline
