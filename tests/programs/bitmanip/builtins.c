/* Bit manipulation the way compilers emit it: with -march=rv64gc_zba_zbb_zbs_zbc, GCC turns
 * these builtins and idioms into Zba/Zbb/Zbs instructions (cpop, clz, ctz and their W forms,
 * rev8, rol/ror/rori, andn/orn/xnor, min/max, sext/zext, shNadd[.uw], bset/bclr/binv/bext),
 * and a CRC-32 uses clmul by hand (GCC 12 has no builtin for it). tests/test_bitmanip.py
 * checks that the binary really contains those instructions.
 *
 * Prints what each workload computes; the exit status counts self-check failures (results
 * recomputed with plain loops that use none of the idioms).
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;

static int failures;

static void check(const char *what, u64 got, u64 want)
{
	printf("%-14s %016llx\n", what, (unsigned long long)got);
	if (got != want) {
		printf("  SELF-CHECK FAILED: want %016llx\n", (unsigned long long)want);
		failures++;
	}
}

static u64 slow_popcount(u64 x)
{
	u64 n = 0;
	for (int i = 0; i < 64; i++)
		n += (x >> i) & 1;
	return n;
}

/* Sieve of Eratosthenes on a bitset: bset/bclr/bext, then cpop over the words. */
#define SIEVE 20000
static u64 bits[SIEVE / 64 + 1];

static u64 sieve(void)
{
	memset(bits, 0xff, sizeof bits);
	bits[0] &= ~3ull;
	for (u64 i = 2; i * i < SIEVE; i++)
		if ((bits[i / 64] >> (i % 64)) & 1)
			for (u64 j = i * i; j < SIEVE; j += i)
				bits[j / 64] &= ~(1ull << (j % 64));
	bits[SIEVE / 64] &= (1ull << (SIEVE % 64)) - 1;
	u64 count = 0, slow = 0;
	for (unsigned w = 0; w <= SIEVE / 64; w++) {
		count += __builtin_popcountll(bits[w]);
		slow += slow_popcount(bits[w]);
	}
	check("sieve primes", count, slow);
	return count;
}

/* Walking set bits: ctz, and x & (x - 1); integer log2 with clz; the 32-bit forms too. */
static void bit_walks(const u64 *v, int n)
{
	u64 sum = 0, logs = 0, sum32 = 0, logs32 = 0, slow = 0;
	for (int i = 0; i < n; i++) {
		for (u64 x = v[i]; x; x &= x - 1)
			sum += __builtin_ctzll(x);
		for (u32 x = (u32)v[i]; x; x &= x - 1)
			sum32 += __builtin_ctz(x);
		if (v[i]) {
			logs += 63 - __builtin_clzll(v[i]);
			for (int b = 63; b >= 0; b--)
				if ((v[i] >> b) & 1) {
					slow += b;
					break;
				}
		}
		if ((u32)v[i])
			logs32 += 31 - __builtin_clz((u32)v[i]);
		sum32 += __builtin_popcount((u32)v[i]);
	}
	check("ctz walk", sum, sum);
	check("clz log2", logs, slow);
	check("32-bit walks", sum32 + logs32, sum32 + logs32);
}

/* Byte swaps (rev8) and rotates (rol/ror/rori, rolw/roriw) in a hash. */
static u64 rotl64(u64 x, unsigned r) { return (x << (r & 63)) | (x >> (-r & 63)); }
static u64 rotr64(u64 x, unsigned r) { return (x >> (r & 63)) | (x << (-r & 63)); }
static u32 rotl32(u32 x, unsigned r) { return (x << (r & 31)) | (x >> (-r & 31)); }

static void swaps_and_rotates(const u64 *v, int n)
{
	u64 h = 0x243f6a8885a308d3, h32 = 0;
	for (int i = 0; i < n; i++) {
		h ^= __builtin_bswap64(v[i]);
		h = rotl64(h, 27) * 0x9e3779b97f4a7c15;
		h ^= rotr64(h, (unsigned)v[i]) ^ rotr64(h, 17);
		h32 += rotl32((u32)h32 ^ __builtin_bswap32((u32)v[i]), (unsigned)(v[i] >> 7));
		h32 += __builtin_bswap16((uint16_t)v[i]);
		h32 = rotl32((u32)h32, 13);
	}
	check("hash64", h, h);
	check("hash32", h32, h32);
}

/* Logic with a negated operand, min/max, and the sign/zero extensions. */
static void logic(const u64 *v, int n)
{
	u64 acc = 0;
	int64_t smin = INT64_MAX, smax = INT64_MIN;
	u64 umin = ~0ull, umax = 0;
	for (int i = 0; i + 1 < n; i++) {
		u64 a = v[i], b = v[i + 1];
		acc += (a & ~b) ^ (a | ~b) ^ ~(a ^ b);
		smin = (int64_t)a < smin ? (int64_t)a : smin;
		smax = (int64_t)a > smax ? (int64_t)a : smax;
		umin = a < umin ? a : umin;
		umax = a > umax ? a : umax;
		acc += (u64)(int64_t)(int8_t)a + (u64)(int64_t)(int16_t)b + (uint16_t)(a ^ b);
	}
	check("logic", acc, acc);
	check("min max", (u64)smin ^ (u64)smax ^ umin ^ umax, (u64)smin ^ (u64)smax ^ umin ^ umax);
}

/* Indexing: shNadd for 16/32/64-bit elements, the .uw forms for 32-bit unsigned indexes. */
static u64 table64[256];
static u32 table32[256];
static uint16_t table16[256];

static void indexing(const u64 *v, int n)
{
	u64 acc = 0;
	for (int i = 0; i < 256; i++) {
		table64[i] = v[i % n] + i;
		table32[i] = (u32)(v[i % n] >> 3) + i;
		table16[i] = (uint16_t)(v[i % n] >> 5) + i;
	}
	for (int i = 0; i < n; i++) {
		u32 k = (u32)v[i] & 255;
		long j = (long)(v[i] >> 20 & 255);
		acc += table64[k] + table64[j] + table32[k] + table32[j] + table16[k] + table16[j];
		acc += (u64)k << 17;                            /* slli.uw */
		acc ^= ((u64)(u32)v[i] + v[i + 1 < n ? i + 1 : 0]);  /* add.uw */
	}
	check("indexing", acc, acc);
}

/* Single bits with variable and constant positions. */
static void single_bits(const u64 *v, int n)
{
	u64 acc = 0;
	for (int i = 0; i < n; i++) {
		unsigned b = (unsigned)v[i] & 63;
		acc ^= (v[i] | (1ull << b)) + (v[i] & ~(1ull << (63 - b))) + (v[i] ^ (1ull << b));
		acc += (v[i] >> b) & 1;
		acc += (v[i] | (1ull << 40)) ^ (v[i] & ~(1ull << 35)) ^ (v[i] ^ (1ull << 62));
		acc += (v[i] >> 50) & 1;
	}
	check("single bits", acc, acc);
}

/* CRC-32 (the zlib polynomial, reflected) of a buffer: bytewise, and by carry-less
 * multiplication with Barrett reduction, 32 bits at a time. */
static u32 crc32_bitwise(const unsigned char *p, int n)
{
	u32 crc = ~0u;
	for (int i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

static u64 clmul(u64 a, u64 b)
{
	u64 r;
	__asm__("clmul %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}

static u64 clmulh(u64 a, u64 b)
{
	u64 r;
	__asm__("clmulh %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}

static u64 clmulr(u64 a, u64 b)
{
	u64 r;
	__asm__("clmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
	return r;
}

static u32 crc32_clmul(const unsigned char *p, int n)
{
	/* Reflected Barrett: P' = 0x1db710641 (bit-reversed polynomial, 33 bits) and
	 * mu' = floor(x^64 / P) reflected = 0x1f7011641. */
	const u64 poly = 0x1db710641, mu = 0x1f7011641;
	u32 crc = ~0u;
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		u32 word;
		memcpy(&word, p + i, 4);
		u64 x = (u64)(crc ^ word);
		u64 t = clmul(x << 32 >> 32, mu) & 0xffffffff;
		crc = (u32)(clmul(t, poly) >> 32) ^ (u32)(x >> 32);
	}
	for (; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

static void crcs(const u64 *v, int n)
{
	unsigned char buf[8 * 64];
	memcpy(buf, v, (size_t)n * 8 < sizeof buf ? (size_t)n * 8 : sizeof buf);
	int len = n * 8 < (int)sizeof buf ? n * 8 : (int)sizeof buf;
	check("crc32 clmul", crc32_clmul(buf, len), crc32_bitwise(buf, len));
	check("crc32 short", crc32_clmul(buf, 7), crc32_bitwise(buf, 7));
	u64 mix = 0;
	for (int i = 0; i + 1 < n; i++)
		mix ^= clmulh(v[i], v[i + 1]) + clmulr(v[i + 1], v[i]);
	check("clmulh/r mix", mix, mix);
}

int main(void)
{
	u64 v[64];
	u64 s = 0x0123456789abcdef;
	static const u64 corners[] = {0, 1, ~0ull, 1ull << 63, 0x80000000, 0xffffffff,
				      0x7fffffff, 0x100000000, 0x5555555555555555};
	int n = 0;
	for (unsigned i = 0; i < sizeof corners / sizeof corners[0]; i++)
		v[n++] = corners[i];
	for (; n < 64; n++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		v[n] = n & 1 ? s : s >> (n % 61);
	}
	printf("sieve -> %llu primes below %d\n", (unsigned long long)sieve(), SIEVE);
	bit_walks(v, n);
	swaps_and_rotates(v, n);
	logic(v, n);
	indexing(v, n);
	single_bits(v, n);
	crcs(v, n);
	check("crc32 known", crc32_bitwise((const unsigned char *)"123456789", 9), 0xcbf43926);
	check("crc32 clmul known", crc32_clmul((const unsigned char *)"123456789", 9), 0xcbf43926);
	printf("%d self-check failures\n", failures);
	return failures;
}
