"""A small WebAssembly binary encoder: LEB128, function bodies, and a module builder.

The translator emits wasm straight into bytearrays (no text format, no
intermediate tree) because translation speed in Python is on the start-up
path of every guest program. Only the pieces MVVM uses are here: one type
per signature, imported memories/tables/functions, defined functions, exports,
and a name section so that a trap's frames say which region they came from.
"""

from __future__ import annotations

from typing import NamedTuple

I32 = 0x7F
I64 = 0x7E
F32 = 0x7D
F64 = 0x7C
V128 = 0x7B
FUNCREF = 0x70
EXPORT_FUNC, EXPORT_TABLE, EXPORT_MEMORY = 0x00, 0x01, 0x02   # export kinds
VOID = 0x40

# Opcodes (single byte). Named as in the spec with "." -> "_".
UNREACHABLE, NOP, BLOCK, LOOP, IF, ELSE, END, BR, BR_IF, BR_TABLE, RETURN = (
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F)
CALL, CALL_INDIRECT, RETURN_CALL_INDIRECT = 0x10, 0x11, 0x13
DROP, SELECT = 0x1A, 0x1B
LOCAL_GET, LOCAL_SET, LOCAL_TEE, GLOBAL_GET, GLOBAL_SET = 0x20, 0x21, 0x22, 0x23, 0x24
I32_LOAD, I64_LOAD, F32_LOAD, F64_LOAD = 0x28, 0x29, 0x2A, 0x2B
I32_LOAD8_S, I32_LOAD8_U, I32_LOAD16_S, I32_LOAD16_U = 0x2C, 0x2D, 0x2E, 0x2F
I64_LOAD8_S, I64_LOAD8_U, I64_LOAD16_S, I64_LOAD16_U, I64_LOAD32_S, I64_LOAD32_U = (
    0x30, 0x31, 0x32, 0x33, 0x34, 0x35)
I32_STORE, I64_STORE, F32_STORE, F64_STORE = 0x36, 0x37, 0x38, 0x39
I32_STORE8, I32_STORE16, I64_STORE8, I64_STORE16, I64_STORE32 = 0x3A, 0x3B, 0x3C, 0x3D, 0x3E
I32_CONST, I64_CONST, F32_CONST, F64_CONST = 0x41, 0x42, 0x43, 0x44
I32_EQZ, I32_EQ, I32_NE, I32_LT_S, I32_LT_U, I32_GT_S, I32_GT_U = (
    0x45, 0x46, 0x47, 0x48, 0x49, 0x4A, 0x4B)
I32_LE_S, I32_LE_U, I32_GE_S, I32_GE_U = 0x4C, 0x4D, 0x4E, 0x4F
I64_EQZ, I64_EQ, I64_NE, I64_LT_S, I64_LT_U, I64_GT_S, I64_GT_U = (
    0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56)
I64_LE_S, I64_LE_U, I64_GE_S, I64_GE_U = 0x57, 0x58, 0x59, 0x5A
F32_EQ, F32_NE, F32_LT, F32_GT, F32_LE, F32_GE = 0x5B, 0x5C, 0x5D, 0x5E, 0x5F, 0x60
F64_EQ, F64_NE, F64_LT, F64_GT, F64_LE, F64_GE = 0x61, 0x62, 0x63, 0x64, 0x65, 0x66
I32_CLZ, I32_CTZ, I32_POPCNT = 0x67, 0x68, 0x69
I32_ADD, I32_SUB, I32_MUL, I32_DIV_S, I32_DIV_U, I32_REM_S, I32_REM_U = (
    0x6A, 0x6B, 0x6C, 0x6D, 0x6E, 0x6F, 0x70)
I32_AND, I32_OR, I32_XOR, I32_SHL, I32_SHR_S, I32_SHR_U, I32_ROTL, I32_ROTR = (
    0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78)
I64_CLZ, I64_CTZ, I64_POPCNT = 0x79, 0x7A, 0x7B
I64_ADD, I64_SUB, I64_MUL, I64_DIV_S, I64_DIV_U, I64_REM_S, I64_REM_U = (
    0x7C, 0x7D, 0x7E, 0x7F, 0x80, 0x81, 0x82)
I64_AND, I64_OR, I64_XOR, I64_SHL, I64_SHR_S, I64_SHR_U, I64_ROTL, I64_ROTR = (
    0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A)
F32_ABS, F32_NEG, F32_CEIL, F32_FLOOR, F32_TRUNC, F32_NEAREST, F32_SQRT = (
    0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91)
F32_ADD, F32_SUB, F32_MUL, F32_DIV, F32_MIN, F32_MAX, F32_COPYSIGN = (
    0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98)
F64_ABS, F64_NEG, F64_CEIL, F64_FLOOR, F64_TRUNC, F64_NEAREST, F64_SQRT = (
    0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F)
F64_ADD, F64_SUB, F64_MUL, F64_DIV, F64_MIN, F64_MAX, F64_COPYSIGN = (
    0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6)
I32_WRAP_I64 = 0xA7
I32_TRUNC_F32_S, I32_TRUNC_F32_U, I32_TRUNC_F64_S, I32_TRUNC_F64_U = 0xA8, 0xA9, 0xAA, 0xAB
I64_EXTEND_I32_S, I64_EXTEND_I32_U = 0xAC, 0xAD
I64_TRUNC_F32_S, I64_TRUNC_F32_U, I64_TRUNC_F64_S, I64_TRUNC_F64_U = 0xAE, 0xAF, 0xB0, 0xB1
F32_CONVERT_I32_S, F32_CONVERT_I32_U, F32_CONVERT_I64_S, F32_CONVERT_I64_U = (
    0xB2, 0xB3, 0xB4, 0xB5)
F32_DEMOTE_F64 = 0xB6
F64_CONVERT_I32_S, F64_CONVERT_I32_U, F64_CONVERT_I64_S, F64_CONVERT_I64_U = (
    0xB7, 0xB8, 0xB9, 0xBA)
F64_PROMOTE_F32 = 0xBB
I32_REINTERPRET_F32, I64_REINTERPRET_F64, F32_REINTERPRET_I32, F64_REINTERPRET_I64 = (
    0xBC, 0xBD, 0xBE, 0xBF)
I32_EXTEND8_S, I32_EXTEND16_S, I64_EXTEND8_S, I64_EXTEND16_S, I64_EXTEND32_S = (
    0xC0, 0xC1, 0xC2, 0xC3, 0xC4)
PREFIX_FC = 0xFC
# 0xFC-prefixed: saturating truncations, memory.fill, and the wide-arithmetic proposal.
I32_TRUNC_SAT_F32_S, I32_TRUNC_SAT_F32_U, I32_TRUNC_SAT_F64_S, I32_TRUNC_SAT_F64_U = 0, 1, 2, 3
I64_TRUNC_SAT_F32_S, I64_TRUNC_SAT_F32_U, I64_TRUNC_SAT_F64_S, I64_TRUNC_SAT_F64_U = 4, 5, 6, 7
MEMORY_COPY, MEMORY_FILL = 10, 11   # 0xFC; immediates: the memory indices (to, from)
MEMORY_SIZE, MEMORY_GROW = 0x3F, 0x40
I64_MUL_WIDE_S, I64_MUL_WIDE_U = 21, 22
PREFIX_FD = 0xFD
# 0xFD-prefixed: the SIMD and relaxed-SIMD proposals' operations MVVM uses (a scalar
# fused multiply-add is a relaxed_madd on splats, extracting lane 0; the translator's
# loop idioms and lanes the rest).
F32X4_SPLAT, F64X2_SPLAT, F32X4_EXTRACT_LANE, F64X2_EXTRACT_LANE = 0x13, 0x14, 0x1F, 0x21
F32X4_RELAXED_MADD, F64X2_RELAXED_MADD = 0x105, 0x107
V128_LOAD, V128_STORE = 0x00, 0x0B    # their memargs as scalar accesses' (Code.simd_mem)
V128_LOAD16X4_S, V128_LOAD16X4_U, V128_LOAD32_ZERO = 0x03, 0x04, 0x5C
I32X4_EXTRACT_LANE, I32X4_REPLACE_LANE, I64X2_EXTRACT_LANE, I64X2_REPLACE_LANE = (
    0x1B, 0x1C, 0x1D, 0x1E)
I16X8_EXTEND_LOW_I8X16_S, I16X8_EXTEND_LOW_I8X16_U = 0x87, 0x89
I32X4_EXTEND_LOW_I16X8_S, I32X4_EXTEND_LOW_I16X8_U = 0xA7, 0xA9
I8X16_EQ, I8X16_ALL_TRUE, I8X16_MIN_U = 0x23, 0x63, 0x77
V128_AND, V128_OR, V128_XOR = 0x4E, 0x50, 0x51
I32X4_SPLAT, I64X2_SPLAT = 0x11, 0x12
I32X4_SHL, I32X4_SHR_S, I32X4_SHR_U, I32X4_ADD, I32X4_SUB, I32X4_MUL = (
    0xAB, 0xAC, 0xAD, 0xAE, 0xB1, 0xB5)
I64X2_GT_S, V128_ANY_TRUE = 0xD9, 0x53
I64X2_SHL, I64X2_SHR_S, I64X2_SHR_U, I64X2_ADD, I64X2_SUB, I64X2_MUL = (
    0xCB, 0xCC, 0xCD, 0xCE, 0xD1, 0xD5)
F64X2_NEG, F64X2_ADD, F64X2_SUB, F64X2_MUL, F64X2_DIV = 0xED, 0xF0, 0xF1, 0xF2, 0xF3
F64X2_RELAXED_NMADD = 0x108
PREFIX_FE = 0xFE
# 0xFE-prefixed: the threads proposal's atomics (`Code.atomic` writes the memarg, whose
# alignment must be the natural one), and atomic.fence (`Code.atomic_fence`).
ATOMIC_FENCE = 0x03
I32_ATOMIC_LOAD, I64_ATOMIC_LOAD = 0x10, 0x11
I32_ATOMIC_LOAD8_U, I32_ATOMIC_LOAD16_U = 0x12, 0x13
I64_ATOMIC_LOAD8_U, I64_ATOMIC_LOAD16_U, I64_ATOMIC_LOAD32_U = 0x14, 0x15, 0x16
I32_ATOMIC_STORE, I64_ATOMIC_STORE = 0x17, 0x18
I32_ATOMIC_STORE8, I32_ATOMIC_STORE16 = 0x19, 0x1A
I64_ATOMIC_STORE8, I64_ATOMIC_STORE16, I64_ATOMIC_STORE32 = 0x1B, 0x1C, 0x1D
I32_ATOMIC_RMW_ADD, I64_ATOMIC_RMW_ADD = 0x1E, 0x1F
I32_ATOMIC_RMW_SUB, I64_ATOMIC_RMW_SUB = 0x25, 0x26
I32_ATOMIC_RMW_AND, I64_ATOMIC_RMW_AND = 0x2C, 0x2D
I32_ATOMIC_RMW_OR, I64_ATOMIC_RMW_OR = 0x33, 0x34
I32_ATOMIC_RMW_XOR, I64_ATOMIC_RMW_XOR = 0x3A, 0x3B
I32_ATOMIC_RMW_XCHG, I64_ATOMIC_RMW_XCHG = 0x41, 0x42
I32_ATOMIC_RMW_CMPXCHG, I64_ATOMIC_RMW_CMPXCHG = 0x48, 0x49
# log2 of each atomic access's width: its natural alignment, the only one wasm accepts.
ATOMIC_ALIGN = {
    I32_ATOMIC_LOAD: 2, I64_ATOMIC_LOAD: 3, I32_ATOMIC_LOAD8_U: 0, I32_ATOMIC_LOAD16_U: 1,
    I64_ATOMIC_LOAD8_U: 0, I64_ATOMIC_LOAD16_U: 1, I64_ATOMIC_LOAD32_U: 2,
    I32_ATOMIC_STORE: 2, I64_ATOMIC_STORE: 3, I32_ATOMIC_STORE8: 0, I32_ATOMIC_STORE16: 1,
    I64_ATOMIC_STORE8: 0, I64_ATOMIC_STORE16: 1, I64_ATOMIC_STORE32: 2,
    **{op: 2 for op in (I32_ATOMIC_RMW_ADD, I32_ATOMIC_RMW_SUB, I32_ATOMIC_RMW_AND,
                        I32_ATOMIC_RMW_OR, I32_ATOMIC_RMW_XOR, I32_ATOMIC_RMW_XCHG,
                        I32_ATOMIC_RMW_CMPXCHG)},
    **{op: 3 for op in (I64_ATOMIC_RMW_ADD, I64_ATOMIC_RMW_SUB, I64_ATOMIC_RMW_AND,
                        I64_ATOMIC_RMW_OR, I64_ATOMIC_RMW_XOR, I64_ATOMIC_RMW_XCHG,
                        I64_ATOMIC_RMW_CMPXCHG)},
}


_ONE_BYTE = [bytes([v]) for v in range(128)]


CALL_INDEX_BYTES = 5        # a u32 in LEB128 at its longest


def _padded_uleb(value: int) -> bytes:
    """value in CALL_INDEX_BYTES of LEB128, every byte but the last with its high bit."""
    groups = [value >> (7 * k) & 0x7F for k in range(CALL_INDEX_BYTES)]
    return bytes(group | 0x80 for group in groups[:-1]) + bytes(groups[-1:])


def uleb(value: int) -> bytes:
    """Unsigned LEB128 (most values the translator writes fit one byte: a table)."""
    if value < 128:
        return _ONE_BYTE[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(value: int) -> bytes:
    """Signed LEB128 (value may be any Python int in the type's range)."""
    if 0 <= value < 64:
        return _ONE_BYTE[value]
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte if done else byte | 0x80)
        if done:
            return bytes(out)


def vector(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def encode_name(text: str) -> bytes:
    raw = text.encode()
    return uleb(len(raw)) + raw


class Code(bytearray):
    """A function body under construction: instructions appended as bytes, and the
    branches marked likely or not (`hint`)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.hints: list[tuple[int, bool]] = []     # (offset of an if or br_if, likely)

    def hint(self, likely: bool) -> Code:
        """Say whether the branch that comes next (an `if` or a `br_if`) is taken nearly
        always or nearly never, for the branch-hinting section: Cranelift then lays the
        other side out as cold code past the function's hot code."""
        self.hints.append((len(self), likely))
        return self

    def then(self, code: Code) -> Code:
        """Append code with its hints."""
        self.hints += [(len(self) + offset, likely) for offset, likely in code.hints]
        self.extend(code)
        return self

    def op(self, *opcodes: int) -> Code:
        self.extend(opcodes)
        return self

    def fc(self, sub: int) -> Code:
        self.append(PREFIX_FC)
        self.extend(uleb(sub))
        return self

    def simd(self, sub: int, *lane: int) -> Code:
        """A 0xFD-prefixed operation; extract_lane takes its lane index."""
        self.append(PREFIX_FD)
        self.extend(uleb(sub))
        self.extend(lane)
        return self

    def simd_mem(self, sub: int, memory: int = 0, offset: int = 0) -> Code:
        """A 0xFD-prefixed load or store (v128.load) with its memarg."""
        self.append(PREFIX_FD)
        self.extend(uleb(sub))
        return self._memarg(memory, offset, 0)

    def i32_const(self, value: int) -> Code:
        value &= 0xFFFFFFFF
        self.append(I32_CONST)
        self.extend(sleb(value - (1 << 32) if value >> 31 else value))
        return self

    def i64_const(self, value: int) -> Code:
        value &= 0xFFFFFFFFFFFFFFFF
        self.append(I64_CONST)
        self.extend(sleb(value - (1 << 64) if value >> 63 else value))
        return self

    def get(self, local: int) -> Code:
        self.append(LOCAL_GET)
        self.extend(uleb(local))
        return self

    def set(self, local: int) -> Code:
        self.append(LOCAL_SET)
        self.extend(uleb(local))
        return self

    def tee(self, local: int) -> Code:
        self.append(LOCAL_TEE)
        self.extend(uleb(local))
        return self

    def mem(self, opcode: int, memory: int = 0, offset: int = 0, align: int = 0) -> Code:
        """A load or store; with memory != 0 the memarg carries the multi-memory index."""
        self.append(opcode)
        return self._memarg(memory, offset, align)

    def _memarg(self, memory: int, offset: int, align: int) -> Code:
        if memory:
            self.extend(uleb(align | 0x40))
            self.extend(uleb(memory))
        else:
            self.extend(uleb(align))
        self.extend(uleb(offset))
        return self

    def atomic(self, sub: int, memory: int = 0, offset: int = 0) -> Code:
        """A 0xFE-prefixed atomic access; its memarg has the natural alignment, since wasm
        rejects any other (and traps at run time on an address that is not aligned)."""
        self.append(PREFIX_FE)
        self.extend(uleb(sub))
        return self._memarg(memory, offset, ATOMIC_ALIGN[sub])

    def atomic_fence(self) -> Code:
        """atomic.fence: a sequentially consistent fence (its one immediate byte is 0)."""
        self.append(PREFIX_FE)
        self.append(ATOMIC_FENCE)
        self.append(0)
        return self

    def block(self, opcode: int, result: int = VOID) -> Code:
        self.append(opcode)
        self.append(result)
        return self

    def br(self, opcode: int, depth: int) -> Code:
        self.append(opcode)
        self.extend(uleb(depth))
        return self

    def call(self, func: int) -> Code:
        self.append(CALL)
        self.extend(uleb(func))
        return self

    def call_later(self) -> int:
        """A call whose function is chosen when the module is put together (`fill_call`):
        its index takes five bytes whatever it is (LEB128 padded with zero groups, which
        wasm accepts), so that filling it in moves no offset. Returns the index's offset."""
        self.append(CALL)
        self.extend(_padded_uleb(0))
        return len(self) - CALL_INDEX_BYTES

    def fill_call(self, offset: int, func: int) -> None:
        """Make the call at offset (from `call_later`) a call of func."""
        self[offset:offset + CALL_INDEX_BYTES] = _padded_uleb(func)

    def call_indirect(self, type_index: int, table: int = 0, tail: bool = False) -> Code:
        self.append(RETURN_CALL_INDIRECT if tail else CALL_INDIRECT)
        self.extend(uleb(type_index))
        self.extend(uleb(table))
        return self


class Function(NamedTuple):
    type_index: int
    locals: list[int]
    body: Code
    name: str = ""

    def encode(self) -> tuple[bytes, int]:
        """The encoded body and the offset of the first instruction within it."""
        header = self._locals_header()
        inner = header + bytes(self.body) + bytes([END])
        size = uleb(len(inner))
        return size + inner, len(size) + len(header)

    def branch_hints(self) -> bytes:
        """Its entries in the branch-hinting section: each hinted instruction's offset from
        the start of the locals (where the proposal counts from), a size of 1, the hint."""
        start = len(self._locals_header())
        return vector([uleb(start + offset) + b"\x01" + bytes([likely])
                       for offset, likely in self.body.hints])

    def _locals_header(self) -> bytes:
        runs: list[bytes] = []
        i = 0
        while i < len(self.locals):
            j = i
            while j < len(self.locals) and self.locals[j] == self.locals[i]:
                j += 1
            runs.append(uleb(j - i) + bytes([self.locals[i]]))
            i = j
        return vector(runs)


class Module:
    """Builds one module; `encode()` also reports where each function's code starts."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.types: list[bytes] = []
        self.imports: list[bytes] = []
        self.functions: list[Function] = []
        self.tables: list[bytes] = []
        self.memories: list[bytes] = []
        self.exports: list[bytes] = []
        self.imported_funcs = 0
        self.code_offsets: list[int] = []

    def type(self, params: tuple[int, ...], results: tuple[int, ...]) -> int:
        encoded = b"\x60" + vector([bytes([p]) for p in params]) + vector(
            [bytes([r]) for r in results])
        if encoded not in self.types:
            self.types.append(encoded)
        return self.types.index(encoded)

    def import_func(self, module: str, name: str, type_index: int) -> int:
        self.imports.append(encode_name(module) + encode_name(name) + b"\x00" + uleb(type_index))
        self.imported_funcs += 1
        return self.imported_funcs - 1

    def import_memory(self, module: str, name: str, minimum: int,
                      maximum: int | None = None, memory64: bool = False) -> None:
        self.imports.append(encode_name(module) + encode_name(name) + b"\x02"
                            + limits(minimum, maximum, memory64))

    def import_table(self, module: str, name: str, minimum: int) -> None:
        self.imports.append(encode_name(module) + encode_name(name) + b"\x01" + bytes([FUNCREF])
                            + limits(minimum, None))

    def memory(self, minimum: int, maximum: int | None = None, memory64: bool = False) -> None:
        self.memories.append(limits(minimum, maximum, memory64))

    def table(self, minimum: int) -> None:
        self.tables.append(bytes([FUNCREF]) + limits(minimum, None))

    def function(self, type_index: int, locals_: list[int], body: Code, name: str = "",
                 export: str | None = None) -> int:
        self.functions.append(Function(type_index, locals_, body, name))
        index = self.imported_funcs + len(self.functions) - 1
        if export is not None:
            self.export(export, EXPORT_FUNC, index)
        return index

    def export(self, name: str, kind: int, index: int) -> None:
        self.exports.append(encode_name(name) + bytes([kind]) + uleb(index))

    def encode(self) -> bytes:
        """The module's bytes; fills `code_offsets` with each body's first-instruction offset
        in the module, which is what wasmtime reports as a trap frame's module offset."""
        out = bytearray(b"\x00asm\x01\x00\x00\x00")
        section(out, 1, vector(self.types))
        section(out, 2, vector(self.imports))
        section(out, 3, vector([uleb(f.type_index) for f in self.functions]))
        section(out, 4, vector(self.tables))
        section(out, 5, vector(self.memories))
        section(out, 7, vector(self.exports))
        hinted = [uleb(self.imported_funcs + i) + f.branch_hints()
                  for i, f in enumerate(self.functions) if f.body.hints]
        if hinted:
            section(out, 0, encode_name("metadata.code.branch_hint") + vector(hinted))
        bodies = [f.encode() for f in self.functions]
        payload = uleb(len(bodies))
        start = len(out) + 1 + len(uleb(len(payload) + sum(len(b) for b, _ in bodies)))
        self.code_offsets = []
        position = start + len(payload)
        for body, first in bodies:
            self.code_offsets.append(position + first)
            position += len(body)
        section(out, 10, payload + b"".join(b for b, _ in bodies))
        section(out, 0, encode_name("name") + self._names())
        return bytes(out)

    def _names(self) -> bytes:
        sub = b""
        if self.name:
            sub += b"\x00" + sized(encode_name(self.name))
        named = [uleb(self.imported_funcs + i) + encode_name(f.name)
                 for i, f in enumerate(self.functions) if f.name]
        if named:
            sub += b"\x01" + sized(vector(named))
        return sub


def limits(minimum: int, maximum: int | None, memory64: bool = False) -> bytes:
    """A limits type; memory64 marks a memory with a 64-bit index (flag 0x04)."""
    index = 0x04 if memory64 else 0
    if maximum is None:
        return bytes([index]) + uleb(minimum)
    return bytes([index | 1]) + uleb(minimum) + uleb(maximum)


def sized(payload: bytes) -> bytes:
    return uleb(len(payload)) + payload


def section(out: bytearray, section_id: int, payload: bytes) -> None:
    if section_id != 0 and payload in (b"\x00", b""):
        return
    out.append(section_id)
    out.extend(sized(payload))
