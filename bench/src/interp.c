/* interp: a stack-machine bytecode interpreter with a switch dispatch loop, the shape of
 * every scripting-language core: an indirect jump per operation that a branch predictor
 * and a translator both find hard.  The bytecode sums the Collatz stopping times of
 * 1..size and mixes them into a hash.  Self-check: the same computation written in C.
 */
#include "bench.h"

enum op {
    PUSH, LOAD, STORE, ADD, SUB, MUL, AND, OR, XOR, SHL, SHR, EQ, LT, GT,
    DUP, DROP, SWAP, OVER, NOT, NEG, JMP, JZ, JNZ, HALT
};

enum slot { TOTAL, HASH, I, N, X, STEPS, SLOTS };

typedef struct {
    int32_t code[256];
    int len;
} program;

static int emit(program *p, int op, int32_t arg)
{
    p->code[p->len++] = op;
    if (op == PUSH || op == LOAD || op == STORE || op >= JMP)
        p->code[p->len++] = arg;
    return p->len - 1; /* where the argument is, for patching a forward jump */
}

static int op0(program *p, int op) { return emit(p, op, 0); }

/* total, hash = 0, 0; for i in 1..n: x, steps = i, 0; while x != 1: x = x odd ? 3x+1 : x/2;
 * steps++; total += steps; hash = (hash << 5 ^ hash >> 59) ^ steps */
static void compile(program *p)
{
    emit(p, PUSH, 0), emit(p, STORE, TOTAL), emit(p, PUSH, 0), emit(p, STORE, HASH);
    emit(p, PUSH, 1), emit(p, STORE, I);
    int loop_i = p->len;
    emit(p, LOAD, I), emit(p, LOAD, N), op0(p, GT);
    int to_end = emit(p, JNZ, 0);
    emit(p, LOAD, I), emit(p, STORE, X), emit(p, PUSH, 0), emit(p, STORE, STEPS);
    int loop_x = p->len;
    emit(p, LOAD, X), emit(p, PUSH, 1), op0(p, EQ);
    int to_done = emit(p, JNZ, 0);
    emit(p, LOAD, X), emit(p, PUSH, 1), op0(p, AND);
    int to_even = emit(p, JZ, 0);
    emit(p, LOAD, X), op0(p, DUP), op0(p, DUP), op0(p, ADD), op0(p, ADD), emit(p, PUSH, 1);
    op0(p, ADD), emit(p, STORE, X);
    int to_next = emit(p, JMP, 0);
    p->code[to_even] = p->len;
    emit(p, LOAD, X), emit(p, PUSH, 1), op0(p, SHR), emit(p, STORE, X);
    p->code[to_next] = p->len;
    emit(p, LOAD, STEPS), emit(p, PUSH, 1), op0(p, ADD), emit(p, STORE, STEPS);
    emit(p, JMP, loop_x);
    p->code[to_done] = p->len;
    emit(p, LOAD, TOTAL), emit(p, LOAD, STEPS), op0(p, ADD), emit(p, STORE, TOTAL);
    emit(p, LOAD, HASH), op0(p, DUP), emit(p, PUSH, 5), op0(p, SHL), op0(p, SWAP);
    emit(p, PUSH, 59), op0(p, SHR), op0(p, XOR), emit(p, LOAD, STEPS), op0(p, XOR);
    emit(p, STORE, HASH);
    emit(p, LOAD, I), emit(p, PUSH, 1), op0(p, ADD), emit(p, STORE, I), emit(p, JMP, loop_i);
    p->code[to_end] = p->len;
    op0(p, HALT);
}

static void run(const program *p, int64_t *vars)
{
    int64_t stack[64];
    int sp = 0, pc = 0;
    for (;;) {
        int32_t op = p->code[pc++];
        switch (op) {
        case PUSH: stack[sp++] = p->code[pc++]; break;
        case LOAD: stack[sp++] = vars[p->code[pc++]]; break;
        case STORE: vars[p->code[pc++]] = stack[--sp]; break;
        case ADD: sp--, stack[sp - 1] += stack[sp]; break;
        case SUB: sp--, stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--, stack[sp - 1] *= stack[sp]; break;
        case AND: sp--, stack[sp - 1] &= stack[sp]; break;
        case OR: sp--, stack[sp - 1] |= stack[sp]; break;
        case XOR: sp--, stack[sp - 1] ^= stack[sp]; break;
        case SHL: sp--, stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] << stack[sp]); break;
        case SHR: sp--, stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> stack[sp]); break;
        case EQ: sp--, stack[sp - 1] = stack[sp - 1] == stack[sp]; break;
        case LT: sp--, stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case GT: sp--, stack[sp - 1] = stack[sp - 1] > stack[sp]; break;
        case DUP: stack[sp] = stack[sp - 1], sp++; break;
        case DROP: sp--; break;
        case SWAP: {
            int64_t t = stack[sp - 1];
            stack[sp - 1] = stack[sp - 2], stack[sp - 2] = t;
            break;
        }
        case OVER: stack[sp] = stack[sp - 2], sp++; break;
        case NOT: stack[sp - 1] = !stack[sp - 1]; break;
        case NEG: stack[sp - 1] = -stack[sp - 1]; break;
        case JMP: pc = p->code[pc]; break;
        case JZ: pc = stack[--sp] ? pc + 1 : p->code[pc]; break;
        case JNZ: pc = stack[--sp] ? p->code[pc] : pc + 1; break;
        case HALT: return;
        default:
            bench_check(0, "known opcode");
        }
    }
}

static void reference(int64_t n, int64_t *total, int64_t *hash)
{
    *total = *hash = 0;
    for (int64_t i = 1; i <= n; i++) {
        int64_t x = i, steps = 0;
        for (; x != 1; steps++)
            x = x & 1 ? 3 * x + 1 : x >> 1;
        *total += steps;
        *hash = (int64_t)((uint64_t)*hash << 5 ^ (uint64_t)*hash >> 59) ^ steps;
    }
}

int main(int argc, char **argv)
{
    int64_t vars[SLOTS] = {0}, total, hash;
    vars[N] = bench_size(argc, argv, 150000, 1);
    program p = {.len = 0};
    compile(&p);
    run(&p, vars);
    reference(vars[N], &total, &hash);
    bench_check(vars[TOTAL] == total && vars[HASH] == hash, "interpreter agrees with C");
    printf("interp collatz 1..%lld: total %lld hash %016llx\n", (long long)vars[N],
           (long long)total, (unsigned long long)hash);
    return 0;
}
