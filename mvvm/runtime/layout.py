"""Where things live: the guest address space in the wasm memory, and the VM state memory.

Guest memory is wasm memory 0, a memory64 covering the guest addresses below
GUEST_LIMIT, which is Linux riscv64's default user address space (Sv39's 256 GiB: mmap
places nothing above it without a hint, and neither does MVVM). Guest address g is at
wasm offset g, so that a load's immediate is the access's constant offset: Cranelift folds
it into the x86 addressing mode and into the bounds check. The guest's first 64 KiB (the
null page and its neighbours, below GUEST_BASE, Linux's mmap_min_addr) are never mapped,
and their host pages fault like any unmapped page. An index is checked against the
memory's constant bound (Cranelift cannot drop the check for a 64-bit index), and so is
any address at or above GUEST_LIMIT: it is SIGSEGV, not another guest address. Inside the
bound, the host's page rights (the guest's, mvvm.runtime.address_space) make unmapped pages fault.
Modules import the memory with its exact size (GUEST_IMPORT) and the engine's reservation
is smaller than it (mvvm.runtime.memories): Cranelift then checks the index alone against
the size, and lets the guard pages catch the access's offset, so that the accesses at
several offsets from one register (a stack frame, a struct) share one check.

`mvvm wasm` (mvvm.wasi) keeps a 32-bit memory, for the WASI runtimes and browsers that
have no memory64 and no page rights: there, guest address g is at offset g - BIAS, which
puts the null page below offset 0, where the 32-bit index wraps far out of bounds.

VM state (register file, pc, exit reason, the pc -> code hash table) is wasm
memory 1, which no guest address can name.
"""

GUEST_BASE = 0x10000                    # the lowest guest address that can be mapped
GUEST_LIMIT = 1 << 38                   # one past the highest guest address
BIAS = GUEST_BASE                       # mvvm wasm's 32-bit memory: guest g at offset g - BIAS
WASM_PAGE = 0x10000
GUEST_PAGES = GUEST_LIMIT // WASM_PAGE  # the memory64's size, fixed
GUEST_IMPORT = (GUEST_PAGES, GUEST_PAGES)   # its limits as modules import it

STACK_TOP = GUEST_LIMIT - 0x1000        # a guard page above the initial stack
STACK_SIZE = 8 << 20                    # RLIMIT_STACK, mapped up front (unless -s says)
STACK_LEAST = 32 * 0x1000               # the smallest stack -s gives, as under qemu
STACK_GAP = 0x10000                     # between the stack and the top of the mmap area
MMAP_TOP = STACK_TOP - STACK_SIZE - STACK_GAP
PIE_BASE = 0x10000000                   # where ET_DYN images (static-pie, ld.so) are put

# VM memory (wasm memory 1).
VM_X = 0x000                            # x0..x31, 8 bytes each
VM_F = 0x100                            # f0..f31, raw 64-bit (NaN-boxed singles)
VM_PC = 0x200
VM_REASON = 0x208                       # why translated code returned to Python
VM_FCSR = 0x20C                         # fflags in bits 0-4, frm in bits 5-7
VM_RESERVATION = 0x210                  # LR/SC reserved address, or all ones
VM_HASH_MASK = 0x218                    # (entries - 1) of the code hash table
VM_INTERRUPT = 0x21C                    # non-zero: leave translated code at the next loop
VM_RESERVED_VALUE = 0x220               # the value LR loaded, which SC's cmpxchg expects
VM_X0_SINK = 0x228                      # tier 0's writes to x0 land here
VM_HOT_THRESHOLD = 0x230                # tier 0: entry count that asks for tier 1 (0: never)
VM_TIER0_INSTRUCTIONS = 0x238           # guest instructions tier 0 ran (u64)
# An instruction budget (an embedding's max_instructions): the instructions the guest may
# still retire (i64). Tier 0 checks it at each instruction; tier 1 only in counting mode,
# at each block (and after each ecall), where one that would overspend sets VM_TIER0_ONLY
# and leaves: tier 0 then runs the rest exactly, without going back to compiled code.
VM_BUDGET = 0x240
VM_TIER0_ONLY = 0x248
UNLIMITED = 1 << 62                     # VM_BUDGET when there is no budget
# How deep guest calls nest as wasm calls (u32); a deeper one unwinds them all and goes on
# through the dispatcher (and so does every return below it). CALL_DEPTH_LIMIT fits any host
# thread (wasmtime's default 512 KiB of wasm stack); DEEP_CALL_DEPTH needs the wasm stack
# and host stack that mvvm.runtime.engine sizes for it.
VM_CALL_DEPTH = 0x250
CALL_DEPTH_LIMIT = 200
DEEP_CALL_DEPTH = 20_000
VM_SITES = 0x1000                       # pc -> slot cache of calls and chains: pc (u64), slot (u32)
SITES = 0x10000                         # entries, direct-mapped by the pc
SITE_ENTRY = 16
VM_EXEC = VM_SITES + SITE_ENTRY * SITES  # tier 0: one bit per executable guest page
EXEC_BYTES = GUEST_LIMIT >> 15
VM_RVC = VM_EXEC + EXEC_BYTES           # tier 0: each 16-bit value -> its expansion's word
VM_COUNTERS = VM_RVC + 4 * 0x10000      # tier 0's profile: u32 entry counts, by pc hash
COUNTERS = 1 << 17
# A count once its pc is asked for or has a region (-2**30): never hot again, and tier 0
# looks for compiled code there.
COUNTER_ASKED = 0xC0000000
# Tier 0's profile of indirect jumps (not returns): by a hash of the jump's pc, that pc (u64)
# and the targets it took (JUMP_TARGETS u64s, placed by linear probing from a hash of the
# target; 0: none).
VM_JUMP_SOURCES = VM_COUNTERS + 4 * COUNTERS
JUMP_SOURCES = 1 << 10
JUMP_TARGETS = 32
VM_JUMP_TARGETS = VM_JUMP_SOURCES + 8 * JUMP_SOURCES
VM_HASH = VM_JUMP_TARGETS + 8 * JUMP_TARGETS * JUMP_SOURCES  # 16-byte entries: pc, slot (u32)
HASH_ENTRY = 16

# Exit reasons (VM_REASON). Translated code returns `pc | 1` to leave the dispatcher.
REASON_MISS = 1                         # tier 0 cannot fetch at pc, or (--tier 1) no region
REASON_SYSCALL = 2                      # a syscall asked to stop running (exit, execve...)
REASON_ILLEGAL = 3                      # an encoding we do not implement: SIGILL
REASON_EBREAK = 4                       # SIGTRAP
REASON_FENCE_I = 5                      # code may have changed: drop translations
REASON_INTERRUPT = 6                    # VM_INTERRUPT was set (a time limit, a signal)
REASON_BUDGET = 7                       # VM_BUDGET is spent: the guest stands before pc
REASON_SLOW = 8                         # an FP instruction's rare slow path: tier 0 runs it


def counter(pc: int) -> int:
    """The index of the count tier 0 keeps for the halfword at pc (shared: it wraps); the
    interpreter computes the same in wasm (mvvm.interpreter.generate)."""
    return (pc >> 1) & (COUNTERS - 1)
