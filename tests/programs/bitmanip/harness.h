/* The harness of the bit-manipulation programs: each program runs its instructions (RR,
 * R1, RI wrap one in a function) through run_ops() beside C models written from the spec.
 * For each instruction and each first operand it prints a hash of the results over all
 * second operands (the output qemu and MVVM must agree on), and checks each result against
 * the model; run_ops() returns the number of model mismatches (capped at 100), the
 * program's exit status, so a run under qemu that does not end with 0 means the program or
 * qemu is wrong. */
#include <stdint.h>
#include <stdio.h>

typedef uint64_t u64;
typedef u64 (*op_fn)(u64, u64);

#define RR(fn, insn) static u64 fn(u64 a, u64 b) { \
	u64 r; __asm__ volatile(insn " %0, %1, %2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#define R1(fn, insn) static u64 fn(u64 a, u64 b) { \
	u64 r; (void)b; __asm__ volatile(insn " %0, %1" : "=r"(r) : "r"(a)); return r; }
#define RI(fn, insn, sh) static u64 fn(u64 a, u64 b) { \
	u64 r; (void)b; __asm__ volatile(insn " %0, %1, " #sh : "=r"(r) : "r"(a)); return r; }

struct op {
	const char *name;
	op_fn insn;
	op_fn model;
	int imm;        /* -1: register form; else the immediate, passed to the model as b */
};

#define REG(n, f) { n, i_##f, m_##f, -1 }
#define IMM(n, f, m, sh) { n " " #sh, i_##f##_##sh, m_##m, sh }

static u64 zext32(u64 x) { return x & 0xffffffffu; }
static u64 sext32(u64 x) { return (u64)(int64_t)(int32_t)(uint32_t)x; }

static const u64 CORNERS[] = {
	0, 1, 2, ~0ull, ~1ull, 1ull << 63, ~0ull >> 1, 0x80000000, 0x7fffffff, 0xffffffff,
	0x100000000, 0xffffffff80000000, 0x5555555555555555, 0xaaaaaaaaaaaaaaaa,
	0x0123456789abcdef, 0x00ff00000000ff00, 31, 32, 63, 64,
};
#define NCORNERS (sizeof CORNERS / sizeof CORNERS[0])
#define NRANDOM 12

static int run_ops(const struct op *ops, unsigned count, int (*skipped)(const struct op *, u64))
{
	u64 inputs[NCORNERS + NRANDOM];
	u64 seed = 0x9e3779b97f4a7c15;
	int n = 0, failures = 0;
	for (unsigned i = 0; i < NCORNERS; i++)
		inputs[n++] = CORNERS[i];
	while (n < (int)(sizeof inputs / sizeof inputs[0])) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		inputs[n++] = seed ^ seed >> 29;
	}
	for (unsigned k = 0; k < count; k++) {
		const struct op *op = &ops[k];
		for (int i = 0; i < n; i++) {
			u64 hash = 0xcbf29ce484222325;
			if (skipped && skipped(op, inputs[i]))
				continue;
			for (int j = 0; j < n; j++) {
				u64 b = op->imm >= 0 ? (u64)op->imm : inputs[j];
				u64 got = op->insn(inputs[i], inputs[j]), want = op->model(inputs[i], b);
				if (got != want && failures++ < 10)
					printf("MODEL MISMATCH %s %016llx %016llx: %016llx, model %016llx\n",
					       op->name, (unsigned long long)inputs[i],
					       (unsigned long long)b, (unsigned long long)got,
					       (unsigned long long)want);
				hash = (hash ^ got) * 0x100000001b3;
			}
			printf("%-12s %016llx %016llx\n", op->name, (unsigned long long)inputs[i],
			       (unsigned long long)hash);
		}
	}
	printf("%d model mismatches\n", failures);
	return failures > 100 ? 100 : failures;
}
