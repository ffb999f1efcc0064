"""What structured control flow needs to know about a region's control-flow graph.

The emitter follows Norman Ramsey, "Beyond Relooper" (ICFP 2022): walk the
dominator tree; a loop header becomes a wasm `loop`, a merge node (two or
more forward in-edges) becomes the code after a `block` that its
predecessors `br` out of, every other node is emitted inline at its only
predecessor. That needs a reducible graph. A retreating edge whose target
does not dominate its source is irreducible: it closes a loop with several
entries (gcc's jump threading makes them of a state machine's switch, and
glibc's word copy enters its unrolled loop in the middle). Such a loop is
split (node splitting): one entry stays its header, and what each other entry
reaches in the loop before the header is copied, the edges into that entry
from outside the loop going to the copy instead. So a node is a block (by its
start) or a copy of one (numbered below DISPATCH, sharing the block), and the
edge from a node to a guest target goes to the node `Shape.target` says.

Where the copies or the loops to split would be too many (SPLIT_INSTRUCTIONS,
SPLITS), the irreducible edges go instead to DISPATCH, a node put before the
region's entry that jumps to the entry or to any of those targets by a label
variable (a br_table). It dominates everything, so the edge becomes the back
edge of a loop around the region, and the graph is reducible. The edges into
the targets from elsewhere may turn out irreducible in the new graph too:
those are added until none is. That costs more at run time than the copies:
the region becomes one loop, every target a merge node, with what is live
anywhere in it live around it (the lexer bench ran 17-20% faster split).
(Those edges used to leave the region: every pass of a state machine's loop
went through the dispatcher.)

A region entered at an inner loop's header (the first code to get hot) reaches
the outer loop too, whose back edge also comes to the entry: one loop, in
which every register of the nest would be live at once. Those outer back edges
go by DISPATCH too, which makes the outer loop DISPATCH's: properly nested
(they used to leave the region, once per pass of the outer loop).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property

from mvvm.translator.region import Block, Region

DISPATCH = -1        # the node that jumps to the entry or an irreducible edge's target
# The most instructions node splitting copies into a region; an irreducible graph that
# needs more goes by DISPATCH.
SPLIT_INSTRUCTIONS = 1000
SPLITS = 64         # and the most loops it splits (each pass analyses the whole graph again)


@dataclass
class Shape:
    root: int                           # the region's entry, or DISPATCH before it
    rpo: dict[int, int]                 # node -> reverse postorder number
    blocks: dict[int, Block]            # node -> its block: a block's start, or a copy's
    # number (below DISPATCH), which shares its block
    succ: dict[int, dict[int, int]]     # node -> guest target -> the node it goes to
    edges: dict[int, list[int]]         # in-region successor edges kept (may repeat)
    children: dict[int, list[int]]      # dominator tree
    loop_headers: set[int]
    merge_nodes: set[int]
    dispatch: list[int]                 # DISPATCH's targets, by label: the entry first
    dispatched: dict[tuple[int, int], int]  # (node, guest target) -> the node behind
    # DISPATCH, for the edges that go by it

    def target(self, source: int, target: int) -> int:
        """The node the edge from node source to a guest target goes to."""
        return self.succ[source].get(target, target)

    def label(self, source: int, target: int) -> int:
        """DISPATCH's label for the edge from source to target that goes by it."""
        return self.dispatch.index(self.dispatched[source, target])

    def keeps(self, source: int, target: int) -> bool:
        """Whether the edge stays in the region (else it is an exit)."""
        return self.target(source, target) in self.edges[source]

    def is_backward(self, source: int, target: int) -> bool:
        return self.rpo[target] <= self.rpo[source]

    def loop_body(self, header: int) -> frozenset[int]:
        """The nodes of the loop at header: those on a cycle through it. Less than the
        header's dominator subtree, which in Ramsey's structure is what its wasm loop
        holds: the code after the loop is in the subtree too."""
        body: frozenset[int] = frozenset({header})
        for source in self.preds[header]:
            if self.is_backward(source, header):
                body |= _natural_loop(header, source, self.preds)
        return body

    @cached_property
    def idom(self) -> dict[int, int]:
        """Each node's immediate dominator, the root's itself."""
        return {self.root: self.root} | {kid: node for node, kids in self.children.items()
                                         for kid in kids}

    def dominates(self, a: int, b: int) -> bool:
        return _dominates(a, b, self.idom)

    @cached_property
    def preds(self) -> dict[int, list[int]]:
        return _predecessors(self.rpo, self.edges)

    def merge_children(self, node: int) -> list[int]:
        """Merge-node children of node, highest reverse postorder first: the first one is
        the outermost block, whose code comes last."""
        kids = [c for c in self.children[node] if c in self.merge_nodes]
        return sorted(kids, key=self.rpo.__getitem__, reverse=True)


def analyse(region: Region) -> Shape:
    """The region's shape, its irreducible loops split; or, where that would copy more
    than SPLIT_INSTRUCTIONS or split more than SPLITS loops, the shape with the edges that
    make them irreducible going by DISPATCH instead (copies and DISPATCH both would pay
    for both)."""
    shape = _shape(region, SPLIT_INSTRUCTIONS) or _shape(region, 0)
    assert shape is not None
    return shape


def _shape(region: Region, room: int) -> Shape | None:
    """The shape with at most room instructions copied, else None; with no room at all,
    the edges that make loops irreducible go by DISPATCH."""
    graph = _Graph(region, room)
    redirect = _outer_loops_at_entry(region.entry, graph.edges())
    while True:
        if redirect:
            graph.go_by_dispatch(redirect)
        edges = graph.edges()
        order = _reverse_postorder(graph.root, edges)
        rpo = {node: i for i, node in enumerate(order)}
        idom = _dominators(order, rpo, edges)
        irreducible = [(u, v) for u in order for v in edges[u]
                       if rpo[v] <= rpo[u] and not _dominates(v, u, idom)]
        if not irreducible:
            break
        if not room:
            redirect = set(irreducible)
        elif graph.split(irreducible[0][1], order, rpo, edges):
            redirect = set()
        else:
            return None
    children: dict[int, list[int]] = {node: [] for node in order}
    for node in order[1:]:
        children[idom[node]].append(node)
    forward_in = dict.fromkeys(order, 0)
    loop_headers = set()
    for u in order:
        for v in edges[u]:
            if rpo[v] <= rpo[u]:
                loop_headers.add(v)
            else:
                forward_in[v] += 1
    merges = {v for v, count in forward_in.items() if count >= 2}
    return Shape(graph.root, rpo, graph.blocks, graph.succ, edges, children, loop_headers,
                 merges, edges.get(DISPATCH, []), graph.dispatched)


class _Graph:
    """The region's control-flow graph as analyse changes it: edges that go by DISPATCH,
    and copies of blocks (node splitting)."""

    def __init__(self, region: Region, room: int) -> None:
        self.blocks = dict(region.blocks)
        self.succ = {start: {s: s for s in block.succs if s in region.blocks}
                     for start, block in region.blocks.items()}
        self.root = region.entry
        self.dispatch = [region.entry]
        self.dispatched: dict[tuple[int, int], int] = {}
        self.room = room        # the instructions left to copy
        self.splits = SPLITS    # and the loops left to split
        self.next_copy = DISPATCH - 1

    def edges(self) -> dict[int, list[int]]:
        """Node -> its successor nodes, an edge per successor of its block (so they may
        repeat: a branch whose two sides are the same block)."""
        edges = {node: [self.succ[node][s] for s in block.succs if s in self.succ[node]]
                 for node, block in self.blocks.items()}
        if self.root == DISPATCH:
            edges[DISPATCH] = list(self.dispatch)
        return edges

    def go_by_dispatch(self, redirect: set[tuple[int, int]]) -> None:
        """The edges in redirect go by DISPATCH, which becomes the root."""
        self.root = DISPATCH
        for u, v in redirect:
            pc = self.blocks[v].start
            self.dispatched[u, pc] = v
            self.succ[u][pc] = DISPATCH
        self.dispatch += sorted({v for _, v in redirect} - set(self.dispatch))

    def split(self, target: int, order: list[int], rpo: dict[int, int],
              edges: dict[int, list[int]]) -> bool:
        """Make the innermost loop around target that has several entries (the irreducible
        one) a loop with one, its header: what each other entry reaches in the loop
        before the header gets a copy, which the edges from outside the loop to that
        entry go to instead. So the two-entry loop of a state machine is a loop with a
        copy of its first pass; DISPATCH would make the whole region one loop and every
        node a merge. The header is the entry that needs the fewest copies; the root
        must be it, so if another needs fewer, DISPATCH becomes the root (a jump to the
        entry) and the entry an entry like the others. False if it cannot: the copies
        would take more than the room left, no split is left, or no loop around target
        has several entries."""
        preds = _predecessors(order, edges)
        found = _entered_loop(target, set(order), edges, preds, self.root, rpo)
        if found is None:
            return False
        loop, entries = found
        self.splits -= 1
        costs, bound = {}, self.room
        for header in [DISPATCH] if self.root == DISPATCH and DISPATCH in loop else entries:
            costs[header] = self._cost(loop, entries, header, edges, bound)
            bound = min(bound, costs[header])
        header = min(costs, key=costs.__getitem__)
        if costs[header] > self.room or self.splits < 0:
            return False
        if self.root in loop and header != self.root:
            self.go_by_dispatch(set())
            return True
        self.room -= costs[header]
        entries.remove(header)
        bodies = [set(_reach(entry, edges, loop - {header})) for entry in entries]
        for entry, body in zip(entries, bodies, strict=True):
            copies = {node: self._copy(node) for node in body}
            for node, copy in copies.items():
                self.succ[copy] = {pc: copies.get(v, v) for pc, v in self.succ[node].items()}
                self.dispatched.update({(copy, pc): v for (u, pc), v in self.dispatched.items()
                                        if u == node})
            for pred in set(preds[entry]) - loop:
                self._redirect(pred, entry, copies[entry])
        return True

    def _cost(self, loop: set[int], entries: list[int], header: int,
              edges: dict[int, list[int]], bound: int) -> int:
        """The instructions that splitting the loop at header copies, or a number above
        bound once it is clear that they are more (the search stops there: a state
        machine's loop may have hundreds of entries)."""
        cost, inside = 0, loop - {header}
        for entry in entries:
            if entry != header:
                for node in _reach(entry, edges, inside):
                    cost += len(self.blocks[node].instrs)
                    if cost > bound:
                        return cost
        return cost

    def _copy(self, node: int) -> int:
        copy = self.next_copy
        self.next_copy -= 1
        self.blocks[copy] = self.blocks[node]
        return copy

    def _redirect(self, pred: int, node: int, copy: int) -> None:
        if pred == DISPATCH:
            self.dispatch = [copy if v == node else v for v in self.dispatch]
        else:
            self.succ[pred][self.blocks[node].start] = copy


def _entered_loop(node: int, nodes: set[int], edges: dict[int, list[int]],
                  preds: dict[int, list[int]], root: int, rpo: dict[int, int]
                  ) -> tuple[set[int], list[int]] | None:
    """The innermost strongly connected set of nodes around node with several entries,
    and its entries in reverse postorder; None if there is none. A set with one entry
    is a reducible loop: without its header, the set around node inside it is looked at."""
    while True:
        loop = set(_reach(node, edges, nodes)) & set(_reach(node, preds, nodes))
        entries = sorted((n for n in loop if n == root or any(p not in loop for p in preds[n])),
                         key=rpo.__getitem__)
        if len(entries) > 1:
            return loop, entries
        if entries[:1] in ([], [node]):
            return None
        nodes = loop - set(entries)


def _reach(start: int, edges: dict[int, list[int]], nodes: set[int]) -> Iterator[int]:
    """The nodes reachable from start through nodes alone (start included), as found."""
    seen, work = {start}, [start]
    while work:
        node = work.pop()
        yield node
        for succ in edges[node]:
            if succ in nodes and succ not in seen:
                seen.add(succ)
                work.append(succ)


def _outer_loops_at_entry(entry: int, edges: dict[int, list[int]]) -> set[tuple[int, int]]:
    """The back edges to the entry whose natural loop strictly holds another's: the edges
    of the loops around the innermost one, when there is an innermost one."""
    preds = _predecessors(edges, edges)
    bodies = {u: _natural_loop(entry, u, preds) for u in set(preds[entry])}
    if len(bodies) < 2:
        return set()
    inner = min(bodies.values(), key=len)
    if not all(inner < body for body in bodies.values() if body is not inner):
        return set()
    return {(u, entry) for u, body in bodies.items() if body is not inner}


def _predecessors(nodes: Iterable[int], edges: dict[int, list[int]]) -> dict[int, list[int]]:
    """Each node's predecessors among nodes (the edges from elsewhere left out)."""
    preds: dict[int, list[int]] = {node: [] for node in nodes}
    for u in preds:
        for v in edges[u]:
            preds[v].append(u)
    return preds


def _natural_loop(header: int, source: int, preds: dict[int, list[int]]) -> frozenset[int]:
    """The header and the nodes that reach the back edge's source without passing it."""
    body, work = {header}, [source]
    while work:
        node = work.pop()
        if node not in body:
            body.add(node)
            work += preds[node]
    return frozenset(body)


def _reverse_postorder(entry: int, edges: dict[int, list[int]]) -> list[int]:
    post: list[int] = []
    seen = {entry}
    stack = [(entry, iter(edges[entry]))]
    while stack:
        node, it = stack[-1]
        for succ in it:
            if succ not in seen:
                seen.add(succ)
                stack.append((succ, iter(edges[succ])))
                break
        else:
            stack.pop()
            post.append(node)
    return post[::-1]


def _dominators(order: list[int], rpo: dict[int, int],
                edges: dict[int, list[int]]) -> dict[int, int]:
    """Cooper, Harvey and Kennedy's iterative algorithm; idom[entry] = entry."""
    preds = _predecessors(order, edges)
    entry = order[0]
    idom = {entry: entry}
    changed = True
    while changed:
        changed = False
        for node in order[1:]:
            done = [p for p in preds[node] if p in idom]
            new = done[0]
            for p in done[1:]:
                new = _intersect(p, new, idom, rpo)
            if idom.get(node) != new:
                idom[node] = new
                changed = True
    return idom


def _intersect(a: int, b: int, idom: dict[int, int], rpo: dict[int, int]) -> int:
    while a != b:
        while rpo[a] > rpo[b]:
            a = idom[a]
        while rpo[b] > rpo[a]:
            b = idom[b]
    return a


def _dominates(a: int, b: int, idom: dict[int, int]) -> bool:
    while True:
        if a == b:
            return True
        if idom[b] == b:
            return False
        b = idom[b]
