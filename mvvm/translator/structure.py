"""What structured control flow needs to know about a region's control-flow graph.

The emitter follows Norman Ramsey, "Beyond Relooper" (ICFP 2022): walk the
dominator tree; a loop header becomes a wasm `loop`, a merge node (two or
more forward in-edges) becomes the code after a `block` that its
predecessors `br` out of, every other node is emitted inline at its only
predecessor. That needs a reducible graph. A retreating edge whose target
does not dominate its source is irreducible (a loop with several entries:
gcc's jump threading makes them of a state machine's switch); such an edge
goes instead to DISPATCH, a node put before the region's entry that jumps to
the entry or to any of those targets by a label variable (a br_table). It
dominates everything, so the edge becomes the back edge of a loop around the
region, and the graph is reducible. The edges into the targets from
elsewhere may turn out irreducible in the new graph too: those are added until
none is. (Those edges used to leave the region: every pass of a state
machine's loop went through the dispatcher, a write-back and a lookup.)

A region entered at an inner loop's header (the first code to get hot) reaches
the outer loop too, whose back edge also comes to the entry: one loop, in
which every register of the nest would be live at once. Those outer back edges
go by DISPATCH too, which makes the outer loop DISPATCH's: properly nested
(they used to leave the region, once per pass of the outer loop).
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.translator.region import Region

DISPATCH = -1        # the node that jumps to the entry or an irreducible edge's target


@dataclass
class Shape:
    root: int                           # the region's entry, or DISPATCH before it
    rpo: dict[int, int]                 # block start -> reverse postorder number
    edges: dict[int, list[int]]         # in-region successor edges kept (may repeat)
    children: dict[int, list[int]]      # dominator tree
    loop_headers: set[int]
    merge_nodes: set[int]
    dispatch: list[int]                 # DISPATCH's targets, by label: the entry first
    dispatched: set[tuple[int, int]]    # the edges that go by DISPATCH (in edges as it)

    def target(self, source: int, target: int) -> int:
        """The node the edge from source to a guest target goes to."""
        return DISPATCH if (source, target) in self.dispatched else target

    def keeps(self, source: int, target: int) -> bool:
        """Whether the edge stays in the region (else it is an exit)."""
        return self.target(source, target) in self.edges[source]

    def is_backward(self, source: int, target: int) -> bool:
        return self.rpo[target] <= self.rpo[source]

    def merge_children(self, node: int) -> list[int]:
        """Merge-node children of node, highest reverse postorder first: the first one is
        the outermost block, whose code comes last."""
        kids = [c for c in self.children[node] if c in self.merge_nodes]
        return sorted(kids, key=self.rpo.__getitem__, reverse=True)


def analyse(region: Region) -> Shape:
    edges = {start: [s for s in block.succs if s in region.blocks]
             for start, block in region.blocks.items()}
    root, dispatch, dispatched = region.entry, [region.entry], set()
    redirect = _outer_loops_at_entry(region.entry, edges)
    while True:
        if redirect:
            root = DISPATCH
            dispatch += sorted({v for _, v in redirect} - set(dispatch))
            dispatched |= redirect
            edges = {u: [DISPATCH if (u, v) in redirect else v for v in vs]
                     for u, vs in edges.items()}
            edges[DISPATCH] = list(dispatch)
        order = _reverse_postorder(root, edges)
        rpo = {node: i for i, node in enumerate(order)}
        idom = _dominators(order, rpo, edges)
        redirect = {(u, v) for u in order for v in edges[u]
                    if rpo[v] <= rpo[u] and not _dominates(v, u, idom)}
        if not redirect:
            break
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
    return Shape(root, rpo, edges, children, loop_headers, merges,
                 dispatch if root == DISPATCH else [], dispatched)


def _outer_loops_at_entry(entry: int, edges: dict[int, list[int]]) -> set[tuple[int, int]]:
    """The back edges to the entry whose natural loop strictly holds another's: the edges
    of the loops around the innermost one, when there is an innermost one."""
    preds: dict[int, list[int]] = {node: [] for node in edges}
    for u, succs in edges.items():
        for v in succs:
            preds[v].append(u)
    bodies = {u: _natural_loop(entry, u, preds) for u in set(preds[entry])}
    if len(bodies) < 2:
        return set()
    inner = min(bodies.values(), key=len)
    if not all(inner < body for body in bodies.values() if body is not inner):
        return set()
    return {(u, entry) for u, body in bodies.items() if body is not inner}


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
    preds: dict[int, list[int]] = {node: [] for node in order}
    for u in order:
        for v in edges[u]:
            preds[v].append(u)
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
