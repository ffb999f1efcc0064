/* Zicond's two instructions, through inline assembly, over corner operands (see
 * harness.h). Neither binutils 2.40 nor qemu 7.2 has Zicond: the instructions are spelled
 * with .insn, and the C model, written from the spec, is the only reference.
 *
 * Build: -march=rv64gc.
 */
#include "harness.h"

/* czero.eqz rd, rs1, rs2: R-type, opcode OP, funct3 5 (eqz) or 7 (nez), funct7 0x07. */
RR(i_czero_eqz, ".insn r 0x33, 5, 7,") RR(i_czero_nez, ".insn r 0x33, 7, 7,")

static u64 m_czero_eqz(u64 a, u64 b) { return b == 0 ? 0 : a; }
static u64 m_czero_nez(u64 a, u64 b) { return b != 0 ? 0 : a; }

static const struct op OPS[] = { REG("czero.eqz", czero_eqz), REG("czero.nez", czero_nez) };

int main(void)
{
	return run_ops(OPS, sizeof OPS / sizeof OPS[0], 0);
}
