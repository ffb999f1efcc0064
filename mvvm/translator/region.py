"""Region discovery: the guest blocks reachable by direct branches from an entry.

A region is about a guest function's worth of code: conditional branches and
`jal x0` stay inside it, and so does the code after a call (a `jal`/`jalr`
that links), since calls become wasm calls that normally come back. With tier
0's profile, so do the targets an indirect jump (a jump table's `jalr x0`) was
seen to take. A call of the region's own entry (recursion) is a jump back to
it, and the region's returns may then go to the instruction after any such
call: the recursion runs as a loop over the region's locals, its frames in the
guest stack as natively, where a wasm call per guest call would store and load
every register the two share. A direct call of a small leaf function (strlen,
strcmp: no calls of its own) is a jump too, its code copied into the region
and its returns going back the same way: inlined, with no write-back and
reload of the caller's registers around it. So is a direct call, from the
region's own code, of a small function whose calls are direct (glibc's memcpy:
its head and tail bytes, and a call of a word loop for the rest): its calls of
leaves are jumps in turn, its others wasm calls. (One level only: a copied
function's call of another small non-leaf stays a call, so copies cannot nest
without bound or recurse.) Returns to other code, other indirect targets, traps
and anything beyond the size bound leave it, and so does a tight loop nest,
which gets a region of its own (`_nests_apart`).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field, replace

from mvvm import isa
from mvvm.isa import Flow, Instr

MAX_INSTRUCTIONS = 2000
COPIED_INSTRUCTIONS = 96    # the largest callee a region copies in (glibc's strlen: 62)
INDIRECT_LEAVES = 4         # the most profiled targets an indirect call copies in
# A region entered where another region's code already is (an indirect jump's target, such
# as a jump-table case, or a return the dispatcher took) gets a small budget: given the full
# one it would copy the rest of the function again, once per such entry. (Tier 1 gives the
# full one to such a region when it translates it again: mvvm.runtime.tiers.)
INNER_INSTRUCTIONS = 100


def budget(inner: bool) -> int:
    """A region's instructions at most: fewer where another region holds the code (inner)."""
    return INNER_INSTRUCTIONS if inner else MAX_INSTRUCTIONS


@dataclass(frozen=True)
class Profile:
    """What tier 0 saw, which shapes a region: whether the block at a pc ever ran, and
    the targets the indirect jump at a pc took, the most taken first."""

    ran: Callable[[int], bool]
    jumps: Callable[[int], Sequence[int]]


@dataclass
class Block:
    """Straight-line guest code. `succs` are the successor pcs: [taken, fallthrough] after a
    branch, [target] after a jump (a call taken as one included), [next] after another
    call or when running into the next block, the profiled targets after an indirect jump
    and the return points of the calls taken as jumps after a return (either may also
    leave), [] when the block ends by leaving the region (trap, illegal or unfetchable
    code)."""

    start: int
    instrs: list[tuple[int, Instr | None]] = field(default_factory=list)
    end: int = 0                      # pc after the last instruction
    succs: list[int] = field(default_factory=list)

    @property
    def last(self) -> Instr | None:
        return self.instrs[-1][1] if self.instrs else None


@dataclass
class Region:
    entry: int
    blocks: dict[int, Block]
    # Where the region leaves for code the profile did not show it: branch sides that never
    # ran, and indirect jumps (by their pc) to targets it does not hold. Leaving there often
    # has the region translated again.
    pruned: set[int] = field(default_factory=set)
    # The calls (by pc) that the region takes as jumps: of its entry, and of small functions.
    linked_jumps: set[int] = field(default_factory=set)
    # The pcs of the functions copied in (the callees of the linked jumps but the entry).
    copied: frozenset[int] = frozenset()

    def instructions(self) -> int:
        return sum(len(b.instrs) for b in self.blocks.values())


Fetch = Callable[[int], int | None]   # pc -> 32 bits there, or None if not executable
CODE_PAGE = 0x1000


def paged_fetch(page: Callable[[int], bytes | None], across: Fetch) -> Fetch:
    """A Fetch that reads each page of code once, through page(base) (its bytes, or None
    if it is not executable), and an instruction that may go on into the next page
    through across."""
    pages: dict[int, bytes | None] = {}

    def fetch(pc: int) -> int | None:
        offset = pc & (CODE_PAGE - 1)
        if offset > CODE_PAGE - 4:
            return across(pc)
        base = pc - offset
        if base not in pages:
            pages[base] = page(base)
        code = pages[base]
        return None if code is None else int.from_bytes(code[offset:offset + 4], "little")

    return fetch


def is_call(instr: Instr) -> bool:
    """A jump that links: it is expected to come back to the next instruction."""
    return instr.spec.flow in (Flow.JAL, Flow.JALR) and instr.rd != 0


def is_return(instr: Instr) -> bool:
    """A jump back to the caller, by the psABI's hint: jalr x0 through ra or t0 (x5)."""
    return instr.spec.flow is Flow.JALR and instr.rd == 0 and instr.rs1 in (1, 5)


def discover(entry: int, fetch: Fetch, ends_block: set[str],
             supported: Callable[[Instr], bool], budget: int = MAX_INSTRUCTIONS,
             others: Container[int] = (), profile: Profile | None = None,
             nests_apart: bool = True, copy_callers: bool = True) -> Region:
    """Decode from entry, following direct intra-function control flow. An instruction the
    translator does not implement is recorded as None, like an undecodable one: SIGILL.
    Where another region starts (`others`: a tail-called function, say), this one leaves
    for it rather than copy it. With a profile, a branch's side that never ran is not
    followed (the region leaves for it instead), and an indirect jump's targets are. A
    call of the entry, or of a small function (as the module says), jumps to it; once
    the region has a return, the code after each such call it may return to is followed
    too. nests_apart: tight loop nests go to regions of their own (`_nests_apart`).
    copy_callers: small functions that make calls are copied too, not only leaves."""
    ran = profile.ran if profile is not None else None
    decoded: dict[int, Instr | None] = {}
    jumps: dict[int, list[int]] = {}        # indirect jumps and their successors
    linked: dict[int, tuple[tuple[int, ...], int]] = {}   # calls taken as jumps ->
    # (the callees, the return point): one for a direct call, the profiled ones for another
    small: dict[int, Callee | None] = {}    # callee -> its scan (None: not one to copy)
    copied: set[int] = set()                # all the copied functions' code
    returns: list[int] = []
    pruned: set[int] = set()
    leaders = {entry}
    work = [entry]
    while len(decoded) < budget:
        if not work:
            work = [back for back in _returned_to(returns, entry, linked, small)
                    if back not in leaders]
            if not work:
                break
            leaders.update(work)
        pc = work.pop()
        while pc not in decoded and len(decoded) < budget:
            if pc != entry and pc in others and pc not in copied:
                break
            raw = fetch(pc)
            if raw is None:
                break
            instr = isa.decode(raw)
            if instr is not None and not supported(instr):
                instr = None
            decoded[pc] = instr
            if instr is None or instr.name in ends_block:
                break
            flow = instr.spec.flow
            if flow is Flow.BRANCH:
                leaders.update((pc + instr.imm, pc + instr.length))
                if ran is None or ran(pc + instr.imm):
                    work.append(pc + instr.imm)
                else:
                    pruned.add(pc + instr.imm)
                if ran is not None and not ran(pc + instr.length):
                    pruned.add(pc + instr.length)
                    break
            elif flow is Flow.JAL and instr.rd == 0:
                leaders.add(pc + instr.imm)
                work.append(pc + instr.imm)
                break
            elif is_call(instr) and flow is Flow.JAL and (
                    pc + instr.imm == entry
                    or _is_copied(pc + instr.imm, fetch, supported, small,
                                  budget - len(decoded),
                                  leaf=pc in copied or not copy_callers)):
                copied.update(_code(small, pc + instr.imm))
                linked[pc] = ((pc + instr.imm,), pc + instr.length)
                leaders.add(pc + instr.imm)
                work.append(pc + instr.imm)
                break
            elif is_call(instr) and flow is Flow.JALR and profile is not None and (
                    callees := _leaves_called(profile.jumps(pc), entry, fetch, supported,
                                              small, budget - len(decoded))):
                for callee in callees:
                    copied.update(_code(small, callee))
                linked[pc] = (callees, pc + instr.length)
                jumps[pc] = list(callees)
                leaders.update(callees)
                work += callees
                break
            elif is_call(instr):
                leaders.add(pc + instr.length)
            elif is_return(instr):
                returns.append(pc)
                break
            elif flow is Flow.JALR and profile is not None:
                jumps[pc] = list(profile.jumps(pc))
                leaders.update(jumps[pc])
                work += jumps[pc]
                break
            elif flow is not Flow.NEXT:
                break
            pc += instr.length
    targets = {**jumps, **{pc: list(callees) for pc, (callees, _) in linked.items()},
               **{pc: _return_points(pc, entry, linked, small, leaders) for pc in returns}}
    region = Region(entry, _split(decoded, leaders, ends_block, targets),
                    (pruned - decoded.keys()) | jumps.keys(), set(linked), frozenset(copied))
    return _nests_apart(region) if nests_apart else region


def _nests_apart(region: Region) -> Region:
    """Give each tight loop nest a region of its own: a region entered inside one holds
    that nest alone, and any other leaves for it where it enters it. Tight: a loop with
    another inside and no call, so that it runs many passes for each entry and stays in
    its region meanwhile; a single loop stays where it is (crc16's 8 passes would pay a
    dispatch per entry), and so does a loop with a call, which leaves the region anyway.
    Why: Cranelift allocates registers for a whole function, and each exit of a nest
    keeps what it has written live into the code after it, where the allocator splits the
    nest's values inside its inner loop: coremark's mul_matrix inner loop took 26 x86
    instructions, with a pointer spilled and reloaded and five moves at its back edge; in
    a function of the nest alone, 17 and none."""
    blocks = region.blocks
    loops: dict[int, set[int]] = {}
    for pc, loop in cycles({pc: block.succs for pc, block in blocks.items()}).items():
        loops.setdefault(loop, set()).add(pc)
    nests = [loop for loop in loops.values() if _is_tight(blocks, loop)]
    if not nests:
        return region
    kept = next((loop for loop in nests if region.entry in loop), set())
    if not kept:
        apart = set().union(*nests)
        work = [region.entry]
        while work:
            pc = work.pop()
            if pc in blocks and pc not in kept and pc not in apart:
                kept.add(pc)
                work += blocks[pc].succs
    return replace(region, blocks={pc: block for pc, block in blocks.items() if pc in kept})


def _is_tight(blocks: dict[int, Block], loop: set[int]) -> bool:
    """Whether the loop (a strongly connected set of blocks) has no call and holds another
    loop: backward edges go to two blocks or more (a compiler puts a loop's header before
    its body, or its test after it, and the edge back to either goes backward)."""
    if any(instr is not None and is_call(instr) for instr in (blocks[pc].last for pc in loop)):
        return False
    return len({succ for pc in loop for succ in blocks[pc].succs
                if succ in loop and succ <= pc}) > 1


def _return_points(pc: int, entry: int, linked: dict[int, tuple[tuple[int, ...], int]],
                   small: dict[int, Callee | None], leaders: set[int]) -> list[int]:
    """Where the return at pc may go inside the region (see `_returned_to`)."""
    return sorted(back for back in _returned_to([pc], entry, linked, small) if back in leaders)


def _returned_to(returns: list[int], entry: int,
                 linked: dict[int, tuple[tuple[int, ...], int]],
                 small: dict[int, Callee | None]) -> set[int]:
    """Where the returns at pcs may go: after the calls of the copied functions each
    belongs to, else after the calls of the entry (only these: another edge into the
    middle of a loop around a call would make the loop irreducible). Not after a call of
    a function with no return in the region (a longjmp): no edge goes there."""
    called = {callee for callees, _ in linked.values() for callee in callees}
    owners = set()
    for pc in returns:
        owners |= {callee for callee in called if pc in _code(small, callee)} or {entry}
    return {back for callees, back in linked.values() if owners.intersection(callees)}


@dataclass(frozen=True)
class Callee:
    """A small function a region may copy in: its pcs, and whether it makes calls (direct
    ones: a function with any other way out is not copied)."""

    code: frozenset[int]
    calls: bool


def _code(small: dict[int, Callee | None], callee: int) -> frozenset[int]:
    known = small.get(callee)
    return known.code if known is not None else frozenset()


def _leaves_called(targets: Sequence[int], entry: int, fetch: Fetch,
                   supported: Callable[[Instr], bool], small: dict[int, Callee | None],
                   room: int) -> tuple[int, ...]:
    """An indirect call's profiled targets if they are all small leaves (a comparator
    passed to a sort, say), few enough to compare the target with in turn; else ()."""
    if 0 < len(targets) <= INDIRECT_LEAVES and all(
            target != entry and _is_copied(target, fetch, supported, small, room, leaf=True)
            for target in targets):
        return tuple(targets)
    return ()


def _is_copied(callee: int, fetch: Fetch, supported: Callable[[Instr], bool],
               small: dict[int, Callee | None], room: int, leaf: bool) -> bool:
    """Whether the function at callee is small enough for a region to copy in (see
    `_small_code`), and, if leaf, makes no calls; small keeps the scan for the region's
    other calls of it."""
    if callee not in small:
        small[callee] = _small_code(callee, fetch, supported, room)
    known = small[callee]
    return known is not None and not (leaf and known.calls)


def _small_code(callee: int, fetch: Fetch, supported: Callable[[Instr], bool],
                room: int) -> Callee | None:
    """The function at callee if it is small: within COPIED_INSTRUCTIONS (and the room
    left), all supported, every way out of it a return (branches and jumps stay inside
    it; calls are direct, and the scan goes on after them as if they came back, which a
    longjmp does not: code after it is copied that never runs; no other indirect jumps).
    Else None."""
    seen: set[int] = set()
    calls = False
    work = [callee]
    while work:
        pc = work.pop()
        while pc not in seen:
            raw = fetch(pc)
            instr = isa.decode(raw) if raw is not None else None
            if instr is None or not supported(instr) or \
                    len(seen) >= min(COPIED_INSTRUCTIONS, room):
                return None
            seen.add(pc)
            flow = instr.spec.flow
            if is_return(instr):
                break
            if flow is Flow.BRANCH:
                work.append(pc + instr.imm)
            elif flow is Flow.JAL and instr.rd == 0:
                work.append(pc + instr.imm)
                break
            elif flow is Flow.JAL and is_call(instr):
                calls = True
            elif flow is not Flow.NEXT:
                return None
            pc += instr.length
    return Callee(frozenset(seen), calls)


def _split(decoded: dict[int, Instr | None], leaders: set[int], ends_block: set[str],
           targets: dict[int, list[int]]) -> dict[int, Block]:
    """Cut the decoded instructions into blocks at leaders and after control transfers;
    targets: the successors of the jumps that do not say theirs (an indirect jump, a call
    taken as a jump, a return)."""
    blocks: dict[int, Block] = {}
    for start in sorted(leaders & decoded.keys()):
        block = Block(start)
        pc = start
        while True:
            instr = decoded[pc]
            block.instrs.append((pc, instr))
            pc = block.end = pc + (instr.length if instr else 4)
            if instr is None or instr.spec.flow is not Flow.NEXT or pc in leaders \
                    or pc not in decoded or instr.name in ends_block:
                break
        block.succs = _successors(block, ends_block, targets)
        blocks[start] = block
    return blocks


def _successors(block: Block, ends_block: set[str], targets: dict[int, list[int]]
                ) -> list[int]:
    pc, instr = block.instrs[-1]
    if instr is None or instr.name in ends_block:
        return []
    if pc in targets:
        return targets[pc]
    flow = instr.spec.flow
    if flow is Flow.BRANCH:
        return [pc + instr.imm, block.end]
    if flow is Flow.NEXT or is_call(instr):
        return [block.end]
    if flow is Flow.JAL:
        return [pc + instr.imm]
    return []


def cycles(graph: dict[int, list[int]]) -> dict[int, int]:
    """The nodes on a cycle, each with a number for its strongly connected component
    (Tarjan's algorithm, without recursion: call graphs are deep). Edges may lead to
    nodes the graph does not list: they have no edges."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: dict[int, int] = {}
    for root in graph:
        if root in index:
            continue
        frames = [(root, iter(graph.get(root, ())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while frames:
            node, edges = frames[-1]
            for succ in edges:
                if succ not in index:
                    index[succ] = low[succ] = len(index)
                    stack.append(succ)
                    on_stack.add(succ)
                    frames.append((succ, iter(graph.get(succ, ()))))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                frames.pop()
                if frames:
                    parent = frames[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    members = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        members.append(member)
                        if member == node:
                            break
                    if len(members) > 1 or node in graph.get(node, ()):
                        found.update(dict.fromkeys(members, node))
    return found
