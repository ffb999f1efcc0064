/* Every Zbkb and Zbkx instruction that Zbb does not have, through inline assembly, over
 * corner operands (see harness.h). qemu 7.2 runs them with -cpu rv64,zbkb=true,zbkx=true.
 *
 * Build: -march=rv64gc_zba_zbb_zbs_zbc_zbkb_zbkx.
 */
#include "harness.h"

RR(i_pack, "pack") RR(i_packh, "packh") RR(i_packw, "packw") R1(i_brev8, "brev8")
RR(i_xperm4, "xperm4") RR(i_xperm8, "xperm8")

static u64 m_pack(u64 a, u64 b) { return zext32(a) | b << 32; }
static u64 m_packh(u64 a, u64 b) { return (a & 0xff) | (b & 0xff) << 8; }
static u64 m_packw(u64 a, u64 b) { return sext32((a & 0xffff) | (b & 0xffff) << 16); }
static u64 m_brev8(u64 a, u64 b)
{
	u64 r = 0;
	(void)b;
	for (int i = 0; i < 64; i++)
		if (a >> i & 1)
			r |= 1ull << (i / 8 * 8 + 7 - i % 8);
	return r;
}
static u64 xperm(u64 a, u64 b, int width)
{
	u64 mask = (1ull << width) - 1, r = 0;
	for (int i = 0; i < 64; i += width) {
		u64 index = b >> i & mask;
		if (index * width < 64)
			r |= (a >> (index * width) & mask) << i;
	}
	return r;
}
static u64 m_xperm4(u64 a, u64 b) { return xperm(a, b, 4); }
static u64 m_xperm8(u64 a, u64 b) { return xperm(a, b, 8); }

static const struct op OPS[] = {
	REG("pack", pack), REG("packh", packh), REG("packw", packw), REG("brev8", brev8),
	REG("xperm4", xperm4), REG("xperm8", xperm8),
};

int main(void)
{
	return run_ops(OPS, sizeof OPS / sizeof OPS[0], 0);
}
