"""What structured control flow needs to know about a region's control-flow graph.

The emitter follows Norman Ramsey, "Beyond Relooper" (ICFP 2022): walk the
dominator tree; a loop header becomes a wasm `loop`, a merge node (two or
more forward in-edges) becomes the code after a `block` that its
predecessors `br` out of, every other node is emitted inline at its only
predecessor. That needs a reducible graph: a retreating edge whose target
does not dominate its source is irreducible, and is simply made a region
exit (the dispatcher re-enters at its target), which keeps the graph
reducible without a label variable.

A region entered at an inner loop's header (the first code to get hot) reaches
the outer loop too, whose back edge also comes to the entry: one loop, in
which every register of the nest is live at once. Those outer back edges are
made exits as well, so the region is the inner loop alone; the outer loop's
header gets hot next and its region holds the whole nest, properly nested.
"""

from __future__ import annotations

from dataclasses import dataclass

from mvvm.translator.region import Region


@dataclass
class Shape:
    rpo: dict[int, int]                 # block start -> reverse postorder number
    edges: dict[int, list[int]]         # in-region successor edges kept (may repeat)
    children: dict[int, list[int]]      # dominator tree
    loop_headers: set[int]
    merge_nodes: set[int]

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
    order = _reverse_postorder(region.entry, edges)
    rpo = {node: i for i, node in enumerate(order)}
    idom = _dominators(order, rpo, edges)
    irreducible = {(u, v) for u in order for v in edges[u]
                   if rpo[v] <= rpo[u] and not _dominates(v, u, idom)}
    irreducible |= _outer_loops_at_entry(region.entry, edges)
    if irreducible:
        edges = {u: [v for v in vs if (u, v) not in irreducible] for u, vs in edges.items()}
        idom = _dominators(order, rpo, edges)
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
    return Shape(rpo, edges, children, loop_headers, merges)


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
