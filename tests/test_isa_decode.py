"""Properties of the instruction table and the decoder, and field extraction of tricky encodings.

The expected field values below were checked against the GNU assembler's encodings.
"""

from __future__ import annotations

import itertools

import pytest

from mvvm.isa import TABLE, Flow, InsnSpec, decode, disasm


def test_row_names_are_unique() -> None:
    names = [spec.name for spec in TABLE]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("spec", TABLE, ids=lambda s: s.name)
def test_row_decodes_from_its_match_bits(spec: InsnSpec) -> None:
    """Its match bits, and its operand fields all ones where that is another (more specific)
    row's match: packw with rs2 = x0 is zext.h."""
    assert spec.match & ~spec.mask == 0
    for word in (spec.match, spec.match | (0xFFFFFFFF & ~spec.mask & 0x01FFFF80)):
        instr = decode(word)
        if instr is not None and instr.spec is spec:
            break
    assert instr is not None and instr.spec is spec and instr.length == 4


def test_rows_overlap_only_where_one_is_more_specific() -> None:
    """Two rows that can match the same word must nest, so "most specific first" is defined."""
    for a, b in itertools.combinations(TABLE, 2):
        if (a.match ^ b.match) & a.mask & b.mask == 0:
            assert a.mask != b.mask and a.mask & b.mask in (a.mask, b.mask), (a.name, b.name)


@pytest.mark.parametrize("raw", [
    0x0000,  # all zero: c.addi4spn with nzuimm=0, the defined illegal instruction
    0x001C,  # c.addi4spn s1,sp,0
    0x2001,  # c.addiw zero
    0x6101,  # c.addi16sp sp,0
    0x6501,  # c.lui a0,0
    0x4002,  # c.lwsp zero
    0x6002,  # c.ldsp zero
    0x8002,  # c.jr zero
    0x9000,  # quadrant 0, funct3 100, funct3' 100: reserved in Zcb
    0x9C79,  # c.zext.b's group, funct 110: reserved in Zcb
    0x9C7D,  # ... funct 111
    0x0005200F,  # cbo.inval: not for user code under Linux
    0x0000001F, 0x0000003F, 0x0000007F,  # 48-bit and longer instructions
    0x02C5D553,  # fadd.d with rm=5
    0x02C5E553,  # fadd.d with rm=6
    0xFFFFFFFF,
])
def test_reserved_and_unknown_encodings_decode_to_none(raw: int) -> None:
    assert decode(raw) is None


@pytest.mark.parametrize(("raw", "name", "fields"), [
    (0x0005, "addi", {"rd": 0, "rs1": 0, "imm": 1}),  # c.nop 1
    (0x4001, "addi", {"rd": 0, "rs1": 0, "imm": 0}),  # c.li zero,0
    (0x0102, "slli", {"rd": 2, "rs1": 2, "imm": 0}),  # c.slli64 sp
    (0x6005, "lui", {"rd": 0, "imm": 0x1000}),  # c.lui zero,1
    (0x8006, "add", {"rd": 0, "rs1": 0, "rs2": 1}),  # c.mv zero,ra
    (0x0101, "addi", {"rd": 2, "rs1": 2, "imm": 0}),  # c.addi sp,0
])
def test_compressed_hints_decode_as_their_base_instruction(
        raw: int, name: str, fields: dict[str, int]) -> None:
    assert_decodes(raw, name, fields, length=2)


def assert_decodes(raw: int, name: str, fields: dict[str, int | bool], length: int = 4) -> None:
    instr = decode(raw)
    assert instr is not None and instr.name == name and instr.length == length
    assert instr.raw == raw & (0xFFFF if length == 2 else 0xFFFFFFFF)
    all_fields = dict.fromkeys(("rd", "rs1", "rs2", "rs3", "imm", "csr", "rm"), 0)
    all_fields |= dict.fromkeys(("aq", "rl"), False)
    assert {k: getattr(instr, k) for k in all_fields} == all_fields | fields


@pytest.mark.parametrize(("raw", "name", "fields"), [
    (0x7101, "addi", {"rd": 2, "rs1": 2, "imm": -512}),  # c.addi16sp sp,-512
    (0x617D, "addi", {"rd": 2, "rs1": 2, "imm": 496}),  # c.addi16sp sp,496
    (0x7501, "lui", {"rd": 10, "imm": -0x20000}),  # c.lui a0,0xfffe0
    (0x657D, "lui", {"rd": 10, "imm": 0x1F000}),  # c.lui a0,0x1f
    (0x1FE0, "addi", {"rd": 8, "rs1": 2, "imm": 1020}),  # c.addi4spn s0,sp,1020
    (0x357E, "fld", {"rd": 10, "rs1": 2, "imm": 504}),  # c.fldsp fa0,504(sp)
    (0xE406, "sd", {"rs1": 2, "rs2": 1, "imm": 8}),  # c.sdsp ra,8(sp)
    (0x5DE8, "lw", {"rd": 10, "rs1": 11, "imm": 124}),  # c.lw a0,124(a1)
    (0x997D, "andi", {"rd": 10, "rs1": 10, "imm": -1}),  # c.andi a0,-1
    (0x957D, "srai", {"rd": 10, "rs1": 10, "imm": 63}),  # c.srai a0,63
    (0xB001, "jal", {"imm": -2048}),  # c.j .-2048
    (0xAFFD, "jal", {"imm": 2046}),  # c.j .+2046
    (0xD101, "beq", {"rs1": 10, "imm": -256}),  # c.beqz a0,.-256
    (0xED7D, "bne", {"rs1": 10, "imm": 254}),  # c.bnez a0,.+254
    (0x9782, "jalr", {"rd": 1, "rs1": 15}),  # c.jalr a5
    (0x8082, "jalr", {"rs1": 1}),  # c.jr ra (ret)
    (0x852E, "add", {"rd": 10, "rs2": 11}),  # c.mv a0,a1
    (0x800000EF, "jal", {"rd": 1, "imm": -0x100000}),
    (0x7FFFF06F, "jal", {"imm": 0xFFFFE}),
    (0x0010036F, "jal", {"rd": 6, "imm": 2048}),
    (0x80B50063, "beq", {"rs1": 10, "rs2": 11, "imm": -4096}),
    (0x7EB51FE3, "bne", {"rs1": 10, "rs2": 11, "imm": 4094}),
    (0x00B560E3, "bltu", {"rs1": 10, "rs2": 11, "imm": 2048}),
    (0xFFFFF597, "auipc", {"rd": 11, "imm": -4096}),
    (0x80000537, "lui", {"rd": 10, "imm": -0x80000000}),
    (0x003FD573, "csrrwi", {"rd": 10, "csr": 3, "imm": 31}),  # csrrwi a0,fcsr,31
    (0xFFF0F073, "csrrci", {"csr": 0xFFF, "imm": 1}),
    (0xC0002573, "csrrs", {"rd": 10, "csr": 0xC00}),  # rdcycle a0
    (0xC2059553, "fcvt.w.d", {"rd": 10, "rs1": 11, "rm": 1}),  # rtz
    (0x02C5F553, "fadd.d", {"rd": 10, "rs1": 11, "rs2": 12, "rm": 7}),  # dynamic
    (0xDAC5C543, "fmadd.d", {"rd": 10, "rs1": 11, "rs2": 12, "rs3": 27, "rm": 4}),
    (0xFE113C23, "sd", {"rs1": 2, "rs2": 1, "imm": -8}),
    (0x7EA5AFA3, "sw", {"rs1": 11, "rs2": 10, "imm": 2047}),
    (0x0330000F, "fence", {"imm": 0x033}),  # fence rw,rw
    (0x8330000F, "fence", {"imm": 0x833}),  # fence.tso
    (0x0100000F, "fence", {"imm": 0x010}),  # pause
    (0x03F59513, "slli", {"rd": 10, "rs1": 11, "imm": 63}),
    (0x01F5951B, "slliw", {"rd": 10, "rs1": 11, "imm": 31}),
    (0x6215D513, "rori", {"rd": 10, "rs1": 11, "imm": 33}),
    (0x6B85D513, "rev8", {"rd": 10, "rs1": 11}),
    (0x0805C53B, "zext.h", {"rd": 10, "rs1": 11}),
    (0x06C5B52F, "amoadd.d", {"rd": 10, "rs1": 11, "rs2": 12, "aq": True, "rl": True}),
    (0x1405A52F, "lr.w", {"rd": 10, "rs1": 11, "aq": True}),
])
def test_field_extraction(raw: int, name: str, fields: dict[str, int | bool]) -> None:
    assert_decodes(raw, name, fields, length=2 if raw & 3 != 3 else 4)


def test_compressed_decode_ignores_the_upper_half_and_is_cached() -> None:
    assert decode(0xDEAD4501) is decode(0x4501)
    assert decode(0x00A58533) is decode(0x00A58533)


@pytest.mark.parametrize(("raw", "flow"), [
    (0x0000006F, Flow.JAL), (0xA001, Flow.JAL),  # j ., c.j .
    (0x00078067, Flow.JALR), (0x8082, Flow.JALR), (0x9782, Flow.JALR),
    (0x00B50063, Flow.BRANCH), (0xC101, Flow.BRANCH),
    (0x00100073, Flow.TRAP), (0x9002, Flow.TRAP),  # ebreak, c.ebreak
    (0x00000073, Flow.NEXT), (0x0000100F, Flow.NEXT), (0x00A58533, Flow.NEXT),
])
def test_control_flow(raw: int, flow: Flow) -> None:
    instr = decode(raw)
    assert instr is not None and instr.spec.flow is flow


# Zcb and Zcmop, which neither binutils 2.40, qemu 7.2 nor Unicorn has: each form's
# expansion, as the Zc spec defines it (the 16-bit words of tests/isa/all.S).
ZC_EXPANSIONS = {
    0x81E8: "lbu\ta0,3(a1)", 0x85A8: "lhu\ta0,2(a1)", 0x85E8: "lh\ta0,2(a1)",
    0x89E8: "sb\ta0,3(a1)", 0x8DA8: "sh\ta0,2(a1)", 0x9D4D: "mul\ta0,a0,a1",
    0x9D61: "zext.b\ta0,a0", 0x9D65: "sext.b\ta0,a0", 0x9D69: "zext.h\ta0,a0",
    0x9D6D: "sext.h\ta0,a0", 0x9D71: "zext.w\ta0,a0", 0x9D75: "not\ta0,a0",
    **{0x6001 | n << 7: "nop" for n in range(1, 16, 2)},       # c.mop.n: writes nothing
}


@pytest.mark.parametrize("word", ZC_EXPANSIONS, ids=hex)
def test_zcb_and_zcmop_expansions(word: int) -> None:
    instr = decode(word)
    assert instr is not None and instr.length == 2
    assert disasm(instr, 0) == ZC_EXPANSIONS[word]
