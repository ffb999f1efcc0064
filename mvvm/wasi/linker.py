"""A static linker for wasm modules: several modules in, one module out.

`mvvm wasm` makes its output from pieces that are modules of their own: the dispatcher
and interpreter (mvvm.runtime.dispatcher), the translated regions (mvvm.translator), the
shim that gives them Linux on WASI (C, compiled by clang) and the glue between them
(mvvm.wasi.glue). Each imports what another exports, by name, as `mvvm run` links them at
run time with wasmtime. This linker does the same ahead of time: an import from "env" or
"mvvm" is bound to the export of that name, everything else (WASI) stays an import, and
every index in every function body is renumbered into the one module's index spaces.

It also lowers what not every engine has: an instruction named in `lowered` becomes a
call of a function that computes the same (the wide-arithmetic multiplies, which
translated code uses for mulh, are not in browsers).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mvvm.wasm import encoder as w

INTERNAL = ("env", "mvvm")                 # import modules the linked pieces provide
FUNC, TABLE, MEMORY, GLOBAL = 0, 1, 2, 3   # import and export kinds
VALTYPES = {0x7F, 0x7E, 0x7D, 0x7C, 0x7B, 0x70, 0x6F}


class LinkError(Exception):
    """The pieces do not fit together: a bug in MVVM, not in the guest program."""


class Reader:
    """LEB128 and vectors over a byte string."""

    def __init__(self, data: bytes, at: int = 0) -> None:
        self.data, self.at = data, at

    def byte(self) -> int:
        self.at += 1
        return self.data[self.at - 1]

    def uleb(self) -> int:
        data, at = self.data, self.at
        result = shift = 0
        while True:
            b = data[at]
            at += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                self.at = at
                return result
            shift += 7

    def skip_leb(self) -> None:
        self.at = _leb_end(self.data, self.at)

    def bytes(self, n: int) -> bytes:
        self.at += n
        return self.data[self.at - n:self.at]

    def name(self) -> str:
        return self.bytes(self.uleb()).decode()

    def limits(self) -> bytes:
        start = self.at
        flags = self.byte()
        self.uleb()
        if flags & 1:
            self.uleb()
        return self.data[start:self.at]

    def const_expr(self) -> bytes:
        """An initializer (i32.const, i64.const, global.get ... end), raw."""
        start = self.at
        while self.byte() != w.END:
            pass
        return self.data[start:self.at]


@dataclass
class Import:
    module: str
    name: str
    kind: int
    desc: int | bytes        # a type index (functions) or the raw description


@dataclass
class Data:
    memory: int
    offset: bytes            # a constant expression
    payload: bytes


@dataclass
class Module:
    """What the linker needs of one module; other sections are not produced by MVVM's
    pieces (a start function, element segments, tags), and are refused."""

    types: list[bytes] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)       # type index of each body
    tables: list[bytes] = field(default_factory=list)
    memories: list[bytes] = field(default_factory=list)
    globals: list[bytes] = field(default_factory=list)       # valtype, mutability, init
    exports: dict[str, tuple[int, int]] = field(default_factory=dict)
    code: list[bytes] = field(default_factory=list)
    data: list[Data] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)      # function names

    def imported(self, kind: int) -> list[Import]:
        return [i for i in self.imports if i.kind == kind]


def _leb_end(data: bytes, at: int) -> int:
    """Where the LEB128 number at `at` ends."""
    while data[at] & 0x80:
        at += 1
    return at + 1


def parse(wasm: bytes) -> Module:
    if wasm[:8] != b"\x00asm\x01\x00\x00\x00":
        raise LinkError("not a wasm module")
    m = Module()
    r = Reader(wasm, 8)
    while r.at < len(wasm):
        section, size = r.byte(), r.uleb()
        end = r.at + size
        _SECTIONS.get(section, _refuse)(m, Reader(wasm[:end], r.at), section)
        r.at = end
    return m


def _types(m: Module, r: Reader, section: int) -> None:
    for _ in range(r.uleb()):
        start = r.at
        r.byte()
        r.bytes(r.uleb())
        r.bytes(r.uleb())
        m.types.append(r.data[start:r.at])


def _imports(m: Module, r: Reader, section: int) -> None:
    for _ in range(r.uleb()):
        module, name, kind = r.name(), r.name(), r.byte()
        if kind == FUNC:
            desc: int | bytes = r.uleb()
        elif kind == TABLE:
            desc = bytes([r.byte()]) + r.limits()
        elif kind == MEMORY:
            desc = r.limits()
        else:
            desc = r.bytes(2)
        m.imports.append(Import(module, name, kind, desc))


def _functions(m: Module, r: Reader, section: int) -> None:
    m.functions = [r.uleb() for _ in range(r.uleb())]


def _tables(m: Module, r: Reader, section: int) -> None:
    m.tables = [bytes([r.byte()]) + r.limits() for _ in range(r.uleb())]


def _memories(m: Module, r: Reader, section: int) -> None:
    m.memories = [r.limits() for _ in range(r.uleb())]


def _globals(m: Module, r: Reader, section: int) -> None:
    m.globals = [r.bytes(2) + r.const_expr() for _ in range(r.uleb())]


def _exports(m: Module, r: Reader, section: int) -> None:
    for _ in range(r.uleb()):
        name, kind = r.name(), r.byte()
        m.exports[name] = (kind, r.uleb())


def _code(m: Module, r: Reader, section: int) -> None:
    for _ in range(r.uleb()):
        m.code.append(r.bytes(r.uleb()))


def _data(m: Module, r: Reader, section: int) -> None:
    for _ in range(r.uleb()):
        flags = r.uleb()
        if flags == 1:
            raise LinkError("passive data segments are not linked")
        memory = r.uleb() if flags == 2 else 0
        offset = r.const_expr()
        m.data.append(Data(memory, offset, r.bytes(r.uleb())))


def _custom(m: Module, r: Reader, section: int) -> None:
    if r.name() != "name":
        return                                   # producers, debug info: dropped
    while r.at < len(r.data):
        sub, size = r.byte(), r.uleb()
        end = r.at + size
        if sub == 1:
            for _ in range(r.uleb()):
                index = r.uleb()
                m.names[index] = r.name()
        r.at = end


def _ignore(m: Module, r: Reader, section: int) -> None:
    """The data count: recomputed for the output."""


def _refuse(m: Module, r: Reader, section: int) -> None:
    raise LinkError(f"cannot link a module with section {section}")


_SECTIONS = {0: _custom, 1: _types, 2: _imports, 3: _functions, 4: _tables, 5: _memories,
             6: _globals, 7: _exports, 10: _code, 11: _data, 12: _ignore}


# -- renumbering function bodies -------------------------------------------------------------


@dataclass
class Maps:
    """One input module's indices in the output."""

    types: list[int]
    funcs: list[int]
    tables: list[int]
    memories: list[int]
    globals: list[int]
    data_base: int
    lowered: dict[tuple[int, int], int]       # (prefix, opcode) -> function called instead


# Single-byte opcodes by their immediates (the rest have none).
# br, br_if, local.*, i32.const, i64.const: one LEB128, and the most common of all
_ONE_LEB = {0x0C, 0x0D, 0x20, 0x21, 0x22, 0x41, 0x42}
_BLOCKS = {0x02, 0x03, 0x04}
_MEMARG = set(range(0x28, 0x3F))
_SIMD_MEMARG = set(range(0, 12)) | {92, 93}
_SIMD_LANE = set(range(21, 35))
_SIMD_MEMARG_LANE = set(range(84, 92))
_PREFIXES = {0xFC, 0xFD, 0xFE}
# The opcodes whose immediates may hold an index (or are prefixed): the others are copied.
_INDEXED = _MEMARG | _BLOCKS | _PREFIXES | {0x10, 0x11, 0x12, 0x13, 0xD2, 0x23, 0x24, 0x25,
                                            0x26, 0x3F, 0x40}


def _memarg(r: Reader, out: bytearray, maps: Maps) -> None:
    align = r.uleb()
    memory = r.uleb() if align & 0x40 else 0
    offset = r.uleb()
    memory = maps.memories[memory]
    if memory:
        out += w.uleb(align | 0x40) + w.uleb(memory)
    else:
        out += w.uleb(align & ~0x40)
    out += w.uleb(offset)


def rewrite(body: bytes, maps: Maps) -> bytes:
    """A function body with every index renumbered (and lowered instructions replaced).
    Only the instructions that name an index are encoded again: the runs of others
    between them are copied as they are (translated code is mostly loads, stores and
    arithmetic, and this was a seventh of `mvvm wasm`'s time)."""
    r = Reader(body)
    for _ in range(r.uleb()):                 # the local declarations
        r.uleb()
        r.byte()
    out = bytearray(body[:r.at])
    copied = r.at                             # body[copied:start] is yet to be copied
    while r.at < len(body):
        start = r.at
        op = r.byte()
        if op in _ONE_LEB:
            r.at = _leb_end(body, r.at)
            continue
        if op not in _INDEXED:
            _plain(op, r)
            continue
        if op in _MEMARG and (end := _memarg_kept(body, r.at, maps)):
            r.at = end
            continue
        if op in _BLOCKS and (body[r.at] == 0x40 or body[r.at] in VALTYPES):
            r.at += 1
            continue
        out += body[copied:start]
        _rewrite_one(op, r, out, maps)
        copied = r.at
    out += body[copied:]
    return bytes(out)


def _memarg_kept(body: bytes, at: int, maps: Maps) -> int:
    """Where the memarg at `at` ends if `_memarg` would write it back as it is (memory 0
    staying 0, the offset's LEB128 already minimal), else 0."""
    if body[at] & 0xC0 or maps.memories[0]:
        return 0
    end = _leb_end(body, at + 1)
    return 0 if end > at + 2 and body[end - 1] == 0 else end


def _rewrite_one(op: int, r: Reader, out: bytearray, maps: Maps) -> None:
    """The instruction after op, which names an index, renumbered into out."""
    if op in _PREFIXES:
        _prefixed(op, r, out, maps)
        return
    out.append(op)
    if op in _MEMARG:
        _memarg(r, out, maps)
    elif op in (0x10, 0x12, 0xD2):              # call, return_call, ref.func
        out += w.uleb(maps.funcs[r.uleb()])
    elif op in (0x11, 0x13):                    # call_indirect, return_call_indirect
        out += w.uleb(maps.types[r.uleb()]) + w.uleb(maps.tables[r.uleb()])
    elif op in (0x23, 0x24):
        out += w.uleb(maps.globals[r.uleb()])
    elif op in (0x25, 0x26):
        out += w.uleb(maps.tables[r.uleb()])
    elif op in (0x3F, 0x40):
        out += w.uleb(maps.memories[r.uleb()])
    else:
        _blocktype(r, out, maps)


def _blocktype(r: Reader, out: bytearray, maps: Maps) -> None:
    """A block type that is a type index (`rewrite` copies the others: empty, a value)."""
    out += w.sleb(maps.types[r.uleb()])         # a type index is a non-negative s33


def _plain(op: int, r: Reader) -> None:
    """Step over the immediates of an instruction that holds no index (but _ONE_LEB's)."""
    if op == 0x0E:
        for _ in range(r.uleb() + 1):
            r.skip_leb()
    elif op == 0x1C:
        r.bytes(r.uleb())
    elif op == 0x43:
        r.bytes(4)
    elif op == 0x44:
        r.bytes(8)
    elif op == 0xD0:
        r.byte()


def _prefixed(prefix: int, r: Reader, out: bytearray, maps: Maps) -> None:
    sub = r.uleb()
    call = maps.lowered.get((prefix, sub))
    if call is not None:
        out.append(0x10)
        out += w.uleb(call)
        return
    out.append(prefix)
    out += w.uleb(sub)
    if prefix == 0xFE:
        if sub == 0x03:                         # atomic.fence
            out.append(r.byte())
        else:
            _memarg(r, out, maps)
    elif prefix == 0xFD:
        if sub in _SIMD_MEMARG or sub in _SIMD_MEMARG_LANE:
            _memarg(r, out, maps)
        if sub in _SIMD_LANE or sub in _SIMD_MEMARG_LANE:
            out.append(r.byte())
        elif sub in (12, 13):                   # v128.const, i8x16.shuffle
            out += r.bytes(16)
    else:
        _bulk(sub, r, out, maps)


def _bulk(sub: int, r: Reader, out: bytearray, maps: Maps) -> None:
    """0xFC: saturating truncations (no immediates), bulk memory and table operations."""
    if sub == 8:                                # memory.init data memory
        out += w.uleb(maps.data_base + r.uleb()) + w.uleb(maps.memories[r.uleb()])
    elif sub == 9:                              # data.drop
        out += w.uleb(maps.data_base + r.uleb())
    elif sub == 10:                             # memory.copy to from
        out += w.uleb(maps.memories[r.uleb()]) + w.uleb(maps.memories[r.uleb()])
    elif sub == 11:                             # memory.fill
        out += w.uleb(maps.memories[r.uleb()])
    elif sub == 14:                             # table.copy
        out += w.uleb(maps.tables[r.uleb()]) + w.uleb(maps.tables[r.uleb()])
    elif sub in (15, 16, 17):                   # table.grow, .size, .fill
        out += w.uleb(maps.tables[r.uleb()])
    elif sub > 7:
        raise LinkError(f"cannot link instruction 0xfc {sub}")


# -- the output --------------------------------------------------------------------------------


@dataclass
class Element:
    """Functions to place in a table from an offset: (module, export) names each."""

    table: tuple[str, str]
    offset: int
    functions: list[tuple[str, str]]


@dataclass
class Linked:
    """The output's index spaces as they are filled."""

    types: list[bytes] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    functions: list[int] = field(default_factory=list)
    code: list[bytes] = field(default_factory=list)
    tables: list[bytes] = field(default_factory=list)
    memories: list[bytes] = field(default_factory=list)
    globals: list[bytes] = field(default_factory=list)
    data: list[Data] = field(default_factory=list)
    names: dict[int, str] = field(default_factory=dict)

    def type_index(self, encoded: bytes) -> int:
        if encoded not in self.types:
            self.types.append(encoded)
        return self.types.index(encoded)


def link(modules: dict[str, bytes], *, exports: dict[str, tuple[str, str]],
         elements: list[Element] = (), data: list[tuple[tuple[str, str], int, bytes]] = (),
         lowered: dict[tuple[int, int], tuple[str, str]] | None = None,
         name: str = "") -> bytes:
    """One module from the named pieces (in this order in each index space). exports: the
    output's, each a piece's export; elements and data: table and memory contents to add,
    at a table or memory a piece exports; lowered: instructions to replace by a call of a
    function a piece exports. Each is named (piece, export)."""
    pieces = _Pieces({key: parse(wasm) for key, wasm in modules.items()})
    out = pieces.out
    lowering = {op: pieces.exported(FUNC, *where) for op, where in (lowered or {}).items()}
    for key, m in pieces.parsed.items():
        maps = pieces.maps(key, lowering)
        imported = len(m.imported(FUNC))
        for index, (type_index, body) in enumerate(zip(m.functions, m.code, strict=True)):
            out.functions.append(maps.types[type_index])
            out.code.append(rewrite(body, maps))
            if imported + index in m.names:
                out.names[maps.funcs[imported + index]] = m.names[imported + index]
        out.data += [Data(maps.memories[d.memory], d.offset, d.payload) for d in m.data]
    for where, offset, payload in data:
        out.data.append(Data(pieces.exported(MEMORY, *where), _i32_const(offset), payload))
    table_elements = [(pieces.exported(TABLE, *e.table), e.offset,
                       [pieces.exported(FUNC, *f) for f in e.functions]) for e in elements]
    output_exports = []
    for export, (piece, what) in exports.items():
        kind = pieces.parsed[piece].exports[what][0]
        output_exports.append((export, kind, pieces.exported(kind, piece, what)))
    return _encode(out, output_exports, table_elements, name)


class _Pieces:
    """The input modules laid out in the output's index spaces: each piece's definitions
    follow the previous piece's, after the imports that stay (WASI's)."""

    def __init__(self, parsed: dict[str, Module]) -> None:
        self.parsed = parsed
        self.out = Linked()
        self.kept = self._kept_imports()
        self.first: dict[str, dict[int, int]] = {}     # piece -> kind -> its first index
        functions = len(self.kept)
        out = self.out
        for key, m in parsed.items():
            self.first[key] = {FUNC: functions, TABLE: len(out.tables),
                               MEMORY: len(out.memories), GLOBAL: len(out.globals)}
            functions += len(m.functions)
            out.tables += m.tables
            out.memories += m.memories
            out.globals += m.globals
        self.providers = {export: key for key, m in parsed.items() for export in m.exports}

    def _kept_imports(self) -> dict[tuple[str, str], int]:
        """The imports no piece provides (functions only: WASI), numbered in order."""
        kept: dict[tuple[str, str], int] = {}
        for m in self.parsed.values():
            for i in m.imports:
                if i.module in INTERNAL or (i.module, i.name) in kept:
                    continue
                if i.kind != FUNC:
                    raise LinkError(f"cannot import {i.module}.{i.name}: only functions")
                kept[(i.module, i.name)] = len(kept)
                self.out.imports.append(Import(i.module, i.name, FUNC,
                                               self.out.type_index(m.types[i.desc])))
        return kept

    def resolve(self, key: str, kind: int, index: int) -> int:
        """A piece's index of a kind, in the output: its own definition, or what its
        import is bound to."""
        imported = self.parsed[key].imported(kind)
        if index >= len(imported):
            return self.first[key][kind] + index - len(imported)
        i = imported[index]
        if i.module not in INTERNAL:
            return self.kept[(i.module, i.name)]
        return self.exported(kind, self.providers.get(i.name), i.name)

    def exported(self, kind: int, key: str | None, export: str) -> int:
        """The output index of what a piece exports under a name."""
        if key is None or export not in self.parsed[key].exports:
            raise LinkError(f"nothing exports {export}")
        got, index = self.parsed[key].exports[export]
        if got != kind:
            raise LinkError(f"{export} is not of kind {kind}")
        return self.resolve(key, kind, index)

    def maps(self, key: str, lowering: dict[tuple[int, int], int]) -> Maps:
        m = self.parsed[key]

        def every(kind: int, defined: int) -> list[int]:
            return [self.resolve(key, kind, i) for i in range(len(m.imported(kind)) + defined)]

        return Maps(types=[self.out.type_index(t) for t in m.types],
                    funcs=every(FUNC, len(m.functions)), tables=every(TABLE, len(m.tables)),
                    memories=every(MEMORY, len(m.memories)),
                    globals=every(GLOBAL, len(m.globals)), data_base=len(self.out.data),
                    lowered=lowering)


def _i32_const(value: int) -> bytes:
    return bytes([0x41]) + w.sleb(value - (1 << 32) if value >= 1 << 31 else value) + b"\x0b"


def _encode(out: Linked, exports: list[tuple[str, int, int]],
            elements: list[tuple[int, int, list[int]]], name: str) -> bytes:
    wasm = bytearray(b"\x00asm\x01\x00\x00\x00")
    vector = w.vector
    w.section(wasm, 1, vector(out.types))
    w.section(wasm, 2, vector([w.encode_name(i.module) + w.encode_name(i.name) + b"\x00"
                               + w.uleb(i.desc) for i in out.imports]))
    w.section(wasm, 3, vector([w.uleb(t) for t in out.functions]))
    w.section(wasm, 4, vector(out.tables))
    w.section(wasm, 5, vector(out.memories))
    w.section(wasm, 6, vector(out.globals))
    w.section(wasm, 7, vector([w.encode_name(n) + bytes([kind]) + w.uleb(index)
                               for n, kind, index in exports]))
    w.section(wasm, 9, vector([
        b"\x02" + w.uleb(table) + _i32_const(offset) + b"\x00"
        + vector([w.uleb(f) for f in functions]) for table, offset, functions in elements]))
    if out.data:
        w.section(wasm, 12, w.uleb(len(out.data)))
    w.section(wasm, 10, vector([w.sized(body) for body in out.code]))
    w.section(wasm, 11, vector([
        (b"\x00" if d.memory == 0 else b"\x02" + w.uleb(d.memory)) + d.offset
        + w.sized(d.payload) for d in out.data]))
    names = b""
    if name:
        names += b"\x00" + w.sized(w.encode_name(name))
    if out.names:
        names += b"\x01" + w.sized(vector([w.uleb(i) + w.encode_name(n)
                                            for i, n in sorted(out.names.items())]))
    w.section(wasm, 0, w.encode_name("name") + names)
    return bytes(wasm)
